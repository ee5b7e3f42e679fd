package core_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redress-go/redress/core"
	"github.com/redress-go/redress/core/coretest"
)

func newBreaker(t *testing.T, cfg core.BreakerConfig) (*core.Breaker, *coretest.FakeClock, *coretest.Recorder) {
	t.Helper()
	clk := coretest.NewFakeClock(coretest.StartTime)
	rec := &coretest.Recorder{}
	cfg.Clock = clk
	cfg.Bus = core.NewBus(rec)
	return mustBreaker(t, cfg), clk, rec
}

func fail(t *testing.T, b *core.Breaker, c core.Class) {
	t.Helper()
	p, err := b.Allow()
	if err != nil {
		t.Fatalf("Allow: %v", err)
	}
	p.Failure(c)
}

func succeed(t *testing.T, b *core.Breaker) {
	t.Helper()
	p, err := b.Allow()
	if err != nil {
		t.Fatalf("Allow: %v", err)
	}
	p.Success()
}

func TestBreakerOpensOnThresholdWithinWindow(t *testing.T) {
	b, clk, rec := newBreaker(t, core.BreakerConfig{FailureThreshold: 3, Window: 10 * time.Second})
	fail(t, b, core.ClassTransient)
	fail(t, b, core.ClassServerError)
	clk.Advance(11 * time.Second) // both fall out of the window
	fail(t, b, core.ClassTransient)
	fail(t, b, core.ClassTransient)
	eq(t, "state after 2 in window", b.State(), core.StateClosed)
	fail(t, b, core.ClassTransient)
	eq(t, "state", b.State(), core.StateOpen)
	eq(t, "events", rec.Names(), []string{"circuit_opened"})
}

func TestBreakerIgnoresClassesNotInTripOn(t *testing.T) {
	b, _, _ := newBreaker(t, core.BreakerConfig{FailureThreshold: 2})
	for range 10 {
		fail(t, b, core.ClassPermanent)
		fail(t, b, core.ClassRateLimit)
	}
	eq(t, "state", b.State(), core.StateClosed)
}

func TestBreakerPerClassThreshold(t *testing.T) {
	b, _, _ := newBreaker(t, core.BreakerConfig{FailureThreshold: 100, ClassThresholds: map[core.Class]int{core.ClassRateLimit: 3}})
	fail(t, b, core.ClassRateLimit)
	fail(t, b, core.ClassRateLimit)
	eq(t, "state", b.State(), core.StateClosed)
	fail(t, b, core.ClassRateLimit)
	eq(t, "state", b.State(), core.StateOpen)
}

func TestBreakerFailureRatioNeedsMinCalls(t *testing.T) {
	b, _, _ := newBreaker(t, core.BreakerConfig{FailureRatio: 0.5, MinCalls: 10})
	for range 4 {
		succeed(t, b)
		fail(t, b, core.ClassTransient)
	}
	eq(t, "state below min calls", b.State(), core.StateClosed)
	succeed(t, b)
	fail(t, b, core.ClassTransient) // 10 calls, 5 failures: ratio 0.5
	eq(t, "state", b.State(), core.StateOpen)

	b2, _, _ := newBreaker(t, core.BreakerConfig{FailureRatio: 0.5, MinCalls: 10})
	for range 20 {
		succeed(t, b2)
		succeed(t, b2)
		fail(t, b2, core.ClassTransient) // ratio 1/3
	}
	eq(t, "state at 1/3", b2.State(), core.StateClosed)
}

func TestBreakerRecoveryAndProbes(t *testing.T) {
	b, clk, rec := newBreaker(t, core.BreakerConfig{FailureThreshold: 1, RecoveryTimeout: 30 * time.Second, HalfOpenProbes: 2})
	fail(t, b, core.ClassTransient)
	_, err := b.Allow()
	var coe *core.CircuitOpenError
	if !errors.As(err, &coe) || coe.RetryIn != 30*time.Second {
		t.Fatalf("want rejection with RetryIn 30s, got %v", err)
	}
	clk.Advance(30 * time.Second)
	p1, err1 := b.Allow()
	p2, err2 := b.Allow()
	_, err3 := b.Allow()
	if err1 != nil || err2 != nil || err3 == nil {
		t.Fatalf("half-open should admit exactly 2 probes: %v %v %v", err1, err2, err3)
	}
	eq(t, "state", b.State(), core.StateHalfOpen)
	p1.Cancel() // neutral: frees its slot
	p3, err := b.Allow()
	if err != nil {
		t.Fatalf("a cancelled probe should free its slot: %v", err)
	}
	p2.Failure(core.ClassServerError) // probe failure reopens
	eq(t, "state", b.State(), core.StateOpen)
	p3.Success() // stale permit from the previous half-open period: ignored
	eq(t, "state", b.State(), core.StateOpen)
	clk.Advance(30 * time.Second)
	succeed(t, b)
	eq(t, "state", b.State(), core.StateClosed)
	eq(t, "events", rec.Names(), []string{
		"circuit_opened", "circuit_rejected", "circuit_half_open", "circuit_rejected",
		"circuit_opened", "circuit_half_open", "circuit_closed",
	})
	eq(t, "rejections", b.Rejections(), uint64(2))
}

