package core_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/redress-go/redress/core"
	"github.com/redress-go/redress/core/coretest"
)

// A call with no subscriber, deadline, timeout, abort predicate or hook
// starts on the engine's fast path; the same call observed by a subscriber
// runs the full engine. Both must end alike: the same error (reason,
// class, attempts, last failure, result), the same number of attempts, the
// same breaker state and budget, for each script of attempt outcomes.
func TestFastPathEndsLikeTheFullEngine(t *testing.T) {
	transient := core.Transient(errors.New("blip"))
	permanent := core.Permanent(errors.New("bad request"))
	scripts := map[string][]error{
		"success":                {nil},
		"fail once then succeed": {transient, nil},
		"permanent":              {permanent},
		"always transient":       {transient, transient, transient, transient},
		"no-retry mark":          {core.NoRetry(transient)},
		"abort":                  {core.Abort(errors.New("stop"))},
	}
	type end struct {
		err      string
		reason   core.StopReason
		class    core.Class
		attempts int
		last     any
		calls    int
		state    core.BreakerState
		budget   float64
	}
	run := func(t *testing.T, script []error, observed, rejectResult, inline bool, calls int) []end {
		br := mustBreaker(t, core.BreakerConfig{FailureThreshold: 3, RecoveryTimeout: time.Hour})
		bud := mustBudget(t, core.BudgetConfig{})
		cfg := core.PolicyConfig{Breaker: br, Budget: bud, Retry: core.RetryConfig{MaxAttempts: 3, Strategy: core.Constant(0)}}
		if observed {
			cfg.Bus = core.NewBus(funcSub{core.AllEvents, func(context.Context, core.Event) {}})
		}
		if rejectResult {
			cfg.Retry.ResultClassifier = func(v any) error {
				if v.(int) < 0 {
					return core.Transient(errors.New("negative"))
				}
				return nil
			}
		}
		p, err := core.NewPolicy(cfg)
		if err != nil {
			t.Fatal(err)
		}
		var out []end
		for range calls { // several calls: the breaker may open on the way
			n := 0
			attempt := func(context.Context) (int, error) {
				i := min(n, len(script)-1)
				n++
				if rejectResult && script[i] == nil && n == 1 && len(script) > 1 {
					return -1, nil // rejected by the result classifier, then the script goes on
				}
				return n, script[i]
			}
			var err error
			if inline {
				err = runStep(p, context.Background(), &core.Call{}, func(ctx context.Context) error {
					_, err := attempt(ctx)
					return err
				})
			} else {
				_, err = core.Do(context.Background(), p, attempt)
			}
			e := end{calls: n, state: br.State(), budget: bud.Utilization()}
			if err != nil {
				e.err = err.Error()
			}
			var re *core.RetryError
			if errors.As(err, &re) {
				e.reason, e.class, e.attempts, e.last = re.Reason, re.Class, re.Attempts, re.LastResult
			}
			out = append(out, e)
		}
		return out
	}
	for name, script := range scripts {
		for _, rejectResult := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/result_classifier=%v", name, rejectResult), func(t *testing.T) {
				fast := run(t, script, false, rejectResult, false, 6)
				full := run(t, script, true, rejectResult, false, 6)
				for i := range fast {
					if fast[i] != full[i] {
						t.Errorf("call %d: fast path %+v, full engine %+v", i+1, fast[i], full[i])
					}
				}
				if rejectResult {
					return // a step attempt has no value to classify
				}
				inline := run(t, script, false, false, true, 6)
				for i := range inline {
					if inline[i] != full[i] {
						t.Errorf("call %d: inline %+v, full engine %+v", i+1, inline[i], full[i])
					}
				}
			})
		}
	}
	t.Run("canceled before the first attempt", func(t *testing.T) {
		p, _ := core.NewPolicy(core.PolicyConfig{})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		called := false
		err := p.Run(ctx, func(context.Context) error { called = true; return nil })
		var re *core.RetryError
		if called || !errors.As(err, &re) || re.Reason != core.StopCanceled || !errors.Is(err, context.Canceled) {
			t.Fatalf("called=%v err=%v, want no attempt and a canceled stop", called, err)
		}
	})
}

// The breaker hears the fast path's verdicts: it opens on the failures of
// fast-path calls, refuses while open, and a fast-path probe that succeeds
// closes it again, as on the full engine.
func TestFastPathReportsToTheBreaker(t *testing.T) {
	for _, observed := range []bool{false, true} {
		t.Run(fmt.Sprint("observed=", observed), func(t *testing.T) {
			clk := coretest.NewFakeClock(time.Unix(1000, 0))
			br := mustBreaker(t, core.BreakerConfig{FailureThreshold: 3, RecoveryTimeout: time.Minute, Clock: clk})
			cfg := core.PolicyConfig{Breaker: br, Retry: core.RetryConfig{MaxAttempts: 3, Strategy: core.Constant(0)}}
			if observed {
				cfg.Bus = core.NewBus(funcSub{core.AllEvents, func(context.Context, core.Event) {}})
			}
			p, err := core.NewPolicy(cfg)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			fail := func(context.Context) error { return core.Transient(errors.New("down")) }
			ok := func(context.Context) error { return nil }
			_ = p.Run(ctx, fail)
			if br.State() != core.StateOpen {
				t.Fatalf("after 3 failed attempts: %s, want open", br.State())
			}
			var coe *core.CircuitOpenError
			if err := p.Run(ctx, ok); !errors.As(err, &coe) {
				t.Fatalf("open breaker: %v, want a CircuitOpenError", err)
			}
			clk.Advance(time.Minute)
			if err := p.Run(ctx, ok); err != nil {
				t.Fatalf("probe after recovery: %v", err)
			}
			if br.State() != core.StateClosed {
				t.Fatalf("after a successful probe: %s, want closed", br.State())
			}
		})
	}
}

