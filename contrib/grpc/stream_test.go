package redressgrpc_test

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"testing"
	"testing/synctest"
	"time"

	"github.com/redress-go/redress/contrib/grpc"
	"github.com/redress-go/redress/core"
	"google.golang.org/grpc/codes"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

func outputRequest(sizes ...int32) *testpb.StreamingOutputCallRequest {
	req := &testpb.StreamingOutputCallRequest{}
	for _, s := range sizes {
		req.ResponseParameters = append(req.ResponseParameters, &testpb.ResponseParameters{Size: s})
	}
	return req
}

func TestServerStreaming(t *testing.T) {
	cases := []struct {
		name       string
		script     []fault
		wantSizes  []int
		wantCode   codes.Code
		wantCalls  int
		wantCodes  []string
		wantFinal  core.EventKind
		wantReason string
		wantClass  core.Class // of the terminal event
	}{
		{
			name:      "failure before the first message is retried",
			script:    []fault{{code: codes.Unavailable, after: 0}},
			wantSizes: []int{1, 2, 3}, wantCode: codes.OK, wantCalls: 2,
			wantCodes: []string{"UNAVAILABLE", "OK"}, wantFinal: core.EventSuccess,
		},
		{
			name:      "failure after the first message goes through",
			script:    []fault{{code: codes.Unavailable, after: 1}},
			wantSizes: []int{1}, wantCode: codes.Unavailable, wantCalls: 1,
			wantCodes: []string{"UNAVAILABLE"}, wantFinal: core.EventPermanentFail, wantReason: "grpc_stream_committed",
			wantClass: core.ClassTransient, // the code's class: only the retry is refused
		},
		{
			name:     "permanent failure before the first message is not retried",
			script:   []fault{{code: codes.NotFound, after: 0}},
			wantCode: codes.NotFound, wantCalls: 1,
			wantCodes: []string{"NOT_FOUND"}, wantFinal: core.EventPermanentFail, wantReason: "grpc_not_found",
			wantClass: core.ClassPermanent,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, rec, _ := testPolicy(t, core.RetryConfig{})
			e := newEnv(t, redressgrpc.Config{Policy: p}, tc.script)
			st, err := e.client.StreamingOutputCall(ctxTimeout(t, 5*time.Second), outputRequest(1, 2, 3))
			if err != nil {
				t.Fatalf("StreamingOutputCall: %v", err)
			}
			var sizes []int
			for {
				m, err := st.Recv()
				if err == io.EOF {
					break
				}
				if err != nil {
					if status.Code(err) != tc.wantCode {
						t.Errorf("Recv error %v, want code %v", err, tc.wantCode)
					}
					break
				}
				sizes = append(sizes, len(m.GetPayload().GetBody()))
			}
			if tc.wantCode == codes.OK && len(sizes) != 3 {
				t.Errorf("stream ended early")
			}
			if !reflect.DeepEqual(sizes, tc.wantSizes) {
				t.Errorf("received sizes %v, want %v", sizes, tc.wantSizes)
			}
			if got := e.srv.Calls(); got != tc.wantCalls {
				t.Errorf("server calls = %d, want %d", got, tc.wantCalls)
			}
			waitTerminal(t, rec)
			if got := attemptCodes(rec); !reflect.DeepEqual(got, tc.wantCodes) {
				t.Errorf("attempt codes %q, want %q", got, tc.wantCodes)
			}
			te := terminal(t, rec)
			if te.Kind != tc.wantFinal || te.Reason != tc.wantReason || te.Class != tc.wantClass {
				t.Errorf("terminal %s reason %q class %s, want %s %q %s", te.Kind, te.Reason, te.Class, tc.wantFinal, tc.wantReason, tc.wantClass)
			}
			wantStop := core.StopNonRetryableClass
			if tc.wantReason == "grpc_stream_committed" {
				wantStop = core.StopNotResendable // retryable, but the stream cannot be replayed
			}
			if tc.wantFinal == core.EventPermanentFail && te.StopReason != wantStop {
				t.Errorf("stop reason %s, want %s", te.StopReason, wantStop)
			}
		})
	}
}