func TestBreakerProbeWithHealthyFailureCloses(t *testing.T) {
	b, clk, _ := newBreaker(t, core.BreakerConfig{FailureThreshold: 1})
	fail(t, b, core.ClassTransient)
	clk.Advance(time.Minute)
	fail(t, b, core.ClassPermanent) // the downstream answered: healthy
	eq(t, "state", b.State(), core.StateClosed)
}

func TestBreakerSuccessesAreFoldedIntoTheWindow(t *testing.T) {
	// 90 successes then 10 failures: ratio 0.1 stays below 0.2.
	b, clk, _ := newBreaker(t, core.BreakerConfig{FailureRatio: 0.2, MinCalls: 10, Window: time.Minute})
	for range 90 {
		succeed(t, b)
	}
	clk.Advance(time.Second)
	for range 10 {
		fail(t, b, core.ClassTransient)
	}
	eq(t, "state", b.State(), core.StateClosed)
	// Successes long before the window count only in proportion.
	b2, clk2, _ := newBreaker(t, core.BreakerConfig{FailureRatio: 0.2, MinCalls: 10, Window: time.Minute})
	for range 1000 {
		succeed(t, b2)
	}
	clk2.Advance(100 * time.Minute) // ~10 of the 1000 fall within the window
	for range 3 {
		fail(t, b2, core.ClassTransient) // 3 of 13: 0.23
	}
	eq(t, "state after stale successes", b2.State(), core.StateOpen)
}

func TestBreakerReset(t *testing.T) {
	b, _, rec := newBreaker(t, core.BreakerConfig{FailureThreshold: 1})
	fail(t, b, core.ClassTransient)
	b.Reset()
	eq(t, "state", b.State(), core.StateClosed)
	eq(t, "events", rec.Names(), []string{"circuit_opened", "circuit_closed"})
}

func TestBreakerHalfOpenNeverAdmitsMoreProbesThanConfigured(t *testing.T) {
	clk := coretest.NewFakeClock(coretest.StartTime)
	b := mustBreaker(t, core.BreakerConfig{FailureThreshold: 1, HalfOpenProbes: 3, Clock: clk})
	fail(t, b, core.ClassTransient)
	clk.Advance(time.Hour)
	var inflight, peak atomic.Int64
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				p, err := b.Allow()
				if err != nil {
					continue
				}
				n := inflight.Add(1)
				for {
					old := peak.Load()
					if n <= old || peak.CompareAndSwap(old, n) {
						break
					}
				}
				inflight.Add(-1)
				p.Cancel()
			}
		}()
	}
	wg.Wait()
	if peak.Load() > 3 {
		t.Errorf("peak concurrent probes = %d, want <= 3", peak.Load())
	}
	eq(t, "state", b.State(), core.StateHalfOpen)
}

func TestPolicyBreakerCancelledProbeIsNeutral(t *testing.T) {
	clk := coretest.NewFakeClock(coretest.StartTime)
	br := mustBreaker(t, core.BreakerConfig{FailureThreshold: 1, Clock: clk})
	p, err := core.NewPolicy(core.PolicyConfig{Breaker: br, Clock: clk, Sleeper: clk})
	if err != nil {
		t.Fatal(err)
	}
	fail(t, br, core.ClassTransient)
	clk.Advance(time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	_ = p.Run(ctx, func(ctx context.Context) error { cancel(); return ctx.Err() })
	eq(t, "state after cancelled probe", br.State(), core.StateHalfOpen)
	// The slot is free again: the next probe goes through and closes it.
	eq(t, "err", p.Run(context.Background(), func(context.Context) error { return nil }), nil)
	eq(t, "state", br.State(), core.StateClosed)
}

// A probe whose operation panics releases its slot: the breaker is not left
// half-open and rejecting for ever.
func TestPanickingProbeReleasesItsSlot(t *testing.T) {
	clk := coretest.NewFakeClock(coretest.StartTime)
	br := mustBreaker(t, core.BreakerConfig{FailureThreshold: 1, Clock: clk})
	p, _ := core.NewPolicy(core.PolicyConfig{Breaker: br, Clock: clk, Sleeper: clk})
	fail(t, br, core.ClassTransient)
	clk.Advance(time.Hour)
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("the panic did not reach the caller")
			}
		}()
		_ = p.Run(context.Background(), func(context.Context) error { panic("boom") })
	}()
	eq(t, "err after a panicking probe", p.Run(context.Background(), func(context.Context) error { return nil }), nil)
	eq(t, "state", br.State(), core.StateClosed)
}

