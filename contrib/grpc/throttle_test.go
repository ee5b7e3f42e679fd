package redressgrpc_test

import (
	"errors"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	testpb "google.golang.org/grpc/interop/grpc_testing"

	redressgrpc "github.com/redress-go/redress/contrib/grpc"
	"github.com/redress-go/redress/core"
)

// With the default per-target breaker, a server that answers nearly every
// call with RESOURCE_EXHAUSTED and no pushback is throttled client-side:
// the breaker does not trip on rate limits, its throttler sends the target
// about twice what it accepts, and the calls refused locally end with
// ErrThrottled and the throttled event, unsent.
func TestDefaultInterceptorThrottlesARateLimitedTarget(t *testing.T) {
	const calls = 300
	script := make([]fault, 10*calls)
	for i := range script {
		script[i] = fault{code: codes.ResourceExhausted, msg: "busy"}
		if i%10 == 9 {
			script[i] = fault{} // one in ten accepted
		}
	}
	p, rec, clk := testPolicy(t, core.RetryConfig{MaxAttempts: 3})
	br := redressgrpc.DefaultBreakerConfig()
	br.Clock = clk // the throttler's window on the fake clock: no real time in the test
	e := newEnv(t, redressgrpc.Config{Policy: p, Breaker: &br}, script)
	throttled := 0
	for range calls {
		_, err := e.client.EmptyCall(ctxTimeout(t, 5*time.Second), &testpb.Empty{})
		if errors.Is(err, core.ErrThrottled) {
			throttled++
		}
	}
	hits := e.srv.Calls()
	t.Logf("%d calls: %d reached the server, %d throttled locally", calls, hits, throttled)
	// The throttler refuses at random (probability from its window), so
	// the hits vary from run to run: 32-62 of 300 gRPC calls and 54-88 of
	// 500 HTTP calls over 40 runs each. A quarter leaves room for the tail;
	// without the throttler every call would reach the server, up to three
	// times.
	if throttled < calls/2 || hits > calls/4 {
		t.Fatalf("%d calls: %d reached the rate-limited server, %d throttled; want most throttled and at most a quarter as many hits as calls", calls, hits, throttled)
	}
	if n := rec.Count(core.EventThrottled); n != throttled {
		t.Fatalf("%d throttled events for %d throttled calls", n, throttled)
	}
}