// waitTerminal waits for the stream's operation to end: its engine
// finishes on its own goroutine just after the caller's last Recv.
func waitTerminal(t *testing.T, rec interface{ Names() []string }) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		for _, n := range rec.Names() {
			if k, _ := core.ParseEventKind(n); k.Terminal() {
				return
			}
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("no terminal event: %v", rec.Names())
}

func inputMessages() []*testpb.StreamingInputCallRequest {
	var out []*testpb.StreamingInputCallRequest
	for i, n := range []int{10, 200, 3000, 1} {
		body := bytes.Repeat([]byte{byte('a' + i)}, n)
		out = append(out, &testpb.StreamingInputCallRequest{Payload: &testpb.Payload{Type: testpb.PayloadType_COMPRESSABLE, Body: body}})
	}
	return out
}

func TestClientStreamingReplayIsByteIdentical(t *testing.T) {
	p, rec, _ := testPolicy(t, core.RetryConfig{})
	// INTERNAL is retried only for a method declared idempotent.
	cfg := redressgrpc.Config{Policy: p, Idempotent: []string{testpb.TestService_StreamingInputCall_FullMethodName}}
	e := newEnv(t, cfg, []fault{{code: codes.Unavailable}, {code: codes.Internal}})
	st, err := e.client.StreamingInputCall(ctxTimeout(t, 5*time.Second))
	if err != nil {
		t.Fatalf("StreamingInputCall: %v", err)
	}
	msgs := inputMessages()
	var want [][]byte
	total := 0
	for _, m := range msgs {
		if err := st.Send(m); err != nil {
			t.Fatalf("Send: %v", err)
		}
		b, _ := proto.MarshalOptions{Deterministic: true}.Marshal(m)
		want = append(want, b)
		total += len(m.GetPayload().GetBody())
	}
	out, err := st.CloseAndRecv()
	if err != nil {
		t.Fatalf("CloseAndRecv: %v", err)
	}
	if int(out.GetAggregatedPayloadSize()) != total {
		t.Errorf("aggregated size %d, want %d", out.GetAggregatedPayloadSize(), total)
	}
	inputs := e.srv.Inputs()
	if len(inputs) != 3 {
		t.Fatalf("server saw %d attempts, want 3", len(inputs))
	}
	for i, got := range inputs {
		if !reflect.DeepEqual(got, want) {
			t.Errorf("attempt %d: the server received %d messages that differ from the %d sent", i+1, len(got), len(want))
		}
	}
	waitTerminal(t, rec)
	if got, want := attemptCodes(rec), []string{"UNAVAILABLE", "INTERNAL", "OK"}; !reflect.DeepEqual(got, want) {
		t.Errorf("attempt codes %q, want %q", got, want)
	}
	if got, want := e.srv.Previous(), []string{"", "1", "2"}; !reflect.DeepEqual(got, want) {
		t.Errorf("grpc-previous-rpc-attempts = %q, want %q", got, want)
	}
}

func TestClientStreamingBufferOverflowCommits(t *testing.T) {
	p, rec, _ := testPolicy(t, core.RetryConfig{})
	e := newEnv(t, redressgrpc.Config{Policy: p, StreamBufferBytes: 1024}, []fault{{code: codes.Unavailable}})
	st, err := e.client.StreamingInputCall(ctxTimeout(t, 5*time.Second))
	if err != nil {
		t.Fatalf("StreamingInputCall: %v", err)
	}
	for _, m := range inputMessages() { // 3000 bytes do not fit in 1024
		if err := st.Send(m); err != nil {
			t.Fatalf("Send: %v", err)
		}
	}
	_, err = st.CloseAndRecv()
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("CloseAndRecv = %v, want UNAVAILABLE", err)
	}
	if got := e.srv.Calls(); got != 1 {
		t.Errorf("server calls = %d, want 1 (a committed stream is not retried)", got)
	}
	waitTerminal(t, rec)
	if te := terminal(t, rec); te.Reason != "grpc_stream_committed" || te.Class != core.ClassTransient {
		t.Errorf("terminal reason %q class %s, want grpc_stream_committed transient", te.Reason, te.Class)
	}
}

