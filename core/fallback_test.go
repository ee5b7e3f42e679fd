package core_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/redress-go/redress/core"
	"github.com/redress-go/redress/core/coretest"
)

// TestFallbackSuppliesTheResult: a call the policy gives up on returns
// what the Fallback supplied, which sees why; the fallback event comes
// just before the terminal event, which still reports the failure.
func TestFallbackSuppliesTheResult(t *testing.T) {
	var got []core.FallbackInfo
	f := newFixture(t, core.PolicyConfig{
		Name:  "fb",
		Retry: core.RetryConfig{MaxAttempts: 3, Strategy: core.Constant(ms(10))},
		Fallback: func(_ context.Context, info core.FallbackInfo) (any, error) {
			got = append(got, info)
			return "cached", nil
		},
	})
	faults := coretest.FailTimes(10, coretest.ClassErr(core.ClassServerError))
	v, err := core.Do(context.Background(), f.p, func(ctx context.Context) (string, error) {
		return "fresh", faults.Op()(ctx)
	}, core.WithOperation("get"))
	eq(t, "err", err, nil)
	eq(t, "value", v, "cached")
	eq(t, "attempts", faults.Calls(), 3)
	if len(got) != 1 {
		t.Fatalf("fallback called %d times, want 1", len(got))
	}
	info := got[0]
	eq(t, "info.StopReason", info.StopReason, core.StopMaxAttempts)
	eq(t, "info.Attempts", info.Attempts, 3)
	eq(t, "info.Class", info.Class, core.ClassServerError)
	eq(t, "info.Operation", info.Operation, "get")
	eq(t, "info.Policy", info.Policy, "fb")
	if !errors.Is(info.Err, core.ErrStop(core.StopMaxAttempts)) || !errors.Is(info.Err, coretest.ErrInjected) {
		t.Errorf("info.Err = %v, want the RetryError of max_attempts wrapping the failure", info.Err)
	}
	names := f.names()
	eq(t, "last events", names[len(names)-2:], []string{"fallback", "max_attempts_exceeded"})
	for _, e := range f.rec.All() {
		if e.Kind == core.EventFallback {
			eq(t, "fallback event stop reason", e.StopReason, core.StopMaxAttempts)
			eq(t, "fallback event class", e.Class, core.ClassServerError)
			eq(t, "fallback event attempt", e.Attempt, 3)
		}
		if e.Kind == core.EventMaxAttemptsExceeded {
			eq(t, "terminal outcome", e.Outcome, core.OutcomeFailure)
		}
	}
}

// TestFallbackExecuteAndRun: Execute reports the fallback and the stop
// reason; Run returns nil.
func TestFallbackExecuteAndRun(t *testing.T) {
	f := newFixture(t, core.PolicyConfig{
		Retry:    core.RetryConfig{MaxAttempts: 2, Strategy: core.Constant(0)},
		Fallback: core.FallbackValue(7),
	})
	fail := func(context.Context) (int, error) { return 1, coretest.ClassErr(core.ClassTransient) }
	o := core.Execute(context.Background(), f.p, fail)
	eq(t, "Outcome.Err", o.Err, nil)
	eq(t, "Outcome.Value", o.Value, 7)
	eq(t, "Outcome.Fallback", o.Fallback, true)
	eq(t, "Outcome.StopReason", o.StopReason, core.StopMaxAttempts)
	eq(t, "Outcome.Attempts", o.Attempts, 2)

	err := f.p.Run(context.Background(), func(context.Context) error { return coretest.ClassErr(core.ClassTransient) })
	eq(t, "Run err", err, nil)

	ok := core.Execute(context.Background(), f.p, func(context.Context) (int, error) { return 1, nil })
	eq(t, "success value", ok.Value, 1)
	eq(t, "success Fallback", ok.Fallback, false)
}

