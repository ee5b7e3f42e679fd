package core_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redress-go/redress/core"
	"github.com/redress-go/redress/core/coretest"
)

// Each local guard ends a refused call with its own terminal event, the
// rejected outcome and no attempt: a Throttler with throttled, a held
// breaker with held, an open breaker with circuit_rejected. A standalone
// breaker's refusal is published the same way on its own bus.
func TestLocalRejectionsHaveTheirOwnEvents(t *testing.T) {
	ctx := context.Background()
	down := func(context.Context) error { return core.Transient(errors.New("down")) }
	ok := func(context.Context) error { return nil }
	terminal := func(t *testing.T, rec *coretest.Recorder) core.Event {
		t.Helper()
		var last core.Event
		n := 0
		for _, e := range rec.All() {
			if e.Kind.Terminal() {
				last, n = e, n+1
			}
		}
		if n != 1 {
			t.Fatalf("%d terminal events, want 1: %v", n, rec.Names())
		}
		if rec.Count(core.EventAttemptStart) != 0 {
			t.Fatalf("a refused call made an attempt: %v", rec.Names())
		}
		return last
	}
	check := func(t *testing.T, e core.Event, kind core.EventKind, r core.StopReason) {
		t.Helper()
		if e.Kind != kind || e.StopReason != r || e.Outcome != core.OutcomeRejected || !e.Kind.Rejection() || !core.RejectionEvents.Has(e.Kind) {
			t.Fatalf("terminal %v (stop %v, outcome %v), want %v (stop %v, rejected)", e.Kind, e.StopReason, e.Outcome, kind, r)
		}
		if r.Event() != kind {
			t.Fatalf("%v.Event() = %v, want %v", r, r.Event(), kind)
		}
	}

	t.Run("throttled", func(t *testing.T) {
		th, _ := newThrottler(t, core.ThrottlerConfig{})
		rec := &coretest.Recorder{}
		p, err := core.NewPolicy(core.PolicyConfig{Throttler: th, Bus: core.NewBus(rec), Retry: core.RetryConfig{MaxAttempts: 1}})
		if err != nil {
			t.Fatal(err)
		}
		for range 1000 {
			rec.Reset()
			if r, _ := core.StopReasonOf(p.Run(ctx, down)); r == core.StopThrottled {
				check(t, terminal(t, rec), core.EventThrottled, core.StopThrottled)
				return
			}
		}
		t.Fatal("1000 calls to a dead downstream, none throttled")
	})

	t.Run("held", func(t *testing.T) {
		clk := coretest.NewFakeClock(coretest.StartTime)
		brRec := &coretest.Recorder{}
		br := mustBreaker(t, core.BreakerConfig{Clock: clk, Bus: core.NewBus(brRec)})
		rec := &coretest.Recorder{}
		p, err := core.NewPolicy(core.PolicyConfig{Breaker: br, Clock: clk, Sleeper: clk, Bus: core.NewBus(rec)})
		if err != nil {
			t.Fatal(err)
		}
		br.Hold(10 * time.Second)
		var he *core.HeldError
		if err := p.Run(ctx, ok); !errors.As(err, &he) || he.RetryIn != 10*time.Second {
			t.Fatalf("a call while held: %v, want a HeldError with 10s left", err)
		}
		check(t, terminal(t, rec), core.EventHeld, core.StopHeld)
		// Standalone: Allow refuses and the breaker's own bus says why.
		if _, err := br.Allow(); !errors.Is(err, core.ErrHeld) {
			t.Fatalf("standalone Allow while held: %v, want ErrHeld", err)
		}
		if brRec.Count(core.EventHeld) != 1 || brRec.Count(core.EventCircuitRejected) != 0 {
			t.Fatalf("the breaker's bus: %v, want one held event", brRec.Names())
		}
	})

	t.Run("circuit_rejected", func(t *testing.T) {
		clk := coretest.NewFakeClock(coretest.StartTime)
		br := mustBreaker(t, core.BreakerConfig{FailureThreshold: 1, RecoveryTimeout: time.Minute, Clock: clk})
		rec := &coretest.Recorder{}
		p, err := core.NewPolicy(core.PolicyConfig{Breaker: br, Clock: clk, Sleeper: clk, Bus: core.NewBus(rec), Retry: core.RetryConfig{MaxAttempts: 1}})
		if err != nil {
			t.Fatal(err)
		}
		_ = p.Run(ctx, down)
		rec.Reset()
		_ = p.Run(ctx, ok)
		check(t, terminal(t, rec), core.EventCircuitRejected, core.StopCircuitOpen)
	})
}

