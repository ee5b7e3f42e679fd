package core_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/redress-go/redress/core"
	"github.com/redress-go/redress/core/coretest"
)

func TestRetryThenSucceedPublishesExactEvents(t *testing.T) {
	f := newFixture(t, core.PolicyConfig{Name: "p", Retry: core.RetryConfig{Strategy: core.Constant(ms(10))}})
	faults := coretest.FailClasses(core.ClassTransient, core.ClassServerError)
	v, err := core.Do(context.Background(), f.p, func(ctx context.Context) (string, error) {
		if err := faults.Op()(ctx); err != nil {
			return "", err
		}
		return "ok", nil
	})
	eq(t, "err", err, nil)
	eq(t, "value", v, "ok")
	eq(t, "calls", faults.Calls(), 3)
	eq(t, "sleeps", f.clk.Sleeps(), []time.Duration{ms(10), ms(10)})
	eq(t, "all events", f.rec.Names(), []string{
		"operation_start",
		"attempt_start", "attempt_end", "retry",
		"attempt_start", "attempt_end", "retry",
		"attempt_start", "attempt_end", "success",
	})
	evs := f.rec.All()
	last := evs[len(evs)-1]
	eq(t, "outcome", last.Outcome, core.OutcomeSuccessAfterRetry)
	eq(t, "attempts", last.Attempt, 3)
	eq(t, "elapsed", last.Elapsed, ms(20))
	eq(t, "retry class", evs[3].Class, core.ClassTransient)
	eq(t, "retry sleep", evs[3].Sleep, ms(10))
	eq(t, "second retry class", evs[6].Class, core.ClassServerError)
}

func TestSuccessFirstTime(t *testing.T) {
	f := newFixture(t, core.PolicyConfig{})
	err := f.p.Run(context.Background(), func(context.Context) error { return nil })
	eq(t, "err", err, nil)
	eq(t, "events", f.names(), []string{"attempt_end", "success"})
	eq(t, "outcome", f.rec.All()[3].Outcome, core.OutcomeSuccess)
	eq(t, "sleeps", len(f.clk.Sleeps()), 0)
}

func TestNonRetryableClassesAreNeverRetried(t *testing.T) {
	for _, c := range []core.Class{core.ClassAuth, core.ClassPermission, core.ClassPermanent} {
		t.Run(c.String(), func(t *testing.T) {
			f := newFixture(t, core.PolicyConfig{Retry: core.RetryConfig{MaxAttempts: 10}})
			faults := coretest.FailTimes(5, coretest.ClassErr(c))
			err := f.p.Run(context.Background(), faults.Op())
			eq(t, "calls", faults.Calls(), 1)
			r, _ := core.StopReasonOf(err)
			eq(t, "stop", r, core.StopNonRetryableClass)
			eq(t, "events", f.names(), []string{"attempt_end", "permanent_fail"})
			if !errors.Is(err, coretest.ErrInjected) {
				t.Errorf("errors.Is(err, ErrInjected) = false for %v", err)
			}
		})
	}
}

