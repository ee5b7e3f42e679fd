package redressgrpc

import (
	"context"
	"errors"
	"io"
	"sync"

	"github.com/redress-go/redress/contrib/internal/wrapper"
	"github.com/redress-go/redress/core"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// Stream returns the stream client interceptor. A stream is one redress
// operation whose attempts are streams to the server. It is retried only
// while it is not committed: nothing has been received from the server (no
// message, no header metadata) and every message sent so far is held in the
// replay buffer (Config.StreamBufferBytes). A new attempt opens a new stream
// and replays the buffered messages, in order, before any new one; then the
// caller's pending Recv goes on on the new stream. Once committed, the
// stream is not retried: a failure goes through to the caller as it is.
//
// The interceptor returns once the first attempt's stream is open (or the
// policy gave up opening one). The operation ends when the stream does:
// RecvMsg returning io.EOF (or the single response of a client-streaming
// call), a failure that is not retried, or the caller's context ending.
// As with grpc itself, a caller must read the stream to its end or cancel
// its context, or the operation never ends.
// errStreamFallback is a stream's error when its policy gave up and its
// Fallback supplied a value: a stream cannot be replaced by one.
var errStreamFallback = errors.New("redressgrpc: the policy's Fallback cannot supply a stream; the stream failed")

func (ic *Interceptors) Stream() grpc.StreamClientInterceptor {
	return ic.stream
}

func (ic *Interceptors) stream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	o := parseCallOpts(opts)
	p := ic.policyFor(method, &o)
	if p == nil {
		return streamer(ctx, desc, cc, method, opts...)
	}
	s := &retryStream{
		desc: desc, cc: cc, method: method, streamer: streamer, opts: opts,
		limit: ic.cfg.StreamBufferBytes,
	}
	s.committed = s.limit < 0
	s.r.start(ctx, ic, p, method, cc, &o)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.step.Begin(ctx, p, &s.r.call)
	s.advanceLocked()
	if s.done && s.last == nil {
		return nil, s.final
	}
	if !s.done {
		// A caller that cancels and never reads again still ends the call.
		s.stopWatch = context.AfterFunc(ctx, s.callerDone)
	}
	return s, nil
}

// retryStream is the grpc.ClientStream the caller holds. The call's Step
// is driven under mu by whichever method sees an attempt end (RecvMsg,
// Header, or the caller's context ending): it decides, sleeps the backoff
// and opens the next attempt's stream before the lock is released, so a
// method that holds the lock sees either a live stream or a call that is
// over.
type retryStream struct {
	desc      *grpc.StreamDesc
	cc        *grpc.ClientConn
	method    string
	streamer  grpc.Streamer
	opts      []grpc.CallOption
	limit     int
	stopWatch func() bool // stops the watch of the caller's context

	mu        sync.Mutex
	r         run               // the policy and labels of the call
	step      core.Step         // the running call
	cur       grpc.ClientStream // the live attempt's stream; nil once the call is over
	last      grpc.ClientStream // the latest attempt's stream (Trailer, Context)
	buf       []any             // messages sent so far, until committed
	bufBytes  int
	committed bool
	closeSent bool
	done      bool
	final     error // the call's error once done (nil: success)
}

var _ grpc.ClientStream = (*retryStream)(nil)

// advanceLocked makes attempts until one opens its stream (cur) or the
// call is over (done). s.mu is held.
func (s *retryStream) advanceLocked() {
	st := &s.step
	mark := s.r.markFirst()
	for st.Next() {
		cs, err := s.streamer(attemptContext(st, mark), s.desc, s.cc, s.method, s.opts...)
		if err == nil {
			// A failed send ends the attempt; its status comes from RecvMsg.
			for _, m := range s.buf {
				_ = cs.SendMsg(m)
			}
			if s.closeSent {
				_ = cs.CloseSend() // always nil for a grpc-go stream
			}
			s.cur, s.last = cs, cs
			return
		}
		st.End(s.outcomeLocked(err, nil))
	}
	err := st.Err()
	if _, ok := st.Fallback(); ok {
		err = errStreamFallback // a value cannot stand for a stream
	}
	s.done, s.final = true, s.r.finish(err)
	s.cur, s.buf, s.bufBytes = nil, nil, 0
	if s.stopWatch != nil {
		s.stopWatch()
	}
}

// endLocked ends the live attempt cs with err (nil: success) and reports
// whether a next attempt's stream is live. An attempt already ended (by
// another method, or the caller's context) is not ended again. s.mu is
// held.
func (s *retryStream) endLocked(cs grpc.ClientStream, err error) bool {
	if s.cur != cs {
		return s.cur != nil
	}
	s.cur = nil
	s.step.End(s.outcomeLocked(err, cs))
	s.advanceLocked()
	return s.cur != nil
}

// callerDone ends the live attempt when the caller's context ends.
func (s *retryStream) callerDone() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cs := s.cur; cs != nil {
		s.endLocked(cs, status.FromContextError(s.r.caller.Err()).Err())
	}
}