// Attempt hooks get each attempt's duration, failed or not, also when the
// bus's only subscriber is DurationFree or there is no bus.
func TestOnAttemptDurations(t *testing.T) {
	nop := funcSub{core.AllEvents, func(context.Context, core.Event) {}}
	for name, bus := range map[string]*core.Bus{"no bus": nil, "duration-free subscriber": core.NewBus(durationFree{nop, true})} {
		t.Run(name, func(t *testing.T) {
			clk := coretest.NewFakeClock(time.Unix(0, 0))
			var got []time.Duration
			p, err := core.NewPolicy(core.PolicyConfig{Bus: bus, Clock: clk, Sleeper: clk, Retry: core.RetryConfig{
				Strategy: core.Constant(0), OnAttempt: func(a core.AttemptInfo) { got = append(got, a.Duration) }}})
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			err = p.Run(context.Background(), func(context.Context) error {
				n++
				clk.Advance(time.Duration(n) * time.Millisecond)
				if n == 1 {
					return core.Transient(errors.New("blip"))
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 2 || got[0] != time.Millisecond || got[1] != 2*time.Millisecond {
				t.Fatalf("hook durations %v, want [1ms 2ms]", got)
			}
		})
	}
}

// More of what the fast path hands over: a panic in the first attempt, the
// caller cancelling during it, a per-call breaker and attempt cap, and the
// attempt number seen inside fn. Each case runs without a subscriber (fast
// path), with one (full engine) and with the first attempt made inline
// (core.Inline), and must end alike.
func TestFastPathHandOver(t *testing.T) {
	type end struct {
		err      string
		canceled bool
		panicked any
		seen     string // the attempts made, numbered
		state    core.BreakerState
	}
	type runner = func(p *core.Policy, ctx context.Context, c *core.Call, fn func(context.Context) error) error
	cases := map[string]func(t *testing.T, p *core.Policy, br *core.Breaker, run runner) end{
		"panic in the first attempt": func(t *testing.T, p *core.Policy, br *core.Breaker, run runner) (e end) {
			defer func() { e.panicked = recover(); e.state = br.State() }()
			_ = run(p, context.Background(), &core.Call{}, func(context.Context) error { panic("boom") })
			return e
		},
		"canceled during the first attempt": func(t *testing.T, p *core.Policy, br *core.Breaker, run runner) end {
			ctx, cancel := context.WithCancel(context.Background())
			err := run(p, ctx, &core.Call{}, func(context.Context) error { cancel(); return core.Transient(errors.New("blip")) })
			return end{err: err.Error(), canceled: errors.Is(err, context.Canceled), state: br.State()}
		},
		"per-call breaker and attempt cap": func(t *testing.T, p *core.Policy, br *core.Breaker, run runner) end {
			own := mustBreaker(t, core.BreakerConfig{FailureThreshold: 1, RecoveryTimeout: time.Hour})
			c := core.Call{Breaker: own, MaxAttempts: 2}
			seen, n := "", 0
			err := run(p, context.Background(), &c, func(context.Context) error {
				n++
				seen += fmt.Sprint(n)
				return core.Transient(errors.New("blip"))
			})
			return end{err: err.Error(), seen: seen + "/" + own.State().String(), state: br.State()}
		},
		"attempt numbers": func(t *testing.T, p *core.Policy, br *core.Breaker, run runner) end {
			var c core.Call
			seen, n := "", 0
			err := run(p, context.Background(), &c, func(context.Context) error {
				n++
				seen += fmt.Sprint(n)
				if n < 3 {
					return core.Transient(errors.New("blip"))
				}
				return nil
			})
			e := end{seen: fmt.Sprint(seen, "/", n), state: br.State()}
			if err != nil {
				e.err = err.Error()
			}
			return e
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var ends [3]end
			for i, mode := range []string{"fast path", "full engine", "inline"} {
				observed := mode == "full engine"
				run := runOptions
				if mode == "inline" {
					run = runStep
				}
				br := mustBreaker(t, core.BreakerConfig{FailureThreshold: 2, RecoveryTimeout: time.Hour})
				cfg := core.PolicyConfig{Breaker: br, Budget: mustBudget(t, core.BudgetConfig{}), Retry: core.RetryConfig{MaxAttempts: 3, Strategy: core.Constant(0)}}
				if observed {
					cfg.Bus = core.NewBus(funcSub{core.AllEvents, func(context.Context, core.Event) {}})
				}
				p, err := core.NewPolicy(cfg)
				if err != nil {
					t.Fatal(err)
				}
				ends[i] = tc(t, p, br, run)
			}
			if ends[0] != ends[1] || ends[2] != ends[1] {
				t.Errorf("fast path %+v, full engine %+v, inline %+v", ends[0], ends[1], ends[2])
			}
			t.Logf("%+v", ends[0])
		})
	}
}
