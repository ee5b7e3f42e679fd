package redressgrpc_test

import (
	"context"
	"errors"
	"io"
	"reflect"
	"slices"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/redress-go/redress/contrib/grpc"
	"github.com/redress-go/redress/core"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/status"
)

const notIdempotent = "grpc_not_idempotent"

// TestRetrySafety: every method is retried on UNAVAILABLE and
// RESOURCE_EXHAUSTED; the failures that may come after the server applied
// the call (INTERNAL, DATA_LOSS, DEADLINE_EXCEEDED, an attempt timeout) only
// for a method declared idempotent, by Config.Idempotent or WithIdempotent.
func TestRetrySafety(t *testing.T) {
	unary := testpb.TestService_UnaryCall_FullMethodName
	twice := func(f fault) []fault { return []fault{f, f} }
	cases := []struct {
		name           string
		script         []fault
		attemptTimeout time.Duration
		idempotent     []string
		opts           []grpc.CallOption
		wantCalls      int
		wantCode       codes.Code // OK: the call succeeds
		wantClass      core.Class // of a failed call
		wantReason     string     // of a failed call's terminal event
	}{
		{name: "INTERNAL not idempotent", script: twice(fault{code: codes.Internal}),
			wantCalls: 1, wantCode: codes.Internal, wantClass: core.ClassServerError, wantReason: notIdempotent},
		{name: "DATA_LOSS not idempotent", script: twice(fault{code: codes.DataLoss}),
			wantCalls: 1, wantCode: codes.DataLoss, wantClass: core.ClassServerError, wantReason: notIdempotent},
		{name: "server DEADLINE_EXCEEDED not idempotent", script: twice(fault{code: codes.DeadlineExceeded}),
			wantCalls: 1, wantCode: codes.DeadlineExceeded, wantClass: core.ClassTransient, wantReason: notIdempotent},
		// A pushback delay does not make a write safe to resend.
		{name: "INTERNAL with pushback not idempotent", script: twice(fault{code: codes.Internal, pushback: "10"}),
			wantCalls: 1, wantCode: codes.Internal, wantClass: core.ClassServerError, wantReason: notIdempotent},
		// Another method of the service being idempotent changes nothing.
		{name: "INTERNAL, another method idempotent", script: twice(fault{code: codes.Internal}),
			idempotent: []string{testpb.TestService_EmptyCall_FullMethodName},
			wantCalls:  1, wantCode: codes.Internal, wantClass: core.ClassServerError, wantReason: notIdempotent},
		{name: "INTERNAL idempotent by method", script: twice(fault{code: codes.Internal}),
			idempotent: []string{unary}, wantCalls: 3},
		{name: "INTERNAL idempotent by service", script: twice(fault{code: codes.Internal}),
			idempotent: []string{testpb.TestService_ServiceDesc.ServiceName}, wantCalls: 3},
		{name: "INTERNAL idempotent by call option", script: twice(fault{code: codes.Internal}),
			opts: opts(redressgrpc.WithIdempotent()), wantCalls: 3},
		{name: "DATA_LOSS idempotent by call option", script: twice(fault{code: codes.DataLoss}),
			opts: opts(redressgrpc.WithIdempotent()), wantCalls: 3},
		{name: "UNAVAILABLE any method", script: twice(fault{code: codes.Unavailable}), wantCalls: 3},
		{name: "RESOURCE_EXHAUSTED any method", script: twice(fault{code: codes.ResourceExhausted}), wantCalls: 3},
		{name: "attempt timeout not idempotent", script: []fault{{sleep: 2 * time.Second}}, attemptTimeout: 50 * time.Millisecond,
			wantCalls: 1, wantCode: codes.DeadlineExceeded, wantClass: core.ClassTransient, wantReason: notIdempotent},
		{name: "attempt timeout idempotent by method", script: []fault{{sleep: 2 * time.Second}}, attemptTimeout: 50 * time.Millisecond,
			idempotent: []string{unary}, wantCalls: 2},
		{name: "attempt timeout idempotent by call option", script: []fault{{sleep: 2 * time.Second}}, attemptTimeout: 50 * time.Millisecond,
			opts: opts(redressgrpc.WithIdempotent()), wantCalls: 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) { // exact attempt timeouts: the retry cannot time out too
				p, rec, _ := testPolicyConfig(t, core.PolicyConfig{Timeout: core.TimeoutConfig{Attempt: tc.attemptTimeout}})
				e := newMemEnv(t, redressgrpc.Config{Policy: p, Idempotent: tc.idempotent}, tc.script)
				req := &testpb.SimpleRequest{Payload: &testpb.Payload{Body: []byte("write")}}
				out, err := e.client.UnaryCall(ctxTimeout(t, 5*time.Second), req, tc.opts...)
				if got := e.srv.Calls(); got != tc.wantCalls {
					t.Errorf("server calls = %d, want %d", got, tc.wantCalls)
				}
				te := terminal(t, rec)
				if tc.wantCode == codes.OK {
					if err != nil {
						t.Fatalf("UnaryCall: %v", err)
					}
					if string(out.GetPayload().GetBody()) != "write" {
						t.Errorf("reply payload = %q, want write", out.GetPayload().GetBody())
					}
					if te.Kind != core.EventSuccess || te.Attempt != tc.wantCalls {
						t.Errorf("terminal = %s after %d attempts, want success after %d", te.Kind, te.Attempt, tc.wantCalls)
					}
					return
				}
				if status.Code(err) != tc.wantCode {
					t.Errorf("status = %v, want %v", err, tc.wantCode)
				}
				if re := retryError(t, err); re.Reason != core.StopNotResendable || re.Class != tc.wantClass || re.Attempts != 1 {
					t.Errorf("stop %s class %s after %d attempts, want not_resendable %s after 1", re.Reason, re.Class, re.Attempts, tc.wantClass)
				}
				if te.Kind != core.EventPermanentFail || te.Reason != tc.wantReason || te.Class != tc.wantClass {
					t.Errorf("terminal = %s reason %q class %s, want permanent_fail %q %s", te.Kind, te.Reason, te.Class, tc.wantReason, tc.wantClass)
				}
				if rec.Count(core.EventRetry) != 0 {
					t.Errorf("retry events = %d, want 0", rec.Count(core.EventRetry))
				}
			})
		})
	}
}