// TestCommittedStreamFailuresCountForTheBreaker: a stream that fails with
// UNAVAILABLE after its first message is not retried, but it is a failure
// of the target all the same: the breaker counts it and opens.
func TestCommittedStreamFailuresCountForTheBreaker(t *testing.T) {
	p, rec, _ := testPolicy(t, core.RetryConfig{})
	script := make([]fault, 3)
	for i := range script {
		script[i] = fault{code: codes.Unavailable, after: 1}
	}
	cfg := redressgrpc.Config{Policy: p, Breaker: &core.BreakerConfig{FailureThreshold: 3, Window: time.Minute, RecoveryTimeout: time.Minute}}
	e := newEnv(t, cfg, script)
	ctx := ctxTimeout(t, 5*time.Second)
	for i := range 3 {
		rec.Reset()
		st, err := e.client.StreamingOutputCall(ctx, outputRequest(1, 2, 3))
		if err != nil {
			t.Fatalf("stream %d: StreamingOutputCall: %v", i+1, err)
		}
		n := 0
		for {
			if _, err = st.Recv(); err != nil {
				break
			}
			n++
		}
		if n != 1 || status.Code(err) != codes.Unavailable {
			t.Fatalf("stream %d: %d messages then %v, want 1 then UNAVAILABLE", i+1, n, err)
		}
		waitTerminal(t, rec)
		if te := terminal(t, rec); te.Reason != "grpc_stream_committed" || te.Class != core.ClassTransient {
			t.Errorf("stream %d: terminal reason %q class %s, want grpc_stream_committed transient", i+1, te.Reason, te.Class)
		}
	}
	if got := e.srv.Calls(); got != 3 {
		t.Errorf("server calls = %d, want 3 (no retry)", got)
	}
	if st := e.ic.Breaker(e.conn.Target()).State(); st != core.StateOpen {
		t.Fatalf("breaker state = %s, want open after 3 committed UNAVAILABLE streams", st)
	}
	st, err := e.client.StreamingOutputCall(ctx, outputRequest(1))
	if err == nil {
		_, err = st.Recv()
	}
	if !errors.Is(err, core.ErrCircuitOpen) {
		t.Errorf("fourth stream = %v, want a circuit-open rejection", err)
	}
}

func TestBidiStreaming(t *testing.T) {
	msg := func(s string) *testpb.StreamingOutputCallRequest {
		return &testpb.StreamingOutputCallRequest{Payload: &testpb.Payload{Body: []byte(s)}}
	}
	t.Run("failure before the first response is retried with a replay", func(t *testing.T) {
		p, rec, _ := testPolicy(t, core.RetryConfig{})
		e := newEnv(t, redressgrpc.Config{Policy: p}, []fault{{code: codes.Unavailable, after: 0}})
		st, err := e.client.FullDuplexCall(ctxTimeout(t, 5*time.Second))
		if err != nil {
			t.Fatalf("FullDuplexCall: %v", err)
		}
		// The first attempt fails on the first message, before answering.
		for _, s := range []string{"one", "two"} {
			if err := st.Send(msg(s)); err != nil {
				t.Fatalf("Send(%s): %v", s, err)
			}
		}
		var got []string
		for range 2 {
			m, err := st.Recv()
			if err != nil {
				t.Fatalf("Recv: %v", err)
			}
			got = append(got, string(m.GetPayload().GetBody()))
		}
		if err := st.Send(msg("three")); err != nil {
			t.Fatalf("Send(three): %v", err)
		}
		m, err := st.Recv()
		if err != nil {
			t.Fatalf("Recv: %v", err)
		}
		got = append(got, string(m.GetPayload().GetBody()))
		if err := st.CloseSend(); err != nil {
			t.Fatalf("CloseSend: %v", err)
		}
		if _, err := st.Recv(); err != io.EOF {
			t.Fatalf("last Recv = %v, want io.EOF", err)
		}
		if want := []string{"one", "two", "three"}; !reflect.DeepEqual(got, want) {
			t.Errorf("responses %q, want %q", got, want)
		}
		if inputs := e.srv.Inputs(); len(inputs) != 2 || len(inputs[0]) != 1 || len(inputs[1]) != 3 {
			t.Errorf("server inputs per attempt: %d, want 2 attempts of 1 and 3 messages", inputs)
		}
		waitTerminal(t, rec)
		if te := terminal(t, rec); te.Kind != core.EventSuccess || te.Attempt != 2 {
			t.Errorf("terminal %s attempt %d, want success 2", te.Kind, te.Attempt)
		}
	})
	t.Run("failure after the first response goes through", func(t *testing.T) {
		p, _, _ := testPolicy(t, core.RetryConfig{})
		e := newEnv(t, redressgrpc.Config{Policy: p}, []fault{{code: codes.Unavailable, after: 1}})
		st, err := e.client.FullDuplexCall(ctxTimeout(t, 5*time.Second))
		if err != nil {
			t.Fatalf("FullDuplexCall: %v", err)
		}
		if err := st.Send(msg("one")); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Recv(); err != nil {
			t.Fatalf("Recv: %v", err)
		}
		_ = st.Send(msg("two"))
		if _, err := st.Recv(); status.Code(err) != codes.Unavailable {
			t.Fatalf("Recv = %v, want UNAVAILABLE", err)
		}
		if got := e.srv.Calls(); got != 1 {
			t.Errorf("server calls = %d, want 1", got)
		}
	})
}

