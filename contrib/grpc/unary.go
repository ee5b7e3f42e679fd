package redressgrpc

import (
	"context"
	"fmt"
	"sync"

	"github.com/redress-go/redress/core"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
)

// Unary returns the unary client interceptor. Each call runs under its
// policy: every attempt goes through the rest of the chain and the
// transport again, with grpc-previous-rpc-attempts set on retries; the
// reply message is filled by the attempt that succeeded.
func (ic *Interceptors) Unary() grpc.UnaryClientInterceptor {
	return ic.unary
}

// unaryRun is one unary call: a single allocation holds its state.
type unaryRun struct {
	run
	method  string
	req     any
	reply   any
	cc      *grpc.ClientConn
	invoker grpc.UnaryInvoker
	opts    []grpc.CallOption
	trailer metadata.MD
	optBuf  [4]grpc.CallOption
}

func (ic *Interceptors) unary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	o := parseCallOpts(opts)
	p := ic.policyFor(method, &o)
	if p == nil {
		return invoker(ctx, method, req, reply, cc, opts...)
	}
	u := unaryPool.Get().(*unaryRun)
	u.method, u.req, u.reply, u.cc, u.invoker = method, req, reply, cc, invoker
	u.opts = append(append(u.optBuf[:0], opts...), grpc.Trailer(&u.trailer))
	u.start(ctx, ic, p, method, cc, &o)
	err := u.finish(u.do(ctx, p))
	*u = unaryRun{} // nothing outlives the call
	unaryPool.Put(u)
	return err
}

// unaryPool recycles the state of unary calls: the success path allocates
// nothing of its own.
var unaryPool = sync.Pool{New: func() any { return new(unaryRun) }}

// do runs the call's attempts under p, its Step on this stack.
func (u *unaryRun) do(ctx context.Context, p *core.Policy) error {
	var s core.Step
	s.Begin(ctx, p, &u.call)
	defer s.Close()
	mark := u.markFirst()
	hedge := u.hedges(p)
	for s.Next() {
		u.trailer = nil
		if hedge {
			s.End(u.hedgedInvoke(&s, mark)) // hedge.go
			continue
		}
		err := u.invoker(attemptContext(&s, mark), u.method, u.req, u.reply, u.cc, u.opts...)
		if err == nil {
			s.SetRPCStatusCode("OK")
		} else {
			err = u.failed(&s, err, u.trailer)
		}
		s.End(err)
	}
	if v, ok := s.Fallback(); ok {
		return fillReply(u.reply, v)
	}
	return s.Err()
}

// fillReply makes reply the message v that the policy's Fallback supplied:
// a message of the reply's type.
func fillReply(reply, v any) error {
	r, ok := reply.(proto.Message)
	m, ok2 := v.(proto.Message)
	if !ok || !ok2 || m == nil || r.ProtoReflect().Descriptor().FullName() != m.ProtoReflect().Descriptor().FullName() {
		return fmt.Errorf("redressgrpc: the policy's Fallback supplied %T, not a %T", v, reply)
	}
	proto.Reset(r)
	proto.Merge(r, m)
	return nil
}