func TestStopReasons(t *testing.T) {
	transient := coretest.ClassErr(core.ClassTransient)
	tests := []struct {
		name      string
		cfg       core.PolicyConfig
		errs      []error
		wantStop  core.StopReason
		wantCalls int
		wantEvent string
		wantSleep int
	}{
		{"max attempts", core.PolicyConfig{Retry: core.RetryConfig{MaxAttempts: 3, Strategy: core.Constant(ms(1))}},
			[]error{transient, transient, transient, transient}, core.StopMaxAttempts, 3, "max_attempts_exceeded", 2},
		{"max attempts 1 means no retry", core.PolicyConfig{Retry: core.RetryConfig{MaxAttempts: 1}},
			[]error{transient}, core.StopMaxAttempts, 1, "max_attempts_exceeded", 0},
		{"per-class cap", core.PolicyConfig{Retry: core.RetryConfig{MaxAttempts: 10, Strategy: core.Constant(0),
			MaxAttemptsPerClass: map[core.Class]int{core.ClassRateLimit: 2}}},
			[]error{coretest.ClassErr(core.ClassRateLimit), transient, coretest.ClassErr(core.ClassRateLimit), transient},
			core.StopMaxAttemptsPerClass, 3, "max_attempts_exceeded", 2},
		{"per-class cap 1 is no retry", core.PolicyConfig{Retry: core.RetryConfig{MaxAttemptsPerClass: map[core.Class]int{core.ClassConcurrency: 1}}},
			[]error{coretest.ClassErr(core.ClassConcurrency)}, core.StopMaxAttemptsPerClass, 1, "max_attempts_exceeded", 0},
		{"per-class cap 0 is no retry", core.PolicyConfig{Retry: core.RetryConfig{MaxAttemptsPerClass: map[core.Class]int{core.ClassConcurrency: 0}}},
			[]error{coretest.ClassErr(core.ClassConcurrency)}, core.StopMaxAttemptsPerClass, 1, "max_attempts_exceeded", 0},
		{"max unknown", core.PolicyConfig{Retry: core.RetryConfig{MaxAttempts: 10, MaxUnknownAttempts: 2, Strategy: core.Constant(0)}},
			[]error{errors.New("a"), transient, errors.New("b"), nil}, core.StopMaxUnknownAttempts, 3, "max_unknown_attempts_exceeded", 2},
		{"no strategy for class", core.PolicyConfig{Retry: core.RetryConfig{Strategies: map[core.Class]core.Strategy{core.ClassRateLimit: core.Constant(0)}}},
			[]error{coretest.ClassErr(core.ClassRateLimit), transient}, core.StopNoStrategy, 2, "no_strategy_configured", 1},
		{"deadline refuses a sleep that would pass it", core.PolicyConfig{Retry: core.RetryConfig{MaxAttempts: 10, Strategy: core.Constant(ms(60))}, Timeout: core.TimeoutConfig{Call: ms(100)}},
			[]error{transient, transient, transient}, core.StopDeadline, 2, "deadline_exceeded", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bud := mustBudget(t, core.BudgetConfig{MaxRetries: 100})
			cfg := tt.cfg
			cfg.Budget = bud
			f := newFixture(t, cfg)
			faults := coretest.Schedule(tt.errs...)
			err := f.p.Run(context.Background(), faults.Op())
			if err == nil {
				t.Fatal("err = nil")
			}
			r, ok := core.StopReasonOf(err)
			eq(t, "ok", ok, true)
			eq(t, "stop", r, tt.wantStop)
			eq(t, "calls", faults.Calls(), tt.wantCalls)
			eq(t, "sleeps", len(f.clk.Sleeps()), tt.wantSleep)
			eq(t, "retry events", f.rec.Count(core.EventRetry), tt.wantSleep)
			// No token after the last allowed attempt: one per sleep.
			eq(t, "budget used", 100-int(bud.Remaining()), tt.wantSleep)
			names := f.names()
			eq(t, "terminal", names[len(names)-1], tt.wantEvent)
			if !errors.Is(err, core.ErrStop(tt.wantStop)) {
				t.Errorf("errors.Is(err, ErrStop(%v)) = false", tt.wantStop)
			}
			var re *core.RetryError
			if !errors.As(err, &re) {
				t.Fatalf("not a *RetryError: %T", err)
			}
			eq(t, "RetryError.Attempts", re.Attempts, tt.wantCalls)
		})
	}
}

func TestPerClassStrategies(t *testing.T) {
	f := newFixture(t, core.PolicyConfig{Retry: core.RetryConfig{
		MaxAttempts: 5,
		Strategy:    core.Constant(ms(1)),
		Strategies: map[core.Class]core.Strategy{
			core.ClassRateLimit: core.Constant(ms(500)),
			core.ClassTransient: core.Constant(ms(20)),
		},
	}})
	faults := coretest.FailClasses(core.ClassRateLimit, core.ClassTransient, core.ClassServerError)
	eq(t, "err", f.p.Run(context.Background(), faults.Op()), nil)
	eq(t, "sleeps", f.clk.Sleeps(), []time.Duration{ms(500), ms(20), ms(1)})
}