// TestNotIdempotentCountsForTheBreaker: an INTERNAL that is not retried
// because the method is not idempotent is still a server error: the
// breaker counts it.
func TestNotIdempotentCountsForTheBreaker(t *testing.T) {
	p, rec, _ := testPolicy(t, core.RetryConfig{})
	script := []fault{{code: codes.Internal}, {code: codes.Internal}, {code: codes.Internal}}
	cfg := redressgrpc.Config{Policy: p, Breaker: &core.BreakerConfig{
		FailureThreshold: 3, Window: time.Minute, RecoveryTimeout: time.Minute,
		TripOn: core.SetOf(core.ClassServerError),
	}}
	e := newEnv(t, cfg, script)
	ctx := ctxTimeout(t, 5*time.Second)
	for i := range 3 {
		_, err := e.client.UnaryCall(ctx, &testpb.SimpleRequest{})
		if re := retryError(t, err); re.Reason != core.StopNotResendable || re.Attempts != 1 {
			t.Fatalf("call %d: stop %s after %d attempts, want not_resendable after 1", i+1, re.Reason, re.Attempts)
		}
	}
	if st := e.ic.Breaker(e.conn.Target()).State(); st != core.StateOpen {
		t.Fatalf("breaker state = %s, want open after 3 INTERNAL (server errors)", st)
	}
	if rec.Count(core.EventCircuitOpened) != 1 {
		t.Errorf("circuit_opened events = %d, want 1", rec.Count(core.EventCircuitOpened))
	}
	if _, err := e.client.UnaryCall(ctx, &testpb.SimpleRequest{}); !errors.Is(err, core.ErrCircuitOpen) {
		t.Errorf("fourth call = %v, want a circuit-open rejection", err)
	}
	if got := e.srv.Calls(); got != 3 {
		t.Errorf("server calls = %d, want 3", got)
	}
}

