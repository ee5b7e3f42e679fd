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