// outcomeLocked classifies the end of an attempt (nil: the stream
// succeeded). s.mu is held.
func (s *retryStream) outcomeLocked(err error, cs grpc.ClientStream) error {
	if err == nil {
		s.step.SetRPCStatusCode("OK")
		return nil
	}
	var trailer metadata.MD
	if cs != nil {
		trailer = cs.Trailer()
	}
	marked := s.r.failed(&s.step, err, trailer)
	if s.committed && s.r.caller.Err() == nil {
		cl := s.r.ic.classify(marked)
		if cl.Class.Retryable() && !cl.NoRetry {
			// Not safe to retry (the caller has consumed the stream): stop
			// here, keeping the code's class for the breaker and telemetry.
			cl.Reason = "grpc_stream_committed"
			return core.NotResendable(wrapper.Mark(err, cl))
		}
	}
	return marked
}

// commitLocked makes the stream final: no more retries. s.mu is held.
func (s *retryStream) commitLocked() {
	s.committed = true
	s.buf, s.bufBytes = nil, 0
}

// msgSize is the size a message takes in the replay buffer, -1 if unknown.
func msgSize(m any) int {
	if pm, ok := m.(proto.Message); ok {
		return proto.Size(pm)
	}
	return -1
}

// SendMsg sends m on the live attempt and keeps it for replay while the
// stream is not committed. Before the stream is committed, a failed send
// returns nil: the message will be replayed on the next attempt, and the
// failure is seen (and retried, or returned) by RecvMsg.
func (s *retryStream) SendMsg(m any) error {
	s.mu.Lock()
	cs := s.cur
	if s.done || cs == nil {
		s.mu.Unlock()
		return io.EOF
	}
	if !s.committed {
		if n := msgSize(m); n >= 0 && s.bufBytes+n <= s.limit {
			s.buf = append(s.buf, m)
			s.bufBytes += n
			s.mu.Unlock()
			_ = cs.SendMsg(m)
			return nil
		}
		// It does not fit: commit (every buffered message is on the live
		// stream).
		s.commitLocked()
	}
	s.mu.Unlock()
	return cs.SendMsg(m)
}

// live returns the live attempt's stream; when the call is over it returns
// nil and the error to give the caller (io.EOF after a success).
func (s *retryStream) live() (grpc.ClientStream, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur != nil {
		return s.cur, nil
	}
	if s.final == nil {
		return nil, io.EOF
	}
	return nil, s.final
}

// failedAttempt ends the live attempt cs with err, a failure RecvMsg or
// Header saw, and reports whether the caller should go on with the next
// attempt's stream; if not, it returns the error to give the caller: err
// itself once the stream was committed, else the call's error.
func (s *retryStream) failedAttempt(cs grpc.ClientStream, err error) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	committed := s.committed
	if s.endLocked(cs, err) {
		return true, nil
	}
	if committed || s.final == nil {
		return false, err // goes through as it is
	}
	return false, s.final
}

// succeeded ends the live attempt cs as a success, after receiving; with
// commit, the caller has seen something of the stream.
func (s *retryStream) succeeded(cs grpc.ClientStream, end bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.commitLocked()
	if end {
		s.endLocked(cs, nil)
	}
}

// RecvMsg receives from the live attempt. A failure before the stream is
// committed ends the attempt: the policy decides, and RecvMsg goes on with
// the next attempt's stream or returns the call's error.
func (s *retryStream) RecvMsg(m any) error {
	for {
		cs, err := s.live()
		if cs == nil {
			return err
		}
		err = cs.RecvMsg(m)
		switch {
		case err == nil:
			s.succeeded(cs, !s.desc.ServerStreams) // a single response ends the call
			return nil
		case err == io.EOF:
			s.mu.Lock()
			s.endLocked(cs, nil)
			s.mu.Unlock()
			return io.EOF
		}
		if more, err := s.failedAttempt(cs, err); !more {
			return err
		}
	}
}

// Header returns the live attempt's header metadata. Non-empty header
// metadata commits the stream (the caller has seen it).
func (s *retryStream) Header() (metadata.MD, error) {
	for {
		cs, err := s.live()
		if cs == nil {
			return nil, err
		}
		md, err := cs.Header()
		if err == nil {
			if len(md) > 0 {
				s.succeeded(cs, false)
			}
			return md, nil
		}
		if more, err := s.failedAttempt(cs, err); !more {
			return nil, err
		}
	}
}

// Trailer returns the latest attempt's trailer metadata.
func (s *retryStream) Trailer() metadata.MD {
	s.mu.Lock()
	cs := s.last
	s.mu.Unlock()
	if cs == nil {
		return nil
	}
	return cs.Trailer()
}

// CloseSend closes the sending side, now and on every later attempt.
func (s *retryStream) CloseSend() error {
	s.mu.Lock()
	s.closeSent = true
	cs := s.cur
	s.mu.Unlock()
	if cs != nil {
		return cs.CloseSend()
	}
	return nil
}

// Context returns the latest attempt's stream context.
func (s *retryStream) Context() context.Context {
	s.mu.Lock()
	cs := s.last
	s.mu.Unlock()
	if cs == nil {
		return s.r.caller
	}
	return cs.Context()
}
