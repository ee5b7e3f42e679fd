package redressgrpc

import (
	"context"
	"io"
	"sync"

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
		limit: ic.cfg.StreamBufferBytes, ready: make(chan struct{}),
	}
	s.committed = s.limit < 0
	s.r.start(ctx, ic, p, method, cc, &o)
	ready := s.ready
	go s.engine(ctx)
	<-ready
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done && s.final != nil && s.last == nil {
		return nil, s.final
	}
	return s, nil
}

// retryStream is the grpc.ClientStream the caller holds.
type retryStream struct {
	desc     *grpc.StreamDesc
	cc       *grpc.ClientConn
	method   string
	streamer grpc.Streamer
	opts     []grpc.CallOption
	limit    int
	r        run // owned by the engine goroutine

	mu        sync.Mutex
	cur       grpc.ClientStream // the live attempt's stream; nil between attempts
	curEnd    chan error        // where the live attempt's end is reported
	last      grpc.ClientStream // the latest attempt's stream (Trailer, Context)
	ready     chan struct{}     // closed when cur is set or the call is over
	buf       []any             // messages sent so far, until committed
	bufBytes  int
	committed bool
	closeSent bool
	done      bool
	final     error // the call's error once done (nil: success)
}

var _ grpc.ClientStream = (*retryStream)(nil)

// engine runs the operation; it ends when the stream does.
func (s *retryStream) engine(ectx context.Context) {
	st := &s.r.step
	st.Begin(ectx, s.r.policy, &s.r.call)
	func() {
		defer st.Close()
		for st.Next() {
			st.End(s.attempt())
		}
	}()
	err := s.r.finish(st.Err())
	s.mu.Lock()
	s.done, s.final = true, err
	s.cur, s.curEnd = nil, nil
	close(s.ready)
	s.buf = nil
	s.mu.Unlock()
}

// attempt is one attempt: open a stream, replay the buffer, publish the
// stream, and wait for its end.
func (s *retryStream) attempt() error {
	actx := s.r.attemptContext()
	cs, err := s.streamer(actx, s.desc, s.cc, s.method, s.opts...)
	if err != nil {
		return s.outcome(err, nil)
	}
	end := make(chan error, 1)
	for i := 0; ; i++ {
		s.mu.Lock()
		if i >= len(s.buf) {
			if s.closeSent {
				_ = cs.CloseSend() // always nil for a grpc-go stream
			}
			s.cur, s.curEnd, s.last = cs, end, cs
			close(s.ready)
			s.mu.Unlock()
			break
		}
		m := s.buf[i]
		s.mu.Unlock()
		// A failed send ends the attempt; its status comes from RecvMsg.
		_ = cs.SendMsg(m)
	}
	select {
	case err := <-end:
		return s.outcome(err, cs)
	case <-actx.Done():
		s.mu.Lock()
		if s.cur == cs {
			s.cur, s.curEnd = nil, nil
			s.ready = make(chan struct{})
		}
		s.mu.Unlock()
		return s.outcome(status.FromContextError(actx.Err()).Err(), nil)
	}
}

// outcome classifies the end of an attempt (nil: the stream succeeded).
func (s *retryStream) outcome(err error, cs grpc.ClientStream) error {
	if err == nil {
		s.r.step.SetRPCStatusCode("OK")
		return nil
	}
	var trailer metadata.MD
	if cs != nil {
		trailer = cs.Trailer()
	}
	marked := s.r.failed(err, trailer)
	s.mu.Lock()
	committed := s.committed
	s.mu.Unlock()
	if committed && s.r.caller.Err() == nil {
		cl := s.r.ic.cfg.Classifier(marked)
		if cl.Class.Retryable() && !cl.NoRetry {
			// Not safe to retry (the caller has consumed the stream): stop
			// here, keeping the code's class for the breaker and telemetry.
			cl.Reason = "grpc_stream_committed"
			return core.NotResendable(mark(err, cl))
		}
	}
	return marked
}

// live returns the live attempt's stream, waiting for one; when the call is
// over it returns nil and the error to give the caller.
func (s *retryStream) live() (grpc.ClientStream, error) {
	s.mu.Lock()
	for {
		if s.cur != nil {
			cs := s.cur
			s.mu.Unlock()
			return cs, nil
		}
		if s.done {
			err := s.final
			s.mu.Unlock()
			if err == nil {
				err = io.EOF
			}
			return nil, err
		}
		ready := s.ready
		s.mu.Unlock()
		<-ready
		s.mu.Lock()
	}
}

// report ends the live attempt cs with err (nil: success) and reports
// whether the caller should wait for another attempt.
func (s *retryStream) report(cs grpc.ClientStream, err error) (retry bool) {
	s.mu.Lock()
	committed := s.committed
	if s.cur != cs {
		s.mu.Unlock()
		return !committed && err != nil // already ended by someone else
	}
	end := s.curEnd
	s.cur, s.curEnd = nil, nil
	s.ready = make(chan struct{})
	s.mu.Unlock()
	end <- err
	return !committed && err != nil
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
	for {
		if s.done {
			s.mu.Unlock()
			return io.EOF
		}
		if !s.committed {
			if n := msgSize(m); n >= 0 && s.bufBytes+n <= s.limit {
				s.buf = append(s.buf, m)
				s.bufBytes += n
				cs := s.cur
				s.mu.Unlock()
				if cs != nil {
					_ = cs.SendMsg(m)
				}
				return nil
			}
			// It does not fit: commit, once every buffered message is on
			// a live stream.
			if s.cur != nil {
				s.commitLocked()
			}
		}
		if s.committed && s.cur != nil {
			cs := s.cur
			s.mu.Unlock()
			return cs.SendMsg(m)
		}
		ready := s.ready
		s.mu.Unlock()
		<-ready
		s.mu.Lock()
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
			s.mu.Lock()
			s.commitLocked()
			s.mu.Unlock()
			if !s.desc.ServerStreams {
				s.report(cs, nil) // the single response: the call is over
			}
			return nil
		case err == io.EOF:
			s.report(cs, nil)
			return io.EOF
		}
		if !s.report(cs, err) {
			if s.isCommitted() {
				return err // goes through as it is
			}
			// Not retried: wait for the engine's verdict.
			_, ferr := s.live()
			return ferr
		}
	}
}

func (s *retryStream) isCommitted() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.committed
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
				s.mu.Lock()
				s.commitLocked()
				s.mu.Unlock()
			}
			return md, nil
		}
		if !s.report(cs, err) {
			if s.isCommitted() {
				return nil, err
			}
			_, ferr := s.live()
			return nil, ferr
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