// A permit dropped without a verdict does not wedge the breaker: after a
// recovery timeout a new probe period begins.
func TestDroppedProbeExpires(t *testing.T) {
	b, clk, _ := newBreaker(t, core.BreakerConfig{FailureThreshold: 1, RecoveryTimeout: time.Minute})
	fail(t, b, core.ClassTransient)
	clk.Advance(time.Minute)
	if _, err := b.Allow(); err != nil { // dropped: no Success, Failure or Cancel
		t.Fatal(err)
	}
	if _, err := b.Allow(); err == nil {
		t.Fatal("a second probe was admitted")
	}
	clk.Advance(time.Minute)
	succeed(t, b)
	eq(t, "state", b.State(), core.StateClosed)
}

// ConsecutiveFailures opens a breaker whose window is full of healthy
// calls: a ratio breaker alone would need as many failures as the window
// holds successes. A healthy call (or a failure of a class that does not
// trip) breaks the run.
func TestBreakerConsecutiveFailuresIgnoreTheHistory(t *testing.T) {
	b, clk, rec := newBreaker(t, core.BreakerConfig{FailureRatio: 0.5, MinCalls: 10, Window: 10 * time.Second, ConsecutiveFailures: 5})
	for range 5000 { // 5 s of healthy traffic at 1,000 calls/s
		succeed(t, b)
	}
	clk.Advance(5 * time.Second)
	for range 4 {
		fail(t, b, core.ClassTransient)
	}
	succeed(t, b) // breaks the run
	for range 3 {
		fail(t, b, core.ClassServerError)
	}
	fail(t, b, core.ClassRateLimit) // the server answered: breaks it too
	for range 4 {
		fail(t, b, core.ClassTransient)
	}
	eq(t, "state after runs of 4", b.State(), core.StateClosed)
	fail(t, b, core.ClassTransient)
	eq(t, "state after 5 in a row", b.State(), core.StateOpen)
	eq(t, "events", rec.Names(), []string{"circuit_opened"})
}

// With RampUp a half-open breaker admits its probes and a share of the
// other calls that grows with the time since it went half-open; a probe's
// success before the ramp's end keeps it half-open (its slot serves the
// next probe), the first success after it closes the breaker, and a
// failure anywhere in the ramp reopens it.
func TestBreakerRampUp(t *testing.T) {
	b, clk, rec := newBreaker(t, core.BreakerConfig{ConsecutiveFailures: 1, RecoveryTimeout: time.Second, RampUp: time.Second, HalfOpenProbes: 1})
	fail(t, b, core.ClassTransient)
	eq(t, "opened", b.State(), core.StateOpen)
	clk.Advance(time.Second)
	probe, err := b.Allow()
	if err != nil {
		t.Fatalf("probe refused: %v", err)
	}
	eq(t, "half-open", b.State(), core.StateHalfOpen)
	share := func() float64 {
		const n = 20000
		admitted := 0
		for range n {
			if p, err := b.Allow(); err == nil {
				admitted++
				p.Cancel()
			}
		}
		return float64(admitted) / n
	}
	if got := share(); got != 0 {
		t.Fatalf("at the ramp's start, with the probe out: %.3f of the calls admitted, want 0", got)
	}
	clk.Advance(250 * time.Millisecond)
	if got := share(); got < 0.22 || got > 0.28 {
		t.Fatalf("a quarter into the ramp: %.3f of the calls admitted, want ~0.25", got)
	}
	probe.Success() // before the ramp's end: still half-open, the slot is free
	eq(t, "after an early success", b.State(), core.StateHalfOpen)
	probe, err = b.Allow() // the freed slot: held while the share is measured
	if err != nil {
		t.Fatalf("the probe's slot was not freed: %v", err)
	}
	clk.Advance(500 * time.Millisecond)
	if got := share(); got < 0.72 || got > 0.78 {
		t.Fatalf("three quarters into the ramp: %.3f admitted, want ~0.75", got)
	}
	clk.Advance(250 * time.Millisecond)
	if got := share(); got != 1 {
		t.Fatalf("after the ramp: %.3f admitted, want all", got)
	}
	probe.Cancel()
	succeed(t, b)
	eq(t, "after a success past the ramp", b.State(), core.StateClosed)

	// During the ramp a few failures do not reopen it; failures that are
	// the majority (at least 3) do.
	fail(t, b, core.ClassTransient)
	clk.Advance(time.Second)
	succeed(t, b) // the probe: half-open, still ramping (1 success)
	clk.Advance(500 * time.Millisecond)
	admitted := func() core.Permit {
		for {
			if p, err := b.Allow(); err == nil {
				return p
			}
		}
	}
	admitted().Failure(core.ClassTransient)
	eq(t, "after one failure in the ramp", b.State(), core.StateHalfOpen)
	admitted().Failure(core.ClassTransient)
	eq(t, "after two", b.State(), core.StateHalfOpen)
	admitted().Failure(core.ClassTransient)
	eq(t, "after three failures against one success", b.State(), core.StateOpen)
	var transitions []string
	for _, n := range rec.Names() {
		if n != "circuit_rejected" {
			transitions = append(transitions, n)
		}
	}
	eq(t, "transitions", transitions, []string{"circuit_opened", "circuit_half_open", "circuit_closed", "circuit_opened", "circuit_half_open", "circuit_opened"})
}