func TestStreamBreakerRejection(t *testing.T) {
	p, _, _ := testPolicy(t, core.RetryConfig{MaxAttempts: 1})
	cfg := redressgrpc.Config{Policy: p, Breaker: &core.BreakerConfig{FailureThreshold: 1, Window: time.Minute, RecoveryTimeout: time.Minute}}
	e := newEnv(t, cfg, []fault{{code: codes.Unavailable}})
	ctx := ctxTimeout(t, 5*time.Second)
	st, err := e.client.StreamingOutputCall(ctx, outputRequest(1))
	if err != nil {
		t.Fatalf("StreamingOutputCall: %v", err)
	}
	if _, err := st.Recv(); status.Code(err) != codes.Unavailable {
		t.Fatalf("Recv = %v, want UNAVAILABLE", err)
	}
	// The engine publishes the failure on its goroutine: wait for the open.
	b := e.ic.Breaker(e.conn.Target())
	for i := 0; b.State() != core.StateOpen && i < 5000; i++ {
		time.Sleep(time.Millisecond)
	}
	_, err = e.client.StreamingOutputCall(ctx, outputRequest(1))
	if !errors.Is(err, core.ErrCircuitOpen) || status.Code(err) != codes.Unavailable {
		t.Fatalf("second stream = %v, want a circuit-open rejection", err)
	}
	if got := e.srv.Calls(); got != 1 {
		t.Errorf("server calls = %d, want 1", got)
	}
}

func TestStreamCallerCancelEndsTheOperation(t *testing.T) {
	p, rec, _ := testPolicy(t, core.RetryConfig{})
	e := newEnv(t, redressgrpc.Config{Policy: p}, nil)
	ctx, cancel := contextWithCancel(t)
	st, err := e.client.FullDuplexCall(ctx)
	if err != nil {
		t.Fatalf("FullDuplexCall: %v", err)
	}
	cancel()
	if _, err := st.Recv(); status.Code(err) != codes.Canceled {
		t.Errorf("Recv after cancel = %v, want CANCELLED", err)
	}
	waitTerminal(t, rec)
	if te := terminal(t, rec); te.StopReason != core.StopCanceled {
		t.Errorf("stop reason %s, want canceled", te.StopReason)
	}
}