// A breaker with Throttle throttles the calls its closed state admits
// when the downstream refuses most of them with failures the breaker does
// not trip on (rate limits without a hint), stays closed doing so, never
// throttles its probes, and forgets the throttled window when it closes.
func TestBreakerThrottle(t *testing.T) {
	ctx := context.Background()
	clk := coretest.NewFakeClock(coretest.StartTime)
	cfg := core.DownstreamBreakerConfig()
	cfg.Clock = clk
	cfg.ConsecutiveFailures = 1
	br := mustBreaker(t, cfg)
	if br.Throttler() == nil {
		t.Fatal("DownstreamBreakerConfig: no throttler")
	}
	p, err := core.NewPolicy(core.PolicyConfig{Breaker: br, Clock: clk, Sleeper: clk, Retry: core.RetryConfig{MaxAttempts: 1}})
	if err != nil {
		t.Fatal(err)
	}
	limited := func(context.Context) error { return &core.StatusError{Code: 429} }
	sent, throttled := 0, 0
	for range 1000 {
		err := p.Run(ctx, func(ctx context.Context) error { sent++; return limited(ctx) })
		if errors.Is(err, core.ErrThrottled) {
			throttled++
			if r, _ := core.StopReasonOf(err); r != core.StopThrottled {
				t.Fatalf("throttled call: stop %v", r)
			}
		}
	}
	eq(t, "breaker state", br.State(), core.StateClosed) // 429 does not trip it
	if sent+throttled != 1000 || throttled < 500 {
		t.Fatalf("1000 calls to a rate-limited downstream: %d sent, %d throttled; want most throttled", sent, throttled)
	}
	// A standalone Allow is throttled the same way.
	refused := 0
	for range 100 {
		pm, err := br.Allow()
		if errors.Is(err, core.ErrThrottled) {
			refused++
			continue
		}
		pm.Failure(core.ClassRateLimit)
	}
	if refused < 50 {
		t.Fatalf("standalone Allow: %d of 100 throttled, want most", refused)
	}

	// Later, with a moderate rate limit in the throttler's window, an
	// outage opens the breaker (this one on one failure; the outage's
	// failures are not the throttler's to count); once the breaker closes
	// again, within the throttler's window, the throttler has forgotten the
	// rate limit.
	clk.Advance(3 * time.Second) // the flood leaves the window
	for range 10 {
		pm, err := br.Allow()
		if err != nil {
			t.Fatalf("after the window: %v", err)
		}
		pm.Success()
	}
	for range 40 {
		if pm, err := br.Allow(); err == nil {
			pm.Failure(core.ClassRateLimit)
		}
	}
	if p := br.Throttler().Probability(); p == 0 || p > 0.6 {
		t.Fatalf("throttling %v after 10 accepted and 40 rate-limited calls, want in (0, 0.6]", p)
	}
	for i := 0; br.State() != core.StateOpen && i < 1000; i++ {
		if pm, err := br.Allow(); err == nil {
			pm.Failure(core.ClassServerError)
		}
		clk.Advance(time.Millisecond)
	}
	eq(t, "after an outage", br.State(), core.StateOpen)
	clk.Advance(250 * time.Millisecond)
	if br.Throttler().Probability() == 0 {
		t.Fatal("the rate limit is still in the throttler's window: want throttling before the breaker closes")
	}
	for i := 0; br.State() != core.StateClosed && i < 1000; i++ {
		if pm, err := br.Allow(); err == nil {
			pm.Success()
		} else if errors.Is(err, core.ErrThrottled) {
			t.Fatalf("a probe or ramp call was throttled (state %v)", br.State())
		}
		clk.Advance(5 * time.Millisecond)
	}
	eq(t, "after recovery", br.State(), core.StateClosed)
	eq(t, "throttling after the breaker closed", br.Throttler().Probability(), 0.0)
}

