package core_test

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/redress-go/redress/core"
	"github.com/redress-go/redress/core/coretest"
)

func newThrottler(t *testing.T, cfg core.ThrottlerConfig) (*core.Throttler, *coretest.FakeClock) {
	t.Helper()
	clk := coretest.NewFakeClock(coretest.StartTime)
	cfg.Clock = clk
	th, err := core.NewThrottler(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return th, clk
}

// While the downstream accepts everything, nothing is rejected; when it
// accepts nothing, the rejection probability follows the SRE formula
// (requests − K·accepts)/(requests + 1) over the window, healthy history
// included, and falls back to zero once accepts return and the failures
// leave the window.
func TestThrottlerFormula(t *testing.T) {
	th, clk := newThrottler(t, core.ThrottlerConfig{K: 2, Window: 2 * time.Second, MaxRejection: 1, MinRequests: 100})
	for range 100 {
		if !th.Allow() {
			t.Fatal("a healthy downstream's request was rejected")
		}
		th.Record(true)
	}
	eq(t, "healthy probability", th.Probability(), 0.0)
	// 300 failures: 400 requests, 100 accepts: (400 - 200) / 401.
	for range 300 {
		th.Record(false)
	}
	if got, want := th.Probability(), 200.0/401; math.Abs(got-want) > 1e-9 {
		t.Fatalf("probability %v, want %v", got, want)
	}
	// The healthy history leaves the window: only failures remain.
	clk.Advance(1500 * time.Millisecond)
	for range 100 {
		th.Record(false)
	}
	clk.Advance(time.Second) // the first 100 accepts and 300 failures are out
	if got, want := th.Probability(), 100.0/101; math.Abs(got-want) > 1e-9 {
		t.Fatalf("after the history left the window: probability %v, want %v", got, want)
	}
	// Accepts come back: the probability falls to zero.
	for range 99 {
		th.Record(true)
	}
	if got, want := th.Probability(), 1.0/200; math.Abs(got-want) > 1e-9 {
		t.Fatalf("after 99 accepts against 100 failures: probability %v, want %v", got, want)
	}
	th.Record(true)
	eq(t, "after 100 accepts against 100 failures (K = 2)", th.Probability(), 0.0)
}

// Requests rejected locally count as requests: the rejection rate of a
// downstream that stays down climbs toward 1, and about a share p of the
// requests is rejected.
func TestThrottlerRejectsLocally(t *testing.T) {
	th, _ := newThrottler(t, core.ThrottlerConfig{})
	for range 100 {
		th.Record(false)
	}
	p := th.Probability()
	const n = 10000
	rejected := 0
	for range n {
		if !th.Allow() {
			rejected++
		} else {
			th.Record(false)
		}
	}
	if share := float64(rejected) / n; share < p-0.05 {
		t.Fatalf("rejected %.3f of the requests, want at least ~%.3f", share, p)
	}
	eq(t, "probability after a long outage (MaxRejection)", th.Probability(), 0.9)
	eq(t, "Rejected", th.Rejected(), uint64(rejected))
}

// Below MinRequests in the window nothing is rejected, whatever the
// share accepted: a quiet client's first failures do not throttle it.
func TestThrottlerMinRequests(t *testing.T) {
	th, _ := newThrottler(t, core.ThrottlerConfig{MaxRejection: 1})
	for range 9 {
		th.Record(false)
	}
	eq(t, "after 9 failures (default MinRequests 10)", th.Probability(), 0.0)
	th.Record(false)
	if got, want := th.Probability(), 10.0/11; math.Abs(got-want) > 1e-9 {
		t.Fatalf("after 10 failures: probability %v, want %v", got, want)
	}
	bare, _ := newThrottler(t, core.ThrottlerConfig{MinRequests: 1, MaxRejection: 1})
	bare.Record(false)
	eq(t, "bare formula after one failure", bare.Probability(), 0.5)
}

// After a long outage the throttler still sends a tenth of the requests
// (MaxRejection 0.9) and forgets its window once MinRequests of them in a
// row are accepted: it stops rejecting within a few tens of milliseconds
// of the downstream healing (1000 requests per second), not after the
// window's refusals have aged out. A downstream that accepts one request
// in ten never makes it forget.
func TestThrottlerRecoversFromALongOutage(t *testing.T) {
	th, clk := newThrottler(t, core.ThrottlerConfig{})
	run := func(d time.Duration, accept func() bool) {
		for range d / time.Millisecond {
			if th.Allow() {
				th.Record(accept())
			}
			clk.Advance(time.Millisecond)
		}
	}
	n := 0
	run(5*time.Second, func() bool { n++; return n%10 == 0 }) // one in ten accepted
	if p := th.Probability(); p < 0.5 {
		t.Fatalf("probability %v after 5s of a downstream accepting one request in ten, want it throttled", p)
	}
	healed := clk.Now()
	for th.Probability() > 0 && clk.Now().Sub(healed) < 10*time.Second {
		run(time.Millisecond, func() bool { return true })
	}
	took := clk.Now().Sub(healed)
	t.Logf("rejecting nothing %v after the downstream healed", took)
	if took > 250*time.Millisecond {
		t.Fatalf("still rejecting %v after the downstream healed, want within 250ms", took)
	}
}

func TestThrottlerConfigErrors(t *testing.T) {
	for field, cfg := range map[string]core.ThrottlerConfig{
		"ThrottlerConfig.K":            {K: 0.5},
		"ThrottlerConfig.Window":       {Window: -time.Second},
		"ThrottlerConfig.MinRequests":  {MinRequests: -1},
		"ThrottlerConfig.MaxRejection": {MaxRejection: 1.5},
	} {
		_, err := core.NewThrottler(cfg)
		var ce *core.ConfigError
		if !errors.As(err, &ce) || ce.Field != field {
			t.Errorf("%s: err %v, want a ConfigError naming it", field, err)
		}
	}
	if _, err := core.NewThrottler(core.ThrottlerConfig{K: math.NaN()}); err == nil {
		t.Error("K NaN accepted")
	}
}

// Inside a policy, the throttler rejects attempts locally while the
// downstream accepts too few requests: the call stops with StopThrottled
// and a *ThrottledError before any attempt, and a client error counts as
// accepted (the downstream answered).
func TestThrottlerInAPolicy(t *testing.T) {
	th, _ := newThrottler(t, core.ThrottlerConfig{})
	p, err := core.NewPolicy(core.PolicyConfig{Throttler: th, Retry: core.RetryConfig{MaxAttempts: 1}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for range 100 {
		_ = p.Run(ctx, func(context.Context) error { return core.Permanent(errors.New("bad request")) })
	}
	eq(t, "after client errors", th.Probability(), 0.0)
	sent, throttled := 0, 0
	for range 2000 {
		err := p.Run(ctx, func(context.Context) error { sent++; return core.Transient(errors.New("down")) })
		if r, _ := core.StopReasonOf(err); r == core.StopThrottled {
			throttled++
			var te *core.ThrottledError
			if !errors.As(err, &te) || !errors.Is(err, core.ErrThrottled) {
				t.Fatalf("throttled call: %v, want a *ThrottledError", err)
			}
		}
	}
	// Twice the 100 accepts pass before any rejection, then the rejection
	// rate climbs toward 1: about 600 are sent (the spread is ~±25).
	if throttled < 1200 || sent > 800 || sent+throttled != 2000 {
		t.Fatalf("%d of 2000 calls throttled, %d sent; want ≥ 1200 throttled, ≤ 800 sent, and every call one or the other", throttled, sent)
	}
}