func TestStrategyReceivesContext(t *testing.T) {
	s := coretest.Delays(ms(10), ms(30))
	f := newFixture(t, core.PolicyConfig{Retry: core.RetryConfig{Strategy: s}, Timeout: core.TimeoutConfig{Call: time.Second}})
	hint := coretest.RateLimitErr(ms(250))
	faults := coretest.Schedule(coretest.ClassErr(core.ClassTransient), hint)
	eq(t, "err", f.p.Run(context.Background(), faults.Op()), nil)
	in := s.Inputs()
	eq(t, "inputs", len(in), 2)
	eq(t, "attempt", in[1].Attempt, 2)
	eq(t, "class", in[1].Class, core.ClassRateLimit)
	eq(t, "hint", in[1].Classification.RetryAfter, ms(250))
	eq(t, "prev sleep", in[1].PrevSleep, ms(10))
	eq(t, "has deadline", in[1].HasDeadline, true)
	eq(t, "remaining", in[1].Remaining, time.Second-ms(10))
}

func TestRetryAfterOrHonoursHintWithCap(t *testing.T) {
	f := newFixture(t, core.PolicyConfig{Retry: core.RetryConfig{
		MaxAttempts: 4,
		Strategy:    core.RetryAfterOr(core.Constant(ms(7)), 2*time.Second),
	}})
	faults := coretest.Schedule(coretest.RateLimitErr(ms(1500)), coretest.RateLimitErr(time.Minute), coretest.ClassErr(core.ClassTransient))
	eq(t, "err", f.p.Run(context.Background(), faults.Op()), nil)
	eq(t, "sleeps", f.clk.Sleeps(), []time.Duration{ms(1500), 2 * time.Second, ms(7)})
}

func TestBudgetExhaustedStopsRetries(t *testing.T) {
	bud := mustBudget(t, core.BudgetConfig{MaxRetries: 1, Window: time.Minute})
	f := newFixture(t, core.PolicyConfig{Budget: bud, Retry: core.RetryConfig{MaxAttempts: 5, Strategy: core.Constant(0)}})
	faults := coretest.FailTimes(10, coretest.ClassErr(core.ClassTransient))
	err := f.p.Run(context.Background(), faults.Op())
	r, _ := core.StopReasonOf(err)
	eq(t, "stop", r, core.StopBudgetExhausted)
	eq(t, "calls", faults.Calls(), 2)
	eq(t, "events", f.names(), []string{"attempt_end", "retry", "attempt_end", "budget_exhausted"})
	eq(t, "denied", bud.Denied(), uint64(1))
	evs := f.rec.All()
	eq(t, "remaining on terminal", evs[len(evs)-1].BudgetRemaining, 0.0)
}

func TestBudgetSharedAcrossPolicies(t *testing.T) {
	bud := mustBudget(t, core.BudgetConfig{MaxRetries: 2, Window: time.Minute})
	a := newFixture(t, core.PolicyConfig{Name: "a", Budget: bud, Retry: core.RetryConfig{Strategy: core.Constant(0), MaxAttempts: 10}})
	b := newFixture(t, core.PolicyConfig{Name: "b", Budget: bud, Retry: core.RetryConfig{Strategy: core.Constant(0), MaxAttempts: 10}})
	fa := coretest.FailTimes(100, coretest.ClassErr(core.ClassTransient))
	fb := coretest.FailTimes(100, coretest.ClassErr(core.ClassTransient))
	_ = a.p.Run(context.Background(), fa.Op())
	_ = b.p.Run(context.Background(), fb.Op())
	eq(t, "calls a+b", fa.Calls()+fb.Calls(), 2+2) // 2 first attempts + 2 retries in all
}

