package redresshttp

import (
	"errors"
	"net/http"
	"testing"

	"github.com/redress-go/redress/core"
)

// With the default per-host breaker, a host that answers nearly every
// request with 429 and no Retry-After hint is throttled client-side: the
// breaker does not trip on rate limits, its throttler sends the host about
// twice what it accepts, and the calls refused locally end with
// ErrThrottled and the throttled event, unsent. A second host is not
// affected.
func TestDefaultTransportThrottlesARateLimitedHost(t *testing.T) {
	limited := newFaultServer(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n%10 == 0 {
			w.WriteHeader(http.StatusOK) // one in ten accepted
			return
		}
		w.WriteHeader(http.StatusTooManyRequests)
	})
	healthy := newFaultServer(t, statuses(http.StatusOK))
	p, rec, clk := testPolicy(t, nil)
	tmpl := DefaultBreakerConfig()
	tmpl.Clock = clk // the throttler's window on the fake clock: no real time in the test
	c, rt := newTestClient(t, nil, Config{Policy: p, Breaker: &tmpl})
	const calls = 500
	throttled := 0
	for range calls {
		resp, err := c.Get(limited.URL)
		if err == nil {
			resp.Body.Close()
			continue
		}
		if !errors.Is(err, core.ErrThrottled) {
			continue // out of attempts or budget on 429s
		}
		throttled++
		if r, _ := core.StopReasonOf(err); r != core.StopThrottled {
			t.Fatalf("a throttled call stopped with %v", r)
		}
	}
	hits := limited.NumHits()
	t.Logf("%d calls: %d hits at the host, %d throttled locally", calls, hits, throttled)
	// The throttler refuses at random (probability from its window), so
	// the hits vary from run to run: 32-62 of 300 gRPC calls and 54-88 of
	// 500 HTTP calls over 40 runs each. A quarter leaves room for the tail;
	// without the throttler every call would reach the server, up to three
	// times.
	if throttled < calls/2 || hits > calls/4 {
		t.Fatalf("%d calls: %d hits at the rate-limited host, %d throttled; want most calls throttled and at most a fifth as many hits as calls (unthrottled: up to %d)", calls, hits, throttled, 3*calls)
	}
	if n := len(eventsOf(rec, core.EventThrottled)); n != throttled {
		t.Fatalf("%d throttled events for %d throttled calls", n, throttled)
	}
	br := rt.Breaker(limited.Listener.Addr().String())
	if br == nil || br.State() != core.StateClosed || br.Throttler() == nil || br.Throttler().Rejected() == 0 {
		t.Fatalf("the host's breaker: %v; want closed, its throttler rejecting", br)
	}
	for range 20 {
		resp, err := c.Get(healthy.URL)
		if err != nil {
			t.Fatalf("the healthy host: %v", err)
		}
		resp.Body.Close()
	}
}
