// Command quickstart shows the smallest useful redress setup: a policy with a
// circuit breaker and a retry budget, calling a flaky operation, with every
// decision printed by a tiny subscriber.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/redress-go/redress/core"
)

// printer is a minimal subscriber: one line per event.
type printer struct{ w io.Writer }

func (printer) Events() core.EventSet {
	return core.AllEvents &^ core.EventsOf(core.EventOperationStart, core.EventAttemptStart)
}
func (p printer) Handle(_ context.Context, e core.Event) {
	fmt.Fprintf(p.w, "%-22s op=%s attempt=%d", e.Kind, e.Operation, e.Attempt)
	if e.Failed() {
		fmt.Fprintf(p.w, " class=%s", e.Class)
	}
	if e.Kind == core.EventRetry {
		fmt.Fprintf(p.w, " sleep=%s", e.Sleep.Round(time.Millisecond))
	}
	if e.Kind.Terminal() {
		fmt.Fprintf(p.w, " outcome=%s stop=%s", e.Outcome, e.StopReason)
	}
	fmt.Fprintln(p.w)
}

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(ctx context.Context, w io.Writer) error {
	breaker, err := core.NewBreaker(core.BreakerConfig{Name: "inventory", FailureThreshold: 3})
	if err != nil {
		return err
	}
	budget, err := core.NewBudget(core.BudgetConfig{})
	if err != nil {
		return err
	}
	policy, err := core.NewPolicy(core.PolicyConfig{
		Name: "inventory",
		Retry: core.RetryConfig{
			MaxAttempts: 4,
			Strategy:    core.DecorrelatedJitter(5*time.Millisecond, 50*time.Millisecond),
		},
		Breaker: breaker,
		Budget:  budget,
		Bus:     core.NewBus(printer{w}),
	})
	if err != nil {
		return err
	}

	// An operation that fails twice with a transient error, then succeeds.
	calls := 0
	stock, err := core.Do(ctx, policy, func(ctx context.Context) (int, error) {
		calls++
		if calls <= 2 {
			return 0, core.Transient(errors.New("connection reset"))
		}
		return 42, nil
	}, core.WithOperation("GetStock"))
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "stock=%d after %d calls\n", stock, calls)

	// A permanent failure is never retried.
	_, err = core.Do(ctx, policy, func(ctx context.Context) (int, error) {
		return 0, &core.StatusError{Code: 404}
	}, core.WithOperation("GetStock"))
	r, _ := core.StopReasonOf(err)
	fmt.Fprintf(w, "not found: stop=%s\n", r)
	return nil
}
