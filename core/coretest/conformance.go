package coretest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/redress-go/redress/core"
)

// TestSubscriber is a conformance test for core.Subscriber implementations,
// in the manner of testing/slogtest. newSub returns a fresh subscriber for
// each sub-test. It checks that the subscriber:
//
//   - reports a stable event set;
//   - handles every event kind, with and without breaker, budget, error and
//     labels, without panicking;
//   - never changes the result of a call, whatever the scenario (success,
//     retries, permanent failure, exhaustion, budget, breaker open and
//     recovery, cancellation, deferral, abort);
//   - returns promptly from Handle;
//   - if it is a core.ContextDecorator, returns a context that keeps the
//     parent's values and cancellation;
//   - is safe for concurrent use (run with -race).
func TestSubscriber(t *testing.T, newSub func(t *testing.T) core.Subscriber) {
	t.Helper()
	t.Run("StableEventSet", func(t *testing.T) {
		s := newSub(t)
		if a, b := s.Events(), s.Events(); a != b {
			t.Errorf("Events() changed between calls: %b then %b", a, b)
		}
	})
	t.Run("EveryEventKind", func(t *testing.T) {
		s := newSub(t)
		bus := core.NewBus(s)
		var panics []core.SubscriberPanic
		bus.SetPanicHandler(func(p core.SubscriberPanic) { panics = append(panics, p) })
		br, _ := core.NewBreaker(core.BreakerConfig{Name: "conformance"})
		bud, _ := core.NewBudget(core.BudgetConfig{})
		full := core.Event{
			Policy: "p", Operation: "op", Attempt: 2, Class: core.ClassRateLimit, Reason: "status_429",
			Err: errors.New("boom"), StopReason: core.StopMaxAttempts, Outcome: core.OutcomeFailure,
			Sleep: time.Second, Elapsed: 2 * time.Second, AttemptDuration: time.Millisecond,
			Breaker: br, BreakerState: core.StateOpen, PrevBreakerState: core.StateClosed,
			Budget: bud, BudgetRemaining: 3,
			Labels: core.Labels{HTTPMethod: "GET", HTTPRoute: "/users/{id}", ServerAddress: "users", ServerPort: 443, StatusCode: 429,
				DBSystem: "postgresql", DBOperation: "SELECT users", RPCSystem: "grpc", RPCMethod: "/pkg.Svc/M", RPCStatusCode: "UNAVAILABLE"},
		}
		for _, k := range core.EventKinds() {
			for _, e := range []core.Event{{Kind: k}, withKind(full, k)} {
				ctx := bus.PublishDecorate(context.Background(), e)
				if ctx == nil {
					t.Fatalf("%s: decorated context is nil", k)
				}
				bus.Publish(ctx, e)
			}
		}
		for _, p := range panics {
			t.Errorf("subscriber panicked on %s: %v", p.Event, p.Value)
		}
	})
	t.Run("CallsUnchanged", func(t *testing.T) {
		for _, sc := range scenarios() {
			t.Run(sc.name, func(t *testing.T) {
				want := sc.run(t, nil)
				got := runWithTimeout(t, func() outcomeSummary { return sc.run(t, newSub(t)) })
				if got != want {
					t.Errorf("with the subscriber: %+v; without: %+v", got, want)
				}
			})
		}
	})
	t.Run("ContextDecorator", func(t *testing.T) {
		s := newSub(t)
		d, ok := s.(core.ContextDecorator)
		if !ok {
			t.Skip("not a ContextDecorator")
		}
		type key struct{}
		parent, cancel := context.WithCancel(context.WithValue(context.Background(), key{}, "v"))
		for _, k := range []core.EventKind{core.EventOperationStart, core.EventAttemptStart} {
			ctx := d.Decorate(parent, core.Event{Kind: k, Policy: "p", Operation: "op", Attempt: 1})
			if ctx == nil {
				t.Fatalf("Decorate(%s) returned nil", k)
			}
			if ctx.Value(key{}) != "v" {
				t.Errorf("Decorate(%s) lost the parent's values", k)
			}
			// End what was started, as the engine would.
			s.Handle(ctx, core.Event{Kind: map[core.EventKind]core.EventKind{
				core.EventOperationStart: core.EventSuccess, core.EventAttemptStart: core.EventAttemptEnd}[k], Attempt: 1})
		}
		ctx := d.Decorate(parent, core.Event{Kind: core.EventOperationStart})
		cancel()
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
			t.Error("the decorated context does not follow the parent's cancellation")
		}
		s.Handle(ctx, core.Event{Kind: core.EventCanceled, StopReason: core.StopCanceled})
	})
	t.Run("Concurrent", func(t *testing.T) {
		s := newSub(t)
		bus := core.NewBus(s)
		var mu sync.Mutex
		var panics []any
		bus.SetPanicHandler(func(p core.SubscriberPanic) { mu.Lock(); panics = append(panics, p.Value); mu.Unlock() })
		br, _ := core.NewBreaker(core.BreakerConfig{FailureThreshold: 20, RecoveryTimeout: time.Millisecond})
		p, err := core.NewPolicy(core.PolicyConfig{Bus: bus, Breaker: br, Sleeper: InstantSleeper{}, Retry: core.RetryConfig{Strategy: core.Constant(0)}})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				f := FailWithProbability(0.3, ClassErr(core.ClassTransient), uint64(g))
				for range 50 {
					_ = p.Run(context.Background(), f.Op(), core.WithOperation("concurrent"))
				}
			}()
		}
		wg.Wait()
		for _, v := range panics {
			t.Errorf("subscriber panicked: %v", v)
		}
	})
}

