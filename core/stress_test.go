package core_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/redress-go/redress/core"
	"github.com/redress-go/redress/core/coretest"
)

// TestStressSharedPolicy runs many goroutines through one policy, breaker and
// budget with random faults (race detector on in CI) and checks the
// invariants: the budget is never overspent, and every operation publishes
// exactly one terminal event whose kind matches the error returned.
func TestStressSharedPolicy(t *testing.T) {
	const goroutines, perG = 16, 150
	br := mustBreaker(t, core.BreakerConfig{FailureRatio: 0.6, MinCalls: 50, RecoveryTimeout: time.Millisecond, HalfOpenProbes: 2})
	bud := mustBudget(t, core.BudgetConfig{MaxRetries: 400, Window: time.Hour})
	rec := &coretest.Recorder{Want: core.TerminalEvents | core.EventsOf(core.EventRetry)}
	p, err := core.NewPolicy(core.PolicyConfig{
		Breaker: br, Budget: bud, Bus: core.NewBus(rec),
		Sleeper: coretest.InstantSleeper{},
		Retry:   core.RetryConfig{MaxAttempts: 4, Strategy: core.FullJitter(time.Microsecond, time.Millisecond)},
	})
	if err != nil {
		t.Fatal(err)
	}
	classes := []core.Class{core.ClassTransient, core.ClassServerError, core.ClassRateLimit, core.ClassPermanent, core.ClassUnknown}
	type result struct {
		op   string
		stop core.StopReason
	}
	results := make(chan result, goroutines*perG)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 7))
			for i := range perG {
				op := fmt.Sprintf("op-%d-%d", g, i)
				ctx, cancel := context.WithCancel(context.Background())
				err := p.Run(ctx, func(context.Context) error {
					x := r.IntN(10)
					switch {
					case x < 5:
						return nil
					case x == 9 && i%10 == 0:
						cancel()
						return context.Canceled
					default:
						return coretest.ClassErr(classes[r.IntN(len(classes))])
					}
				}, core.WithOperation(op))
				cancel()
				stop, _ := core.StopReasonOf(err)
				results <- result{op, stop}
			}
		}()
	}
	wg.Wait()
	close(results)

	terminal := map[string][]core.Event{}
	retries := 0
	for _, e := range rec.All() {
		if e.Kind == core.EventRetry {
			retries++
			continue
		}
		terminal[e.Operation] = append(terminal[e.Operation], e)
	}
	n := 0
	for r := range results {
		n++
		evs := terminal[r.op]
		if len(evs) != 1 {
			t.Fatalf("%s published %d terminal events, want 1", r.op, len(evs))
		}
		if evs[0].StopReason != r.stop {
			t.Fatalf("%s: terminal event says %v, error says %v", r.op, evs[0].StopReason, r.stop)
		}
	}
	eq(t, "operations", n, goroutines*perG)
	if retries > 400 {
		t.Errorf("budget overspent: %d retries with a budget of 400", retries)
	}
	eq(t, "budget accounting", 400-int(bud.Remaining()), retries)
}