// TestStreamRetrySafety: a stream follows both rules: its failure is
// retried only while the stream is not committed, and, but for UNAVAILABLE
// and RESOURCE_EXHAUSTED, only when its method is idempotent.
func TestStreamRetrySafety(t *testing.T) {
	cases := []struct {
		name       string
		script     []fault
		idempotent []string
		opts       []grpc.CallOption
		wantCalls  int
		wantCode   codes.Code
		wantReason string
	}{
		{name: "INTERNAL before the first message, not idempotent",
			script: []fault{{code: codes.Internal}}, wantCalls: 1, wantCode: codes.Internal, wantReason: notIdempotent},
		{name: "INTERNAL before the first message, idempotent by call option",
			script: []fault{{code: codes.Internal}}, opts: opts(redressgrpc.WithIdempotent()), wantCalls: 2},
		{name: "INTERNAL before the first message, idempotent service",
			script: []fault{{code: codes.Internal}}, idempotent: []string{testpb.TestService_ServiceDesc.ServiceName}, wantCalls: 2},
		{name: "UNAVAILABLE before the first message, not idempotent",
			script: []fault{{code: codes.Unavailable}}, wantCalls: 2},
		// Committed: declaring the method idempotent does not replay what
		// the caller has already consumed.
		{name: "INTERNAL after the first message, idempotent",
			script: []fault{{code: codes.Internal, after: 1}}, opts: opts(redressgrpc.WithIdempotent()),
			wantCalls: 1, wantCode: codes.Internal, wantReason: "grpc_stream_committed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, rec, _ := testPolicy(t, core.RetryConfig{})
			e := newEnv(t, redressgrpc.Config{Policy: p, Idempotent: tc.idempotent}, tc.script)
			st, err := e.client.StreamingOutputCall(ctxTimeout(t, 5*time.Second), outputRequest(1, 2), tc.opts...)
			if err != nil {
				t.Fatalf("StreamingOutputCall: %v", err)
			}
			n := 0
			for {
				if _, err = st.Recv(); err != nil {
					break
				}
				n++
			}
			if tc.wantCode == codes.OK {
				if err != io.EOF || n != 2 {
					t.Errorf("stream ended with %v after %d messages, want io.EOF after 2", err, n)
				}
			} else if status.Code(err) != tc.wantCode {
				t.Errorf("Recv = %v, want %v", err, tc.wantCode)
			}
			if got := e.srv.Calls(); got != tc.wantCalls {
				t.Errorf("server calls = %d, want %d", got, tc.wantCalls)
			}
			waitTerminal(t, rec)
			te := terminal(t, rec)
			if tc.wantCode == codes.OK {
				if te.Kind != core.EventSuccess {
					t.Errorf("terminal = %s, want success", te.Kind)
				}
				return
			}
			if te.Kind != core.EventPermanentFail || te.StopReason != core.StopNotResendable || te.Reason != tc.wantReason || te.Class != core.ClassServerError {
				t.Errorf("terminal = %s stop %s reason %q class %s, want permanent_fail not_resendable %q server_error",
					te.Kind, te.StopReason, te.Reason, te.Class, tc.wantReason)
			}
		})
	}
}

