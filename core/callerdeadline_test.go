package core_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/redress-go/redress/core"
	"github.com/redress-go/redress/core/coretest"
)

// frozenDeadline is a context whose deadline has a timer that has not fired
// yet: Deadline reports it, Done and Err do not (yet). It is the state a
// caller's context is in when a server's DEADLINE_EXCEEDED beats the
// context's own timer.
type frozenDeadline struct {
	context.Context
	dl time.Time
}

func (c frozenDeadline) Deadline() (time.Time, bool) { return c.dl, true }

// TestFailureAtCallersDeadlineIsTheCallers: an attempt that fails when the
// caller's deadline has passed, or is within core.DeadlineSlack, failed
// because of the caller's deadline, whatever its error says: the breaker
// does not count it, it is not retried, and the call stops with
// StopCanceled and context.DeadlineExceeded, as when the context's timer
// has fired. A failure just outside the slack is the downstream's.
func TestFailureAtCallersDeadlineIsTheCallers(t *testing.T) {
	const budget = 100 * time.Millisecond
	cases := []struct {
		name     string
		ctx      func() (context.Context, context.CancelFunc)
		work     time.Duration // how long the attempt takes before it fails
		callerIs bool
	}{
		{"well before the deadline", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), budget)
		}, budget / 2, false},
		{"just outside the slack", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), budget)
		}, budget - core.DeadlineSlack - time.Microsecond, false},
		{"at the edge of the slack", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), budget)
		}, budget - core.DeadlineSlack, true},
		{"within the slack", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), budget)
		}, budget - core.DeadlineSlack/2, true},
		{"passed, the context's timer not fired yet", func() (context.Context, context.CancelFunc) {
			return frozenDeadline{Context: context.Background(), dl: time.Now().Add(budget)}, func() {}
		}, budget + time.Millisecond, true},
	}
	for _, tc := range cases {
		for _, observed := range []bool{false, true} { // the fast path and the full engine
			name := tc.name
			if observed {
				name += ", observed"
			}
			t.Run(name, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					br := mustBreaker(t, core.BreakerConfig{FailureThreshold: 1, RecoveryTimeout: time.Hour})
					pc := core.PolicyConfig{Breaker: br, Retry: core.RetryConfig{MaxAttempts: 5, Strategy: core.Constant(0)}}
					var rec *coretest.Recorder
					if observed {
						rec = &coretest.Recorder{}
						pc.Bus = core.NewBus(rec)
					}
					p, err := core.NewPolicy(pc)
					if err != nil {
						t.Fatal(err)
					}
					ctx, cancel := tc.ctx()
					defer cancel()
					calls := 0
					err = p.Run(ctx, func(context.Context) error {
						calls++
						time.Sleep(tc.work) // the fake clock: exact
						return core.Transient(coretest.ErrInjected)
					})
					if !errors.Is(err, coretest.ErrInjected) {
						t.Errorf("err = %v, want the attempt's error reachable", err)
					}
					r, _ := core.StopReasonOf(err)
					if !tc.callerIs {
						// The downstream's failure: counted, the breaker opens and
						// refuses the retry.
						eq(t, "breaker", br.State(), core.StateOpen)
						eq(t, "stop", r, core.StopCircuitOpen)
						return
					}
					eq(t, "calls", calls, 1)
					eq(t, "stop", r, core.StopCanceled)
					eq(t, "breaker", br.State(), core.StateClosed)
					if !errors.Is(err, context.DeadlineExceeded) {
						t.Errorf("errors.Is(err, context.DeadlineExceeded) = false: %v", err)
					}
					if observed {
						names := rec.Names()
						eq(t, "terminal", names[len(names)-1], "canceled")
						eq(t, "retries", rec.Count(core.EventRetry), 0)
						eq(t, "circuit_opened", rec.Count(core.EventCircuitOpened), 0)
					}
				})
			})
		}
	}
}