func TestCallerCancellationIsNotAFailure(t *testing.T) {
	br := mustBreaker(t, core.BreakerConfig{FailureThreshold: 1, HalfOpenProbes: 1})
	f := newFixture(t, core.PolicyConfig{Breaker: br, Retry: core.RetryConfig{MaxAttempts: 5, Strategy: core.Constant(time.Second)}})
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	err := f.p.Run(ctx, func(ctx context.Context) error {
		calls++
		cancel()
		return ctx.Err()
	})
	r, _ := core.StopReasonOf(err)
	eq(t, "stop", r, core.StopCanceled)
	eq(t, "calls", calls, 1)
	eq(t, "sleeps", len(f.clk.Sleeps()), 0)
	eq(t, "breaker", br.State(), core.StateClosed)
	eq(t, "terminal", f.names()[len(f.names())-1], "canceled")
	if !errors.Is(err, context.Canceled) {
		t.Errorf("errors.Is(err, context.Canceled) = false: %v", err)
	}
}

func TestCancelledBeforeStartMakesNoAttempt(t *testing.T) {
	f := newFixture(t, core.PolicyConfig{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	calls := 0
	err := f.p.Run(ctx, func(context.Context) error { calls++; return nil })
	eq(t, "calls", calls, 0)
	r, _ := core.StopReasonOf(err)
	eq(t, "stop", r, core.StopCanceled)
}

// TestCancelDuringSleepStopsAtOnce: in a synctest bubble, the call is
// cancelled once it sleeps (an hour's backoff on the real timer sleeper)
// and returns at that same instant.
func TestCancelDuringSleepStopsAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		p, err := core.NewPolicy(core.PolicyConfig{Retry: core.RetryConfig{Strategy: core.Constant(time.Hour)}})
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() {
			done <- p.Run(ctx, func(context.Context) error { return coretest.ClassErr(core.ClassTransient) })
		}()
		synctest.Wait() // the call sleeps
		start := time.Now()
		cancel()
		err = <-done
		r, _ := core.StopReasonOf(err)
		eq(t, "stop", r, core.StopCanceled)
		eq(t, "returned after", time.Since(start), time.Duration(0))
	})
}

func TestAttemptTimeoutIsRetried(t *testing.T) {
	p, err := core.NewPolicy(core.PolicyConfig{
		Timeout: core.TimeoutConfig{Attempt: ms(20)},
		Retry:   core.RetryConfig{MaxAttempts: 3, Strategy: core.Constant(0)},
	})
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	err = p.Run(context.Background(), func(ctx context.Context) error {
		calls++
		if calls == 1 {
			<-ctx.Done() // the slow first attempt honours its deadline
			return ctx.Err()
		}
		if _, ok := ctx.Deadline(); !ok {
			return errors.New("attempt context has no deadline")
		}
		return nil
	})
	eq(t, "err", err, nil)
	eq(t, "calls", calls, 2)
}

func TestDeadlineBoundsAttemptContext(t *testing.T) {
	f := newFixture(t, core.PolicyConfig{Timeout: core.TimeoutConfig{Call: time.Second, Attempt: ms(300)}})
	var got []time.Duration
	start := time.Now()
	_ = f.p.Run(context.Background(), func(ctx context.Context) error {
		d, _ := ctx.Deadline()
		got = append(got, d.Sub(start))
		return nil
	})
	if len(got) != 1 || got[0] > ms(400) || got[0] <= 0 {
		t.Errorf("attempt deadline = %v, want about 300ms", got)
	}
}