func withKind(e core.Event, k core.EventKind) core.Event { e.Kind = k; return e }

type outcomeSummary struct {
	Err      string
	Stop     core.StopReason
	Attempts int
	Value    int
}

type scenario struct {
	name string
	run  func(t *testing.T, sub core.Subscriber) outcomeSummary
}

func runWithTimeout(t *testing.T, fn func() outcomeSummary) outcomeSummary {
	t.Helper()
	ch := make(chan outcomeSummary, 1)
	go func() { ch <- fn() }()
	select {
	case o := <-ch:
		return o
	case <-time.After(10 * time.Second):
		t.Fatal("a call with the subscriber did not finish within 10s: Handle blocks")
		return outcomeSummary{}
	}
}

func scenarios() []scenario {
	mk := func(name string, cfg func(clk *FakeClock) core.PolicyConfig, prepare func(p *core.Policy), ctxFn func() (context.Context, context.CancelFunc), op func() func(context.Context) (int, error)) scenario {
		return scenario{name, func(t *testing.T, sub core.Subscriber) outcomeSummary {
			clk := NewFakeClock(StartTime)
			c := cfg(clk)
			c.Clock, c.Sleeper = clk, clk
			c.Bus = core.NewBus()
			var panics []any
			c.Bus.SetPanicHandler(func(p core.SubscriberPanic) { panics = append(panics, p.Value) })
			if sub != nil {
				c.Bus.Subscribe(sub)
			}
			p, err := core.NewPolicy(c)
			if err != nil {
				// This runs on a goroutine of runWithTimeout: Errorf, not Fatal.
				t.Errorf("NewPolicy: %v", err)
				return outcomeSummary{Err: "NewPolicy: " + err.Error()}
			}
			if prepare != nil {
				prepare(p)
			}
			ctx, cancel := ctxFn()
			defer cancel()
			out := core.Execute(ctx, p, op(), core.WithOperation("conformance"))
			for _, v := range panics {
				t.Errorf("subscriber panicked: %v", v)
			}
			s := outcomeSummary{Stop: out.StopReason, Attempts: out.Attempts, Value: out.Value}
			if out.Err != nil {
				s.Err = out.Err.Error()
			}
			return s
		}}
	}
	bg := func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) }
	retry := func(clk *FakeClock) core.PolicyConfig {
		return core.PolicyConfig{Retry: core.RetryConfig{MaxAttempts: 3, Strategy: core.Constant(time.Millisecond)}}
	}
	fails := func(n int, err error) func() func(context.Context) (int, error) {
		return func() func(context.Context) (int, error) {
			f := FailTimes(n, err)
			return func(ctx context.Context) (int, error) { return 7, f.Op()(ctx) }
		}
	}
	withBreaker := func(clk *FakeClock) core.PolicyConfig {
		br, _ := core.NewBreaker(core.BreakerConfig{FailureThreshold: 2, RecoveryTimeout: time.Second, Clock: clk})
		return core.PolicyConfig{Breaker: br, Retry: core.RetryConfig{MaxAttempts: 3, Strategy: core.Constant(time.Second)}}
	}
	return []scenario{
		mk("success", retry, nil, bg, fails(0, nil)),
		mk("retry then success", retry, nil, bg, fails(2, ClassErr(core.ClassTransient))),
		mk("permanent", retry, nil, bg, fails(9, ClassErr(core.ClassPermanent))),
		mk("exhausted", retry, nil, bg, fails(9, ClassErr(core.ClassServerError))),
		mk("budget", func(clk *FakeClock) core.PolicyConfig {
			b, _ := core.NewBudget(core.BudgetConfig{MaxRetries: 1, Clock: clk})
			c := retry(clk)
			c.Budget = b
			return c
		}, nil, bg, fails(9, ClassErr(core.ClassTransient))),
		mk("breaker opens, rejects, recovers", withBreaker, func(p *core.Policy) {
			_ = p.Run(context.Background(), FailTimes(9, ClassErr(core.ClassServerError)).Op())
			_ = p.Run(context.Background(), func(context.Context) error { return nil })
		}, bg, fails(0, nil)),
		mk("canceled", retry, nil, func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx, cancel
		}, fails(0, nil)),
		mk("scheduled", func(clk *FakeClock) core.PolicyConfig {
			c := retry(clk)
			c.Retry.SleepHandler = func(context.Context, core.SleepInfo) core.SleepAction { return core.SleepDefer }
			return c
		}, nil, bg, fails(1, ClassErr(core.ClassRateLimit))),
		mk("aborted", retry, nil, bg, fails(1, core.Abort(errors.New("shutdown")))),
	}
}