func TestBreakerRampConfigErrors(t *testing.T) {
	for field, cfg := range map[string]core.BreakerConfig{
		"BreakerConfig.ConsecutiveFailures": {ConsecutiveFailures: -1},
		"BreakerConfig.RampUp":              {RampUp: -time.Second},
	} {
		_, err := core.NewBreaker(cfg)
		var ce *core.ConfigError
		if !errors.As(err, &ce) || ce.Field != field {
			t.Errorf("%s: err %v, want a ConfigError naming it", field, err)
		}
	}
}

// A rate limit or server error with a Retry-After hint holds the call's
// breaker: until the hint elapses every other call fails fast, unsent,
// with a *HeldError carrying the remaining wait (StopHeld), while the call
// that got the hint sleeps it and retries; a hint on a client error holds
// nothing. Hold never shortens a hold in force.
func TestRetryAfterHoldsTheBreaker(t *testing.T) {
	clk := coretest.NewFakeClock(coretest.StartTime)
	br := mustBreaker(t, core.BreakerConfig{Clock: clk})
	var p *core.Policy
	var during error // another call's error while the hinted call sleeps
	p, err := core.NewPolicy(core.PolicyConfig{Breaker: br, Clock: clk, Sleeper: clk, Retry: core.RetryConfig{
		MaxAttempts: 2, Strategy: core.RetryAfterOr(core.Constant(0), 0),
		BeforeSleep: func(ctx context.Context, _ core.SleepInfo) {
			if during == nil {
				during = p.Run(context.Background(), func(context.Context) error { return nil })
			}
		},
	}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	hint := func(code int) error { return &core.StatusError{Code: code, Hint: 10 * time.Second} }
	sent := 0
	// The first call: a 429 asking for 10s; while it sleeps, others are refused.
	err = p.Run(ctx, func(context.Context) error {
		sent++
		if sent == 1 {
			return hint(429)
		}
		return nil // the retry, 10s later
	})
	if err != nil || sent != 2 {
		t.Fatalf("the hinted call: err %v after %d attempts, want success after 2", err, sent)
	}
	eq(t, "elapsed", clk.Now().Sub(coretest.StartTime), 10*time.Second)
	if !errors.Is(during, core.ErrHeld) {
		t.Fatalf("a call during the hint: %v, want it refused as held", during)
	}

	br.Hold(20 * time.Second)
	br.Hold(time.Second) // shorter: ignored
	clk.Advance(5 * time.Second)
	called := false
	err = p.Run(ctx, func(context.Context) error { called = true; return nil })
	var he *core.HeldError
	if called || !errors.As(err, &he) || !errors.Is(err, core.ErrHeld) || he.RetryIn != 15*time.Second {
		t.Fatalf("during the hold: called %v, err %v; want a HeldError with 15s left, unsent", called, err)
	}
	if r, _ := core.StopReasonOf(err); r != core.StopHeld {
		t.Errorf("stop reason %v, want held", r)
	}
	if cl := core.DefaultClassifier(err); cl.Class != core.ClassRateLimit || cl.RetryAfter != 15*time.Second {
		t.Errorf("HeldError classified %+v, want rate_limit with the remaining wait", cl)
	}
	clk.Advance(15 * time.Second)
	if err := p.Run(ctx, func(context.Context) error { return nil }); err != nil {
		t.Fatalf("after the hold: %v", err)
	}
	// A 400 with a hint holds nothing.
	_ = p.Run(ctx, func(context.Context) error { return hint(400) })
	if err := p.Run(ctx, func(context.Context) error { return nil }); err != nil {
		t.Fatalf("after a hinted 400: %v, want no hold", err)
	}
}
