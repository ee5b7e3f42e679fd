package core_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/redress-go/redress/core"
)

// An injected result the ResultClassifier rejects is a failure; when the
// policy then gives up and its Fallback rescues the call, the Fallback's
// value is the call's, not the injected one.
func TestFaultResultRejectedThenFallback(t *testing.T) {
	fi, err := core.NewFaultInjector(core.FaultConfig{Rules: []core.FaultRule{{Rate: 1, Result: "bad"}}, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	fi.Enable()
	p, err := core.NewPolicy(core.PolicyConfig{
		Retry: core.RetryConfig{MaxAttempts: 1, ResultClassifier: func(v any) error {
			if v == "bad" {
				return core.Transient(errors.New("bad result"))
			}
			return nil
		}},
		Faults:   fi,
		Fallback: core.FallbackValue("fallback"),
	})
	if err != nil {
		t.Fatal(err)
	}
	o := core.Execute(context.Background(), p, func(context.Context) (string, error) { return "real", nil })
	if o.Value != "fallback" || !o.Fallback || o.Err != nil {
		t.Errorf("outcome %+v, want the Fallback's \"fallback\" (Fallback true)", o)
	}
}

// A queue wait that uses up the call's timeout ends the call with
// deadline before any attempt: the operation is not called and the
// breaker hears nothing.
func TestBulkheadWaitPastTheCallTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bh, err := core.NewBulkhead(core.BulkheadConfig{MaxConcurrent: 1, MaxQueue: 1, MaxWait: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		br := mustBreaker(t, core.BreakerConfig{FailureThreshold: 1})
		p, err := core.NewPolicy(core.PolicyConfig{Timeout: core.TimeoutConfig{Call: 50 * time.Millisecond},
			Retry: core.RetryConfig{MaxAttempts: 1}, Concurrency: bh, Breaker: br})
		if err != nil {
			t.Fatal(err)
		}
		tok, _ := bh.Acquire(context.Background())
		go func() { time.Sleep(150 * time.Millisecond); bh.Release(tok, core.SlotSucceeded) }()
		called := false
		err = p.Run(context.Background(), func(ctx context.Context) error { called = true; return ctx.Err() })
		if r, _ := core.StopReasonOf(err); called || r != core.StopDeadline {
			t.Errorf("called %v, err %v (stop %v): want the call stopped at its deadline, no attempt", called, err, r)
		}
		if br.State() != core.StateClosed || bh.InFlight() != 0 {
			t.Errorf("breaker %v, %d slots held: want closed, none", br.State(), bh.InFlight())
		}
	})
}

// A hedge whose operation panics does not end the process: the panic is
// that hedge's failure, and the first copy's answer stands.
func TestHedgePanicIsTheHedgesFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, err := core.NewPolicy(core.PolicyConfig{Retry: core.RetryConfig{MaxAttempts: 1},
			Hedge: newHedger(t, core.HedgeConfig{Delay: 10 * time.Millisecond})})
		if err != nil {
			t.Fatal(err)
		}
		var n atomic.Int32
		v, err := core.Do(context.Background(), p, func(ctx context.Context) (int, error) {
			if n.Add(1) == 2 { // the hedge
				panic("hedge exploded")
			}
			time.Sleep(50 * time.Millisecond)
			return 7, nil
		})
		if err != nil || v != 7 {
			t.Errorf("%d, %v: want the first copy's 7", v, err)
		}
	})
}

// Run's attempts have no value: a ResultClassifier that expects one is not
// asked under hedging, as it is not without.
func TestHedgedRunSkipsTheResultClassifier(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, err := core.NewPolicy(core.PolicyConfig{Retry: core.RetryConfig{MaxAttempts: 1, ResultClassifier: func(v any) error {
			if _, ok := v.(string); !ok {
				return errors.New("not a string: " + strings.TrimSpace("x"))
			}
			return nil
		}}, Hedge: newHedger(t, core.HedgeConfig{Delay: 10 * time.Millisecond})})
		if err != nil {
			t.Fatal(err)
		}
		var calls atomic.Int32
		err = p.Run(context.Background(), func(ctx context.Context) error {
			if calls.Add(1) == 1 {
				<-ctx.Done() // the first copy waits; the hedge answers
				return ctx.Err()
			}
			return nil
		})
		if err != nil {
			t.Errorf("Run: %v, want the hedge's success", err)
		}
	})
}
