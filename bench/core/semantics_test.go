package corebench

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redress-go/redress/core"
)

// The tests below keep the comparison honest: every variant of a group makes
// the same number of calls and returns the same result, and none of the
// breakers or budgets trips in the number of calls a benchmark makes. They
// are quick under -race (CI runs them).

// calls is more than every breaker threshold (5) and, for fail-once, more
// than redress's default budget would allow (floor 100 + 20% of requests),
// so a variant whose breaker or budget would stop the call fails here.
const calls = 200

func TestSuccessPathVariants(t *testing.T) {
	for _, g := range []struct {
		name string
		vs   []variant
	}{
		{"SuccessPath", successPath},
		{"BreakerParallel", breakerParallel},
		{"Subscriber", subscriber},
		{"Execute", execute},
	} {
		for _, v := range g.vs {
			t.Run(g.name+"/"+v.name, func(t *testing.T) {
				var n atomic.Int64
				call := v.build(t, func(ctx context.Context) (int, error) {
					n.Add(1)
					return succeed(ctx)
				})
				for i := range calls {
					got, err := call(context.Background())
					if err != nil || got != 42 {
						t.Fatalf("call %d = %d, %v; want 42, nil", i, got, err)
					}
				}
				if n.Load() != calls {
					t.Fatalf("operation ran %d times for %d calls; want once per call", n.Load(), calls)
				}
			})
		}
	}
}

func TestFailOnceVariants(t *testing.T) {
	for _, g := range []struct {
		name string
		vs   []variant
	}{
		{"FailOnceThenSucceed", failOnce},
		{"SubscriberFailOnce", subscriberFailOnce},
	} {
		for _, v := range g.vs {
			t.Run(g.name+"/"+v.name, func(t *testing.T) {
				f := &flaky{err: errFlaky}
				call := v.build(t, f.op)
				for i := range calls {
					f.left = 1
					got, err := call(context.Background())
					if err != nil || got != 42 {
						t.Fatalf("call %d = %d, %v; want 42, nil", i, got, err)
					}
					if want := 2 * (i + 1); f.calls != want {
						t.Fatalf("after call %d the operation ran %d times; want %d (fail, retry)", i, f.calls, want)
					}
				}
			})
		}
	}
}

// TestFlakyReallyFails guards the fail-once group itself: without a retry
// the first call fails, so each variant above did retry.
func TestFlakyReallyFails(t *testing.T) {
	f := &flaky{left: 1, err: errFlaky}
	if _, err := f.op(context.Background()); err != errFlaky {
		t.Fatalf("first call: %v, want errFlaky", err)
	}
	p := newPolicy(t, policyOpts{})
	f.left = 1
	_, err := core.Do(context.Background(), p, f.op, core.WithMaxAttempts(1))
	if r, ok := core.StopReasonOf(err); !ok || r != core.StopMaxAttempts {
		t.Fatalf("one attempt: err %v (stop %v); want StopMaxAttempts", err, r)
	}
}

// countSub counts the events it is given.
type countSub struct {
	set core.EventSet
	n   atomic.Int64
}

func (s *countSub) Events() core.EventSet                    { return s.set }
func (s *countSub) Handle(ctx context.Context, e core.Event) { s.n.Add(1) }

// TestSubscriberSeesEvents checks the subscriber benchmarks measure event
// delivery: a terminal-only subscriber gets exactly one event per call, an
// all-events subscriber at least operation_start, attempt_start, attempt_end
// and the terminal one, and an idle one (circuit events only) none.
func TestSubscriberSeesEvents(t *testing.T) {
	for _, tc := range []struct {
		name     string
		set      core.EventSet
		min, max int64
	}{
		{"idle", core.CircuitEvents, 0, 0},
		{"terminal", core.TerminalEvents, 1, 1},
		{"all", core.AllEvents, 4, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sub := &countSub{set: tc.set}
			call := withBus(sub)(t, succeed)
			const n = 10
			for range n {
				if _, err := call(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			if got := sub.n.Load(); got < tc.min*n || got > tc.max*n {
				t.Fatalf("%d events for %d calls; want %d to %d per call", got, n, tc.min, tc.max)
			}
		})
	}
}

// TestAttemptTimeoutVariants checks that the timeout variants really bound
// the operation: redress and the manual variant put a deadline on its
// context; failsafe-go's timeout policy gives it a context that a timer
// cancels (it sets no deadline), so only cancellability is checked there.
func TestAttemptTimeoutVariants(t *testing.T) {
	for _, v := range execute {
		switch v.name {
		case "redress-attempt-timeout", "manual-timeout", "failsafe-timeout":
		default:
			continue
		}
		t.Run(v.name, func(t *testing.T) {
			var left time.Duration
			var cancellable bool
			call := v.build(t, func(ctx context.Context) (int, error) {
				if d, ok := ctx.Deadline(); ok {
					left = time.Until(d)
				}
				cancellable = ctx.Done() != nil
				return 42, nil
			})
			if _, err := call(context.Background()); err != nil {
				t.Fatal(err)
			}
			if !cancellable {
				t.Fatal("the operation's context cannot be cancelled")
			}
			if v.name == "failsafe-timeout" {
				return
			}
			if left <= 0 || left > attemptTimeout {
				t.Fatalf("operation saw %v left before its deadline; want (0, %v]", left, attemptTimeout)
			}
		})
	}
}

// TestZeroAllocs guards the zero-allocation target: the success path of redress, with
// retry, breaker and budget and no interested subscriber, allocates nothing;
// so does the standalone breaker. A regression in core fails CI here.
func TestZeroAllocs(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		op   op
	}{
		{"Do/retry+breaker+budget", redressDo(full)(t, succeed)},
		{"Do/retry-only", redressDo(policyOpts{})(t, succeed)},
		{"Do/bus-without-interested-subscriber", withBus(nopSub{core.CircuitEvents})(t, succeed)},
		{"Breaker.Allow+Permit.Success", redressAllow(t, succeed)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if n := testing.AllocsPerRun(1000, func() {
				if _, err := tc.op(ctx); err != nil {
					t.Fatal(err)
				}
			}); n != 0 {
				t.Fatalf("%v allocations per call; want 0", n)
			}
		})
	}
}
