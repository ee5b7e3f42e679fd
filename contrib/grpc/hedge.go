package redressgrpc

import (
	"context"
	"strconv"

	"github.com/redress-go/redress/contrib/internal/wrapper"
	"github.com/redress-go/redress/core"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
)

// hedges reports whether the unary call hedges its attempts: its policy
// has a Hedger, the call is declared safe to repeat (its method in
// Config.Idempotent, or WithIdempotent) and its reply is a protobuf
// message (each hedge fills a copy of its own).
func (u *unaryRun) hedges(p *core.Policy) bool {
	if !p.Hedging() || !u.idempotent() {
		return false
	}
	_, ok := u.reply.(proto.Message)
	return ok
}

// hedgeCopy is what one copy of a hedged attempt received.
type hedgeCopy struct {
	reply   proto.Message // the first copy's is the caller's reply
	trailer metadata.MD
	err     error // the invoker's, unmarked
}

// hedgedInvoke makes the attempt s admitted as a hedged group: each copy
// goes through the rest of the chain with a reply and a trailer of its
// own (the first with the caller's reply), its error marked with the
// interceptor's classification so that the group tells an answer from a
// failure. The answer taken is copied into the caller's reply; the error
// the engine must see is returned.
func (u *unaryRun) hedgedInvoke(s *core.Step, mark bool) error {
	attempt := s.Attempt()
	reply := u.reply.(proto.Message)
	opts := u.opts[:len(u.opts)-1] // without the call's own grpc.Trailer
	c, _ := core.Hedged(s, func(ctx context.Context, hedge int) (*hedgeCopy, error) {
		hc := &hedgeCopy{reply: reply}
		if hedge > 0 {
			hc.reply = reply.ProtoReflect().New().Interface()
		}
		ctx = attemptMetadata(ctx, attempt, mark)
		o := append(append(make([]grpc.CallOption, 0, len(opts)+1), opts...), grpc.Trailer(&hc.trailer))
		hc.err = u.invoker(ctx, u.method, u.req, hc.reply, u.cc, o...)
		if hc.err == nil {
			return hc, nil
		}
		return hc, wrapper.Mark(hc.err, u.ic.classify(hc.err))
	}, nil)
	u.trailer = c.trailer
	if c.reply != reply && c.err == nil {
		proto.Reset(reply)
		proto.Merge(reply, c.reply)
	}
	if c.err == nil {
		s.SetRPCStatusCode("OK")
		return nil
	}
	return u.failed(s, c.err, c.trailer)
}

// attemptMetadata is attemptContext for a copy's context ctx of attempt
// attempt.
func attemptMetadata(ctx context.Context, attempt int, mark bool) context.Context {
	if attempt > 1 {
		return metadata.AppendToOutgoingContext(ctx, PreviousAttemptsKey, strconv.Itoa(attempt-1))
	}
	if mark {
		return metadata.AppendToOutgoingContext(ctx, AttemptMetadataKey, "1")
	}
	return ctx
}