// TestFallbackOnRejection: a call the breaker refuses before any attempt
// falls back too, with the typed rejection and no attempt.
func TestFallbackOnRejection(t *testing.T) {
	br := mustBreaker(t, core.BreakerConfig{Name: "b", FailureThreshold: 1})
	var info core.FallbackInfo
	f := newFixture(t, core.PolicyConfig{
		Breaker: br,
		Retry:   core.RetryConfig{MaxAttempts: 1},
		Fallback: func(_ context.Context, i core.FallbackInfo) (any, error) {
			info = i
			return "stale", nil
		},
	})
	fail := func(context.Context) (string, error) { return "", coretest.ClassErr(core.ClassServerError) }
	if v, err := core.Do(context.Background(), f.p, fail); err != nil || v != "stale" {
		t.Fatalf("first call = %q, %v; want the fallback", v, err)
	}
	eq(t, "breaker", br.State(), core.StateOpen)
	calls := 0
	v, err := core.Do(context.Background(), f.p, func(context.Context) (string, error) { calls++; return "x", nil })
	eq(t, "err", err, nil)
	eq(t, "value", v, "stale")
	eq(t, "calls", calls, 0)
	eq(t, "info.StopReason", info.StopReason, core.StopCircuitOpen)
	eq(t, "info.Attempts", info.Attempts, 0)
	var coe *core.CircuitOpenError
	if !errors.As(info.Err, &coe) {
		t.Errorf("info.Err = %v, want a *CircuitOpenError", info.Err)
	}
}

// TestFallbackNotCalled: not on a caller's cancellation, not on a deferred
// retry; a declining fallback leaves the error as it was, with no event.
func TestFallbackNotCalled(t *testing.T) {
	called := 0
	decline := func(_ context.Context, info core.FallbackInfo) (any, error) { called++; return nil, info.Err }
	f := newFixture(t, core.PolicyConfig{
		Retry: core.RetryConfig{MaxAttempts: 3, Strategy: core.Constant(ms(5)),
			SleepHandler: func(context.Context, core.SleepInfo) core.SleepAction { return core.SleepDefer }},
		Fallback: decline,
	})
	o := core.Execute(context.Background(), f.p, func(context.Context) (int, error) { return 0, coretest.ClassErr(core.ClassTransient) })
	eq(t, "scheduled stop", o.StopReason, core.StopScheduled)
	eq(t, "fallback calls after a deferred retry", called, 0)

	ctx, cancel := context.WithCancel(context.Background())
	o = core.Execute(ctx, f.p, func(context.Context) (int, error) { cancel(); return 0, coretest.ClassErr(core.ClassTransient) })
	eq(t, "canceled stop", o.StopReason, core.StopCanceled)
	eq(t, "fallback calls after a cancellation", called, 0)

	g := newFixture(t, core.PolicyConfig{Retry: core.RetryConfig{MaxAttempts: 1}, Fallback: decline})
	err := g.p.Run(context.Background(), func(context.Context) error { return coretest.ClassErr(core.ClassPermanent) })
	eq(t, "fallback calls", called, 1)
	if r, _ := core.StopReasonOf(err); r != core.StopNonRetryableClass {
		t.Errorf("declined: err = %v, want the non_retryable_class RetryError", err)
	}
	eq(t, "fallback events when declined", g.rec.Count(core.EventFallback), 0)
}

// TestFallbackWrongType: a value not of the call's type is an error that
// names both types and wraps the failure; nil is the zero value.
func TestFallbackWrongType(t *testing.T) {
	f := newFixture(t, core.PolicyConfig{Name: "typed", Retry: core.RetryConfig{MaxAttempts: 1}, Fallback: core.FallbackValue("text")})
	_, err := core.Do(context.Background(), f.p, func(context.Context) (int, error) { return 0, coretest.ClassErr(core.ClassTransient) })
	if err == nil || !strings.Contains(err.Error(), "string") || !strings.Contains(err.Error(), "int") {
		t.Fatalf("err = %v, want one naming string and int", err)
	}
	if !errors.Is(err, coretest.ErrInjected) {
		t.Errorf("err = %v does not wrap the failure", err)
	}
	g := newFixture(t, core.PolicyConfig{Retry: core.RetryConfig{MaxAttempts: 1}, Fallback: core.FallbackValue(nil)})
	v, err := core.Do(context.Background(), g.p, func(context.Context) (int, error) { return 5, coretest.ClassErr(core.ClassTransient) })
	eq(t, "nil fallback err", err, nil)
	eq(t, "nil fallback value", v, 0)
}