func TestCircuitOpenRejectsWithoutCalling(t *testing.T) {
	br := mustBreaker(t, core.BreakerConfig{Name: "db", FailureThreshold: 2, RecoveryTimeout: time.Minute})
	f := newFixture(t, core.PolicyConfig{Breaker: br, Retry: core.RetryConfig{MaxAttempts: 5, Strategy: core.Constant(0)}})
	faults := coretest.FailTimes(100, coretest.ClassErr(core.ClassServerError))
	err := f.p.Run(context.Background(), faults.Op())
	eq(t, "calls", faults.Calls(), 2)
	r, _ := core.StopReasonOf(err)
	eq(t, "stop", r, core.StopCircuitOpen)
	if !errors.Is(err, core.ErrCircuitOpen) || !errors.Is(err, coretest.ErrInjected) {
		t.Errorf("error should match ErrCircuitOpen and the last failure: %v", err)
	}
	// Once the breaker opens, the call stops at once: no token, no sleep.
	eq(t, "events", f.names(), []string{"attempt_end", "retry", "attempt_end", "circuit_opened", "circuit_rejected"})
	eq(t, "sleeps", len(f.clk.Sleeps()), 1)

	// The next call is rejected before any attempt, with the typed error.
	f.rec.Reset()
	err = f.p.Run(context.Background(), faults.Op())
	var coe *core.CircuitOpenError
	if !errors.As(err, &coe) {
		t.Fatalf("want *CircuitOpenError, got %T %v", err, err)
	}
	eq(t, "breaker name", coe.Breaker, "db")
	eq(t, "calls", faults.Calls(), 2)
	eq(t, "events", f.names(), []string{"circuit_rejected"})
	eq(t, "outcome", f.rec.All()[1].Outcome, core.OutcomeRejected)
}

func TestScheduledDefersInsteadOfSleeping(t *testing.T) {
	f := newFixture(t, core.PolicyConfig{Retry: core.RetryConfig{
		Strategy: core.Constant(ms(750)),
		SleepHandler: func(context.Context, core.SleepInfo) core.SleepAction {
			return core.SleepDefer
		},
	}})
	faults := coretest.FailTimes(1, coretest.ClassErr(core.ClassTransient))
	out := core.Execute(context.Background(), f.p, func(ctx context.Context) (int, error) {
		return 0, faults.Op()(ctx)
	})
	eq(t, "stop", out.StopReason, core.StopScheduled)
	eq(t, "next delay", out.NextDelay, ms(750))
	eq(t, "sleeps", len(f.clk.Sleeps()), 0)
	eq(t, "events", f.names(), []string{"attempt_end", "retry", "scheduled"})
	var re *core.RetryError
	if errors.As(out.Err, &re) {
		eq(t, "RetryError.NextDelay", re.NextDelay, ms(750))
	} else {
		t.Errorf("want *RetryError, got %T", out.Err)
	}
}

func TestAbort(t *testing.T) {
	t.Run("AbortIf before sleep", func(t *testing.T) {
		stop := false
		f := newFixture(t, core.PolicyConfig{Retry: core.RetryConfig{Strategy: core.Constant(0), AbortIf: func() bool { return stop }}})
		err := f.p.Run(context.Background(), func(context.Context) error {
			stop = true
			return coretest.ClassErr(core.ClassTransient)
		})
		r, _ := core.StopReasonOf(err)
		eq(t, "stop", r, core.StopAborted)
		eq(t, "events", f.names(), []string{"attempt_end", "aborted"})
	})
	t.Run("Abort error", func(t *testing.T) {
		f := newFixture(t, core.PolicyConfig{Retry: core.RetryConfig{MaxAttempts: 5}})
		calls := 0
		sentinel := errors.New("shutting down")
		err := f.p.Run(context.Background(), func(context.Context) error { calls++; return core.Abort(sentinel) })
		r, _ := core.StopReasonOf(err)
		eq(t, "stop", r, core.StopAborted)
		eq(t, "calls", calls, 1)
		if !errors.Is(err, sentinel) {
			t.Errorf("errors.Is(err, sentinel) = false")
		}
	})
	t.Run("sleep handler abort", func(t *testing.T) {
		f := newFixture(t, core.PolicyConfig{Retry: core.RetryConfig{SleepHandler: func(context.Context, core.SleepInfo) core.SleepAction { return core.SleepAbort }}})
		err := f.p.Run(context.Background(), coretest.FailTimes(1, coretest.ClassErr(core.ClassTransient)).Op())
		r, _ := core.StopReasonOf(err)
		eq(t, "stop", r, core.StopAborted)
	})
}

