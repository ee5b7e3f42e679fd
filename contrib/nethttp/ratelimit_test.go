package redresshttp

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/redress-go/redress/core"
	"github.com/redress-go/redress/core/coretest"
)

// TestRateLimiterOverLoopback: a rate limiter in wait mode spaces the
// requests to a real server on loopback (on a fake clock: the waits are
// recorded, not slept); in reject mode the request beyond the burst never
// reaches the server and fails with the limiter's typed error.
func TestRateLimiterOverLoopback(t *testing.T) {
	srv := newFaultServer(t, statuses(http.StatusOK))
	clk := coretest.NewFakeClock(coretest.StartTime)
	wait, err := core.NewRateLimiter(core.RateLimiterConfig{Name: "api", Rate: 20, Burst: 1, MaxWait: time.Second, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	p, rec, _ := testPolicy(t, func(pc *core.PolicyConfig) { pc.Limiter, pc.Clock, pc.Sleeper = wait, clk, clk })
	client, _ := newTestClient(t, nil, Config{Policy: p})
	for range 3 {
		resp, err := client.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		readBody(t, resp)
	}
	if n := srv.NumHits(); n != 3 {
		t.Errorf("hits = %d, want 3", n)
	}
	if s := clk.Sleeps(); len(s) != 2 || s[0] != 50*time.Millisecond || s[1] != 50*time.Millisecond {
		t.Errorf("waits %v, want two of 50ms (20/s, burst 1)", s)
	}
	if n := rec.Count(core.EventRateLimitWait); n != 2 {
		t.Errorf("%d rate_limit_wait events, want 2", n)
	}

	reject, err := core.NewRateLimiter(core.RateLimiterConfig{Name: "api", Rate: 20, Burst: 1, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	p2, _, _ := testPolicy(t, func(pc *core.PolicyConfig) { pc.Limiter, pc.Clock, pc.Sleeper = reject, clk, clk })
	client2, _ := newTestClient(t, nil, Config{Policy: p2})
	resp, err := client2.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	readBody(t, resp)
	resp, err = client2.Get(srv.URL)
	if err == nil {
		resp.Body.Close()
		t.Fatal("second request within 50ms went through a rejecting limiter")
	}
	var le *core.LimitedError
	if !errors.As(err, &le) || le.Limiter != "api" {
		t.Errorf("err = %v, want a *LimitedError of api", err)
	}
	if n := srv.NumHits(); n != 4 {
		t.Errorf("hits = %d, want 4: the refused request never reached the server", n)
	}
}
