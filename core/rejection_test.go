package core_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redress-go/redress/core"
	"github.com/redress-go/redress/core/coretest"
)

// Each local guard ends a refused call with its own terminal event, the
// rejected outcome and no attempt: a Throttler with throttled, a held
// breaker with held, an open breaker with circuit_rejected. A standalone
// breaker's refusal is published the same way on its own bus.
func TestLocalRejectionsHaveTheirOwnEvents(t *testing.T) {
	ctx := context.Background()
	down := func(context.Context) error { return core.Transient(errors.New("down")) }
	ok := func(context.Context) error { return nil }
	terminal := func(t *testing.T, rec *coretest.Recorder) core.Event {
		t.Helper()
		var last core.Event
		n := 0
		for _, e := range rec.All() {
			if e.Kind.Terminal() {
				last, n = e, n+1
			}
		}
		if n != 1 {
			t.Fatalf("%d terminal events, want 1: %v", n, rec.Names())
		}
		if rec.Count(core.EventAttemptStart) != 0 {
			t.Fatalf("a refused call made an attempt: %v", rec.Names())
		}
		return last
	}
	check := func(t *testing.T, e core.Event, kind core.EventKind, r core.StopReason) {
		t.Helper()
		if e.Kind != kind || e.StopReason != r || e.Outcome != core.OutcomeRejected || !e.Kind.Rejection() || !core.RejectionEvents.Has(e.Kind) {
			t.Fatalf("terminal %v (stop %v, outcome %v), want %v (stop %v, rejected)", e.Kind, e.StopReason, e.Outcome, kind, r)
		}
		if r.Event() != kind {
			t.Fatalf("%v.Event() = %v, want %v", r, r.Event(), kind)
		}
	}

	t.Run("throttled", func(t *testing.T) {
		th, _ := newThrottler(t, core.ThrottlerConfig{})
		rec := &coretest.Recorder{}
		p, err := core.NewPolicy(core.PolicyConfig{Throttler: th, Bus: core.NewBus(rec), Retry: core.RetryConfig{MaxAttempts: 1}})
		if err != nil {
			t.Fatal(err)
		}
		for range 1000 {
			rec.Reset()
			if r, _ := core.StopReasonOf(p.Run(ctx, down)); r == core.StopThrottled {
				check(t, terminal(t, rec), core.EventThrottled, core.StopThrottled)
				return
			}
		}
		t.Fatal("1000 calls to a dead downstream, none throttled")
	})

	t.Run("held", func(t *testing.T) {
		clk := coretest.NewFakeClock(coretest.StartTime)
		brRec := &coretest.Recorder{}
		br := mustBreaker(t, core.BreakerConfig{Clock: clk, Bus: core.NewBus(brRec)})
		rec := &coretest.Recorder{}
		p, err := core.NewPolicy(core.PolicyConfig{Breaker: br, Clock: clk, Sleeper: clk, Bus: core.NewBus(rec)})
		if err != nil {
			t.Fatal(err)
		}
		br.Hold(10 * time.Second)
		var he *core.HeldError
		if err := p.Run(ctx, ok); !errors.As(err, &he) || he.RetryIn != 10*time.Second {
			t.Fatalf("a call while held: %v, want a HeldError with 10s left", err)
		}
		check(t, terminal(t, rec), core.EventHeld, core.StopHeld)
		// Standalone: Allow refuses and the breaker's own bus says why.
		if _, err := br.Allow(); !errors.Is(err, core.ErrHeld) {
			t.Fatalf("standalone Allow while held: %v, want ErrHeld", err)
		}
		if brRec.Count(core.EventHeld) != 1 || brRec.Count(core.EventCircuitRejected) != 0 {
			t.Fatalf("the breaker's bus: %v, want one held event", brRec.Names())
		}
	})

	t.Run("circuit_rejected", func(t *testing.T) {
		clk := coretest.NewFakeClock(coretest.StartTime)
		br := mustBreaker(t, core.BreakerConfig{FailureThreshold: 1, RecoveryTimeout: time.Minute, Clock: clk})
		rec := &coretest.Recorder{}
		p, err := core.NewPolicy(core.PolicyConfig{Breaker: br, Clock: clk, Sleeper: clk, Bus: core.NewBus(rec), Retry: core.RetryConfig{MaxAttempts: 1}})
		if err != nil {
			t.Fatal(err)
		}
		_ = p.Run(ctx, down)
		rec.Reset()
		_ = p.Run(ctx, ok)
		check(t, terminal(t, rec), core.EventCircuitRejected, core.StopCircuitOpen)
	})
}