func TestResultClassifier(t *testing.T) {
	type resp struct{ status int }
	f := newFixture(t, core.PolicyConfig{Retry: core.RetryConfig{
		MaxAttempts: 3, Strategy: core.Constant(0),
		ResultClassifier: func(v any) error {
			if r := v.(resp); r.status >= 500 {
				return &core.StatusError{Code: r.status}
			}
			return nil
		},
	}})
	statuses := []int{503, 200}
	i := 0
	v, err := core.Do(context.Background(), f.p, func(context.Context) (resp, error) {
		s := statuses[min(i, len(statuses)-1)]
		i++
		return resp{s}, nil
	})
	eq(t, "err", err, nil)
	eq(t, "value", v.status, 200)
	eq(t, "calls", i, 2)

	_, err = core.Do(context.Background(), f.p, func(context.Context) (resp, error) { return resp{502}, nil })
	var re *core.RetryError
	if !errors.As(err, &re) {
		t.Fatalf("want *RetryError, got %v", err)
	}
	eq(t, "last result", re.LastResult, any(resp{502}))
	eq(t, "class", re.Class, core.ClassServerError)
}

func TestExecuteOutcomeAndTimeline(t *testing.T) {
	f := newFixture(t, core.PolicyConfig{Retry: core.RetryConfig{Strategy: core.Constant(ms(5))}})
	faults := coretest.FailClasses(core.ClassTransient)
	out := core.Execute(context.Background(), f.p, func(ctx context.Context) (int, error) {
		f.clk.Advance(ms(2)) // each attempt "takes" 2ms on the fake clock
		return 7, faults.Op()(ctx)
	}, core.WithTimeline(new(core.Timeline)))
	eq(t, "ok", out.OK(), true)
	eq(t, "value", out.Value, 7)
	eq(t, "attempts", out.Attempts, 2)
	eq(t, "stop", out.StopReason, core.StopNone)
	eq(t, "last class", out.LastClass, core.ClassTransient)
	eq(t, "elapsed", out.Elapsed, ms(9))
	if out.Timeline == nil || len(out.Timeline.Attempts) != 2 {
		t.Fatalf("timeline = %+v", out.Timeline)
	}
	a := out.Timeline.Attempts
	eq(t, "t0 decision", a[0].Decision, core.DecisionRetry)
	eq(t, "t0 sleep", a[0].Sleep, ms(5))
	eq(t, "t0 duration", a[0].Duration, ms(2))
	eq(t, "t0 class", a[0].Classification.Class, core.ClassTransient)
	eq(t, "t1 decision", a[1].Decision, core.DecisionSuccess)

	// Do and Run record a timeline too.
	var tl core.Timeline
	_, _ = core.Do(context.Background(), f.p, func(context.Context) (int, error) { return 0, nil }, core.WithTimeline(&tl))
	_ = f.p.Run(context.Background(), func(context.Context) error { return nil }, core.WithTimeline(&tl))
	eq(t, "supplied timeline", len(tl.Attempts), 2)
}

func TestAttemptHooksSeeDecisions(t *testing.T) {
	var policyHook, callHook []string
	f := newFixture(t, core.PolicyConfig{Retry: core.RetryConfig{
		MaxAttempts: 3, Strategy: core.Constant(0),
		OnAttempt: func(a core.AttemptInfo) { policyHook = append(policyHook, fmt.Sprint(a.Attempt, a.Decision)) },
	}})
	hook := core.WithOnAttempt(func(a core.AttemptInfo) { callHook = append(callHook, fmt.Sprint(a.Attempt, a.Decision, a.StopReason)) })
	_ = f.p.Run(context.Background(), coretest.FailTimes(9, coretest.ClassErr(core.ClassTransient)).Op(), hook)
	eq(t, "policy hook", policyHook, []string{"1 retry", "2 retry", "3 raise"})
	eq(t, "call hook", callHook, []string{"1 retry none", "2 retry none", "3 raise max_attempts"})

	policyHook = nil
	_ = f.p.Run(context.Background(), func(context.Context) error { return nil })
	eq(t, "success hook", policyHook, []string{"1 success"})
}