func TestIdempotentLookup(t *testing.T) {
	list := []string{"grpc.testing.TestService", "/grpc.testing.ReconnectService/Start"}
	ic, err := redressgrpc.New(redressgrpc.Config{Idempotent: list})
	if err != nil {
		t.Fatal(err)
	}
	// New copies the list: the caller's later changes change nothing.
	list[0], list[1] = "other.Service", "/other.Service/M"
	cases := []struct {
		method string
		want   bool
	}{
		{testpb.TestService_UnaryCall_FullMethodName, true},
		{testpb.TestService_FullDuplexCall_FullMethodName, true},
		{"/grpc.testing.ReconnectService/Start", true},
		{"/grpc.testing.ReconnectService/Stop", false},
		{"/grpc.testing.TestServiceX/UnaryCall", false},
		{"/other.Service/M", false},
		{"grpc.testing.TestService", false}, // not a full method name
	}
	for _, tc := range cases {
		if got := ic.Idempotent(tc.method); got != tc.want {
			t.Errorf("Idempotent(%q) = %v, want %v", tc.method, got, tc.want)
		}
	}
	none, err := redressgrpc.New(redressgrpc.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if none.Idempotent(testpb.TestService_UnaryCall_FullMethodName) {
		t.Error("zero Config declares UnaryCall idempotent, want no method idempotent")
	}
}

func TestIdempotentRejectsBadEntries(t *testing.T) {
	for _, bad := range []string{"", "/", "/a.B", "/a.B/", "//M", "a.B/M", "/a/b/c",
		"not a method", "/a.B/not a method", "a..B", ".a.B", "a.B.", "/a.B/M.N", "1a.B", "/a.B/1M", "a.B\n", "a-b.C"} {
		t.Run(bad, func(t *testing.T) {
			_, err := redressgrpc.New(redressgrpc.Config{Idempotent: []string{"a.Good", bad}})
			var ce *core.ConfigError
			if !errors.As(err, &ce) || ce.Field != "Config.Idempotent[1]" {
				t.Fatalf("New = %v, want a ConfigError on Config.Idempotent[1]", err)
			}
		})
	}
	good := []string{"a.B", "/a.B/M", "B", "grpc.health.v1.Health", "/grpc.health.v1.Health/Check", "/_x.Y_2/Z_3"}
	if _, err := redressgrpc.New(redressgrpc.Config{Idempotent: good}); err != nil {
		t.Errorf("New with %q: %v", good, err)
	}
	if !slices.Equal(good, []string{"a.B", "/a.B/M", "B", "grpc.health.v1.Health", "/grpc.health.v1.Health/Check", "/_x.Y_2/Z_3"}) {
		t.Errorf("New changed the caller's list: %q", good)
	}
}

// TestIdempotentAttemptCodes: the idempotent attempt-timeout retry sends
// grpc-previous-rpc-attempts as any retry does.
func TestIdempotentAttemptCodes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) { // exact attempt timeouts: the retry cannot time out too
		p, rec, _ := testPolicyConfig(t, core.PolicyConfig{Timeout: core.TimeoutConfig{Attempt: 50 * time.Millisecond}})
		e := newMemEnv(t, redressgrpc.Config{Policy: p}, []fault{{sleep: 2 * time.Second}})
		if _, err := e.client.EmptyCall(ctxTimeout(t, 5*time.Second), &testpb.Empty{}, redressgrpc.WithIdempotent()); err != nil {
			t.Fatalf("EmptyCall: %v", err)
		}
		if got, want := attemptCodes(rec), []string{"DEADLINE_EXCEEDED", "OK"}; !reflect.DeepEqual(got, want) {
			t.Errorf("attempt codes = %q, want %q", got, want)
		}
		if got, want := e.srv.Previous(), []string{"", "1"}; !reflect.DeepEqual(got, want) {
			t.Errorf("grpc-previous-rpc-attempts = %q, want %q", got, want)
		}
	})
}

// TestCallerSideErrorKeepsItsClass: an error without a gRPC status comes
// from an interceptor chained after redress, on the caller's side: its own
// classification decides, whatever the method.
func TestCallerSideErrorKeepsItsClass(t *testing.T) {
	var failed atomic.Bool
	inner := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		if failed.CompareAndSwap(false, true) {
			return core.Transient(errors.New("token refresh failed"))
		}
		return invoker(ctx, method, req, reply, cc, opts...)
	}
	p, rec, _ := testPolicy(t, core.RetryConfig{})
	e := newEnv(t, redressgrpc.Config{Policy: p}, nil, grpc.WithChainUnaryInterceptor(inner))
	if _, err := e.client.UnaryCall(ctxTimeout(t, 5*time.Second), &testpb.SimpleRequest{}); err != nil {
		t.Fatalf("UnaryCall: %v", err)
	}
	if got := e.srv.Calls(); got != 1 {
		t.Errorf("server calls = %d, want 1 (the first attempt never left the client)", got)
	}
	if te := terminal(t, rec); te.Kind != core.EventSuccess || te.Attempt != 2 {
		t.Errorf("terminal = %s after %d attempts, want success after 2", te.Kind, te.Attempt)
	}
}
