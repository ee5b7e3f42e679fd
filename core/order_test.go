package core_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redress-go/redress/core"
	"github.com/redress-go/redress/core/coretest"
)

// The tests of this file check the order of a policy's components
// (docs/components.md#the-order): each puts two neighbours in conflict and
// asserts which one decides.

// switchLimiter is a Limiter that refuses while closed is set.
type switchLimiter struct{ closed bool }

func (l *switchLimiter) Allow() (bool, time.Duration) { return !l.closed, time.Second }
func (l *switchLimiter) Name() string                 { return "switch" }

// TestOrderFallbackOutsideEverything: the fallback sees the rejections
// made before any attempt (a spent rate) and the failures after the
// retries, each with its own stop reason.
func TestOrderFallbackOutsideEverything(t *testing.T) {
	lim := &switchLimiter{closed: true}
	var reasons []core.StopReason
	f := newFixture(t, core.PolicyConfig{
		Limiter: lim,
		Retry:   core.RetryConfig{MaxAttempts: 2, Strategy: core.Constant(0)},
		Fallback: func(_ context.Context, info core.FallbackInfo) (any, error) {
			reasons = append(reasons, info.StopReason)
			return nil, nil
		},
	})
	fail := func(context.Context) error { return coretest.ClassErr(core.ClassServerError) }
	eq(t, "limited call", f.p.Run(context.Background(), fail), nil)
	lim.closed = false
	eq(t, "failing call", f.p.Run(context.Background(), fail), nil)
	eq(t, "fallback stop reasons", reasons, []core.StopReason{core.StopLimited, core.StopMaxAttempts})
}

// TestOrderLimiterBeforeBreaker: a half-open breaker's probe is not spent
// on an attempt the rate limiter refuses: the next admitted call gets it
// and closes the breaker.
func TestOrderLimiterBeforeBreaker(t *testing.T) {
	clk := coretest.NewFakeClock(coretest.StartTime)
	br := mustBreaker(t, core.BreakerConfig{Name: "b", FailureThreshold: 1, RecoveryTimeout: time.Second, HalfOpenProbes: 1, Clock: clk})
	lim := &switchLimiter{}
	f := newFixture(t, core.PolicyConfig{Breaker: br, Limiter: lim, Retry: core.RetryConfig{MaxAttempts: 1}, Clock: clk, Sleeper: clk})
	_ = f.p.Run(context.Background(), func(context.Context) error { return coretest.ClassErr(core.ClassServerError) })
	eq(t, "after the failure", br.State(), core.StateOpen)
	clk.Advance(2 * time.Second) // past the recovery timeout: the next admission is a probe

	lim.closed = true
	calls := 0
	op := func(context.Context) error { calls++; return nil }
	err := f.p.Run(context.Background(), op)
	var le *core.LimitedError
	if !errors.As(err, &le) {
		t.Fatalf("err = %v, want the limiter's refusal", err)
	}
	eq(t, "attempts while limited", calls, 0)

	lim.closed = false
	eq(t, "probe call", f.p.Run(context.Background(), op), nil)
	eq(t, "attempts", calls, 1)
	eq(t, "breaker after the probe", br.State(), core.StateClosed)
}

// TestOrderAttemptTimeoutInsideBreaker: an attempt cut by the attempt
// timeout is a failure the breaker counts; the call timeout outside the
// retry loop stops the retries.
func TestOrderAttemptTimeoutInsideBreaker(t *testing.T) {
	br := mustBreaker(t, core.BreakerConfig{Name: "t", FailureThreshold: 2})
	f := newFixture(t, core.PolicyConfig{
		Breaker: br,
		Timeout: core.TimeoutConfig{Attempt: time.Millisecond},
		Retry:   core.RetryConfig{MaxAttempts: 2, Strategy: core.Constant(0)},
	})
	err := f.p.Run(context.Background(), func(ctx context.Context) error {
		<-ctx.Done() // the attempt's context ends with its timeout
		return ctx.Err()
	})
	if r, _ := core.StopReasonOf(err); r != core.StopMaxAttempts {
		t.Fatalf("err = %v, want max_attempts after two timed-out attempts", err)
	}
	eq(t, "breaker after two timeouts", br.State(), core.StateOpen)

	g := newFixture(t, core.PolicyConfig{
		Timeout: core.TimeoutConfig{Call: 250 * time.Millisecond},
		Retry:   core.RetryConfig{MaxAttempts: 10, Strategy: core.Constant(100 * time.Millisecond)},
	})
	calls := 0
	err = g.p.Run(context.Background(), func(context.Context) error { calls++; return coretest.ClassErr(core.ClassTransient) })
	if r, _ := core.StopReasonOf(err); r != core.StopDeadline {
		t.Fatalf("err = %v, want the call timeout's deadline", err)
	}
	eq(t, "attempts within the call timeout", calls, 3) // at 0, 100 and 200 ms; the sleep to 300 ms is refused
}

// TestOrderFaultsOutsideHedging: fault injection sits outside the hedged
// group: an injected error ends the attempt before any copy is sent (no
// hedge, the operation never called), and a concurrency slot is held once
// per attempt whether or not the group hedges.
func TestOrderFaultsOutsideHedging(t *testing.T) {
	faults, err := core.NewFaultInjector(core.FaultConfig{Rules: []core.FaultRule{{Rate: 1, Err: core.InjectedError(core.ClassServerError)}}})
	if err != nil {
		t.Fatal(err)
	}
	bh, err := core.NewBulkhead(core.BulkheadConfig{MaxConcurrent: 1})
	if err != nil {
		t.Fatal(err)
	}
	rec := &coretest.Recorder{}
	p, err := core.NewPolicy(core.PolicyConfig{Faults: faults, Concurrency: bh, Hedge: newHedger(t, core.HedgeConfig{Delay: time.Nanosecond}),
		Bus: core.NewBus(rec), Retry: core.RetryConfig{MaxAttempts: 2, Strategy: core.Constant(0)}})
	if err != nil {
		t.Fatal(err)
	}
	faults.Enable()
	calls := 0
	err = p.Run(context.Background(), func(context.Context) error { calls++; return nil })
	var ie *core.InjectedFaultError
	if !errors.As(err, &ie) || calls != 0 || rec.Count(core.EventHedge) != 0 || rec.Count(core.EventFaultInjected) != 2 {
		t.Fatalf("err %v, %d calls, events %v: want the injected error on both attempts, no copy sent", err, calls, rec.Names())
	}
	if bh.InFlight() != 0 {
		t.Errorf("%d slots held after the call", bh.InFlight())
	}
}