func TestBeforeSleepHook(t *testing.T) {
	var got []core.SleepInfo
	f := newFixture(t, core.PolicyConfig{Name: "p", Retry: core.RetryConfig{
		Strategy:    core.Constant(ms(3)),
		BeforeSleep: func(_ context.Context, s core.SleepInfo) { got = append(got, s) },
	}})
	_ = f.p.Run(context.Background(), coretest.FailTimes(1, coretest.ClassErr(core.ClassTransient)).Op(), core.WithOperation("op"))
	eq(t, "hook calls", len(got), 1)
	eq(t, "delay", got[0].Delay, ms(3))
	eq(t, "operation", got[0].Operation, "op")
	eq(t, "policy", got[0].Policy, "p")
}

func TestOperationLabelsOnEveryEvent(t *testing.T) {
	f := newFixture(t, core.PolicyConfig{Name: "pol", Operation: "default-op", Retry: core.RetryConfig{Strategy: core.Constant(0)}})
	c := &core.Call{Operation: "GetUser", Labels: core.Labels{HTTPMethod: "GET", ServerAddress: "users"}}
	var s core.Step
	s.Begin(context.Background(), f.p, c)
	for s.Next() {
		s.SetStatusCode(200)
		s.End(nil)
	}
	for _, e := range f.rec.All() {
		if e.Operation != "GetUser" || e.Policy != "pol" || e.Labels.HTTPMethod != "GET" {
			t.Errorf("%s: operation=%q policy=%q labels=%+v", e.Kind, e.Operation, e.Policy, e.Labels)
		}
		if e.Kind == core.EventAttemptEnd && e.Labels.StatusCode != 200 {
			t.Errorf("attempt_end status = %d, want 200", e.Labels.StatusCode)
		}
	}
	f.rec.Reset()
	_ = f.p.Run(context.Background(), func(context.Context) error { return nil })
	eq(t, "default operation", f.rec.All()[0].Operation, "default-op")
}

func TestCallOverrides(t *testing.T) {
	br := mustBreaker(t, core.BreakerConfig{Name: "per-host", FailureThreshold: 1})
	f := newFixture(t, core.PolicyConfig{Retry: core.RetryConfig{MaxAttempts: 5, Strategy: core.Constant(0)}})
	faults := coretest.FailTimes(10, coretest.ClassErr(core.ClassTransient))
	c := &core.Call{MaxAttempts: 1, Breaker: br}
	err := runStep(f.p, context.Background(), c, faults.Op())
	eq(t, "calls", faults.Calls(), 1)
	r, _ := core.StopReasonOf(err)
	eq(t, "stop", r, core.StopMaxAttempts)
	eq(t, "per-call breaker opened", br.State(), core.StateOpen)
	eq(t, "Call unchanged", *c, core.Call{MaxAttempts: 1, Breaker: br})
}

func TestNilPolicyCallsOnce(t *testing.T) {
	var p *core.Policy
	calls := 0
	v, err := core.Do(context.Background(), p, func(context.Context) (int, error) { calls++; return 1, nil })
	eq(t, "v", v, 1)
	eq(t, "err", err, nil)
	eq(t, "calls", calls, 1)
}

func TestAdaptiveStrategyLearnsFromPolicy(t *testing.T) {
	ad := core.Adaptive(core.Constant(ms(100)), core.AdaptiveConfig{MaxMultiplier: 5, Smoothing: 0.5})
	f := newFixture(t, core.PolicyConfig{Retry: core.RetryConfig{Strategy: ad, MaxAttempts: 4}})
	_ = f.p.Run(context.Background(), coretest.FailTimes(3, coretest.ClassErr(core.ClassTransient)).Op())
	sl := f.clk.Sleeps()
	eq(t, "sleeps", len(sl), 3)
	if !(sl[0] < sl[1] && sl[1] < sl[2] && sl[2] <= ms(500)) {
		t.Errorf("adaptive sleeps should grow with the failure rate: %v", sl)
	}
	for range 30 {
		_ = f.p.Run(context.Background(), func(context.Context) error { return nil })
	}
	if r := ad.FailureRate(); r > 0.01 {
		t.Errorf("failure rate after successes = %v, want about 0", r)
	}
}