// TestBidiConcurrentSendRecvAcrossARetry sends from one goroutine while
// another receives, across a retry: every message is answered once, in
// order.
func TestBidiConcurrentSendRecvAcrossARetry(t *testing.T) {
	p, rec, _ := testPolicy(t, core.RetryConfig{})
	e := newEnv(t, redressgrpc.Config{Policy: p}, []fault{{code: codes.Unavailable, after: 0}})
	st, err := e.client.FullDuplexCall(ctxTimeout(t, 10*time.Second))
	if err != nil {
		t.Fatalf("FullDuplexCall: %v", err)
	}
	const n = 50
	sent := make(chan error, 1)
	go func() {
		for i := range n {
			if err := st.Send(&testpb.StreamingOutputCallRequest{Payload: &testpb.Payload{Body: []byte{byte(i)}}}); err != nil {
				sent <- err
				return
			}
		}
		sent <- st.CloseSend()
	}()
	for i := range n {
		m, err := st.Recv()
		if err != nil {
			t.Fatalf("Recv %d: %v", i, err)
		}
		if b := m.GetPayload().GetBody(); len(b) != 1 || b[0] != byte(i) {
			t.Fatalf("response %d = %v, want [%d]", i, b, i)
		}
	}
	if _, err := st.Recv(); err != io.EOF {
		t.Fatalf("last Recv = %v, want io.EOF", err)
	}
	if err := <-sent; err != nil {
		t.Fatalf("sender: %v", err)
	}
	waitTerminal(t, rec)
	if te := terminal(t, rec); te.Kind != core.EventSuccess || te.Attempt != 2 {
		t.Errorf("terminal %s attempt %d, want success after 2 attempts", te.Kind, te.Attempt)
	}
}

// TestStreamHeaderBeforeFailureDoesNotCommit calls Header on an attempt
// that fails with a trailers-only response: there is no header metadata to
// take back, so the stream is still retried.
func TestStreamHeaderBeforeFailureDoesNotCommit(t *testing.T) {
	p, _, _ := testPolicy(t, core.RetryConfig{})
	e := newEnv(t, redressgrpc.Config{Policy: p}, []fault{{code: codes.Unavailable, after: 0}})
	st, err := e.client.StreamingOutputCall(ctxTimeout(t, 5*time.Second), outputRequest(4, 5))
	if err != nil {
		t.Fatalf("StreamingOutputCall: %v", err)
	}
	if _, err := st.Header(); err != nil {
		t.Fatalf("Header: %v", err)
	}
	n := 0
	for {
		_, err := st.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("Recv: %v", err)
		}
		n++
	}
	if n != 2 || e.srv.Calls() != 2 {
		t.Errorf("received %d messages in %d server calls, want 2 in 2", n, e.srv.Calls())
	}
	if st.Trailer() == nil {
		t.Errorf("Trailer of the finished stream is nil")
	}
}

// TestStreamPushbackPastTheDeadline: a stream whose retry would have to
// wait past the caller's deadline fails at once, in Recv. In a synctest
// bubble: "at once" is exactly no time.
func TestStreamPushbackPastTheDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, err := core.NewPolicy(core.PolicyConfig{Retry: core.RetryConfig{
			MaxAttempts: 3, Classifier: redressgrpc.Classifier,
			Strategy: core.RetryAfterOr(core.Constant(time.Millisecond), 0),
		}})
		if err != nil {
			t.Fatal(err)
		}
		e := newMemEnv(t, redressgrpc.Config{Policy: p}, []fault{{code: codes.ResourceExhausted, pushback: "5000"}})
		start := time.Now()
		st, err := e.client.StreamingOutputCall(ctxTimeout(t, time.Second), outputRequest(1))
		if err != nil {
			t.Fatalf("StreamingOutputCall: %v", err)
		}
		_, err = st.Recv()
		if el := time.Since(start); el != 0 {
			t.Errorf("Recv took %v: it waited towards a retry that could not happen", el)
		}
		if !errors.Is(err, core.ErrStop(core.StopDeadline)) || status.Code(err) != codes.ResourceExhausted {
			t.Errorf("Recv = %v (code %v), want StopDeadline with the last RESOURCE_EXHAUSTED", err, status.Code(err))
		}
		if got := e.srv.Calls(); got != 1 {
			t.Errorf("server calls = %d, want 1", got)
		}
	})
}