// An invalid Throttle is named under BreakerConfig.
func TestBreakerThrottleConfig(t *testing.T) {
	_, err := core.NewBreaker(core.BreakerConfig{Throttle: &core.ThrottlerConfig{K: 0.5}})
	var ce *core.ConfigError
	if !errors.As(err, &ce) || ce.Field != "BreakerConfig.Throttle.K" {
		t.Fatalf("K 0.5: %v, want a ConfigError on BreakerConfig.Throttle.K", err)
	}
}

// With HoldWait, a call waits out a hold that ends in time instead of
// failing fast: before its first attempt, and in place of a shorter
// backoff before a retry; a hold longer than HoldWait, or past the
// caller's deadline, still fails fast.
func TestHoldWait(t *testing.T) {
	ctx := context.Background()
	setup := func(t *testing.T, wait time.Duration) (*core.Policy, *core.Breaker, *coretest.FakeClock) {
		clk := coretest.NewFakeClock(coretest.StartTime)
		br := mustBreaker(t, core.BreakerConfig{Clock: clk})
		p, err := core.NewPolicy(core.PolicyConfig{Breaker: br, Clock: clk, Sleeper: clk, Retry: core.RetryConfig{
			MaxAttempts: 2, Strategy: core.Constant(100 * time.Millisecond), HoldWait: wait,
		}})
		if err != nil {
			t.Fatal(err)
		}
		return p, br, clk
	}
	ok := func(context.Context) error { return nil }

	t.Run("before the first attempt", func(t *testing.T) {
		p, br, clk := setup(t, 15*time.Second)
		br.Hold(10 * time.Second)
		if err := p.Run(ctx, ok); err != nil {
			t.Fatalf("a call with HoldWait 15s during a 10s hold: %v, want it to wait and succeed", err)
		}
		eq(t, "waited", clk.Now().Sub(coretest.StartTime), 10*time.Second)
	})
	t.Run("too long", func(t *testing.T) {
		p, br, clk := setup(t, 5*time.Second)
		br.Hold(10 * time.Second)
		if err := p.Run(ctx, ok); !errors.Is(err, core.ErrHeld) {
			t.Fatalf("a 10s hold with HoldWait 5s: %v, want ErrHeld", err)
		}
		eq(t, "waited", clk.Now().Sub(coretest.StartTime), time.Duration(0))
	})
	t.Run("past the caller's deadline", func(t *testing.T) {
		p, br, clk := setup(t, 15*time.Second)
		br.Hold(10 * time.Second)
		dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := p.Run(dctx, ok); !errors.Is(err, core.ErrHeld) {
			t.Fatalf("a 10s hold for a caller with 5s left: %v, want ErrHeld", err)
		}
		eq(t, "waited", clk.Now().Sub(coretest.StartTime), time.Duration(0))
	})
	t.Run("before a retry", func(t *testing.T) {
		for _, wait := range []time.Duration{0, 5 * time.Second} {
			p, br, clk := setup(t, wait)
			n := 0
			err := p.Run(ctx, func(context.Context) error {
				n++
				if n == 1 {
					br.Hold(3 * time.Second) // another call got a hint meanwhile
					return core.Transient(errors.New("reset"))
				}
				return nil
			})
			if wait == 0 {
				if !errors.Is(err, core.ErrHeld) || n != 1 {
					t.Fatalf("no HoldWait: %v after %d attempts, want ErrHeld after 1", err, n)
				}
				continue
			}
			if err != nil || n != 2 {
				t.Fatalf("HoldWait 5s: %v after %d attempts, want success after 2", err, n)
			}
			eq(t, "slept the hold, not the 100ms backoff", clk.Now().Sub(coretest.StartTime), 3*time.Second)
		}
	})
	t.Run("config", func(t *testing.T) {
		_, err := core.NewPolicy(core.PolicyConfig{Retry: core.RetryConfig{HoldWait: -time.Second}})
		var ce *core.ConfigError
		if !errors.As(err, &ce) || ce.Field != "Retry.HoldWait" {
			t.Fatalf("negative HoldWait: %v, want a ConfigError on Retry.HoldWait", err)
		}
	})
}