func TestSleepPastCallersDeadlineIsRefused(t *testing.T) {
	p, err := core.NewPolicy(core.PolicyConfig{Retry: core.RetryConfig{Strategy: core.Constant(time.Hour)}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	start := time.Now()
	err = p.Run(ctx, coretest.FailTimes(1, coretest.ClassErr(core.ClassTransient)).Op())
	r, _ := core.StopReasonOf(err)
	eq(t, "stop", r, core.StopDeadline)
	if time.Since(start) > 10*time.Second {
		t.Error("slept instead of refusing up front")
	}
}

func TestPolicyAccessors(t *testing.T) {
	bus := core.NewBus()
	p, _ := core.NewPolicy(core.PolicyConfig{Name: "x", Bus: bus, Timeout: core.TimeoutConfig{Call: time.Second, Attempt: ms(100)}, Retry: core.RetryConfig{MaxAttempts: 4}})
	eq(t, "timeout", p.Timeout(), core.TimeoutConfig{Call: time.Second, Attempt: ms(100)})
	eq(t, "max attempts", p.MaxAttempts(), 4)
	eq(t, "observed without subscribers", p.Observed(), false)
	bus.Subscribe(&coretest.Recorder{})
	eq(t, "observed", p.Observed(), true)
}

func TestNoRetryKeepsTheClass(t *testing.T) {
	br := mustBreaker(t, core.BreakerConfig{FailureThreshold: 1})
	f := newFixture(t, core.PolicyConfig{Breaker: br, Retry: core.RetryConfig{MaxAttempts: 5}})
	calls := 0
	err := f.p.Run(context.Background(), func(context.Context) error {
		calls++
		return core.NoRetry(coretest.ClassErr(core.ClassTransient))
	})
	eq(t, "calls", calls, 1)
	r, _ := core.StopReasonOf(err)
	eq(t, "stop", r, core.StopNonRetryableClass)
	var re *core.RetryError
	if errors.As(err, &re) {
		eq(t, "class", re.Class, core.ClassTransient)
	}
	eq(t, "breaker counted the real class", br.State(), core.StateOpen)
	if !errors.Is(err, coretest.ErrInjected) {
		t.Error("the marked error is not reachable")
	}
	eq(t, "nil", core.NoRetry(nil), error(nil))
}

func TestZeroHintMeansRetryNow(t *testing.T) {
	s := core.RetryAfterOr(core.Constant(time.Second), 0)
	eq(t, "no hint", s.Backoff(core.BackoffInput{}), time.Second)
	eq(t, "zero hint", s.Backoff(core.BackoffInput{Classification: core.Classification{HasRetryAfter: true}}), time.Duration(0))
}

// TestSharedCallIsSafe runs one *Call from several goroutines through every
// entry point, with retries: the engine writes nothing to it (run under
// -race), and a timeline given with the options leaves it unchanged.
func TestSharedCallIsSafe(t *testing.T) {
	p, err := core.NewPolicy(core.PolicyConfig{
		Bus:     core.NewBus(&coretest.Recorder{}),
		Sleeper: coretest.InstantSleeper{},
		Retry:   core.RetryConfig{MaxAttempts: 3, Strategy: core.Constant(0)},
	})
	if err != nil {
		t.Fatal(err)
	}
	shared := &core.Call{Operation: "shared", MaxAttempts: 2}
	want := *shared
	blip := coretest.ClassErr(core.ClassTransient)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				_ = runStep(p, context.Background(), shared, func(context.Context) error { return blip })
				_ = runOptions(p, context.Background(), shared, func(context.Context) error { return blip })
				o := core.Execute(context.Background(), p, func(context.Context) (int, error) { return 0, blip }, append(optionsOf(shared), core.WithTimeline(new(core.Timeline)))...)
				if o.Timeline == nil || len(o.Timeline.Attempts) != 2 {
					t.Errorf("Execute's timeline = %+v, want 2 attempts", o.Timeline)
					return
				}
			}
		}()
	}
	wg.Wait()
	eq(t, "shared Call", *shared, want)
}
