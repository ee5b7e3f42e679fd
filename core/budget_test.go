package core_test

import (
	"context"
	"testing"
	"time"

	"github.com/redress-go/redress/core"
	"github.com/redress-go/redress/core/coretest"
)

func TestFixedBudgetPerWindow(t *testing.T) {
	clk := coretest.NewFakeClock(coretest.StartTime)
	b := mustBudget(t, core.BudgetConfig{MaxRetries: 3, Window: 10 * time.Second, Clock: clk})
	for i := range 3 {
		if !b.TryWithdraw() {
			t.Fatalf("withdraw %d denied", i)
		}
	}
	eq(t, "4th", b.TryWithdraw(), false)
	eq(t, "utilization", b.Utilization(), 1.0)
	clk.Advance(11 * time.Second)
	eq(t, "after window", b.TryWithdraw(), true)
	eq(t, "remaining", b.Remaining(), 2.0)
	eq(t, "denied", b.Denied(), uint64(1))
}

func TestRatioBudgetFollowsTraffic(t *testing.T) {
	clk := coretest.NewFakeClock(coretest.StartTime)
	b := mustBudget(t, core.BudgetConfig{Ratio: 0.1, MinRetriesPerSecond: 0.5, Window: 10 * time.Second, Clock: clk})
	// Floor: 0.5/s × 10s = 5 retries with no traffic at all.
	eq(t, "floor", b.Remaining(), 5.0)
	for range 100 {
		b.Deposit()
	}
	eq(t, "floor + 10% of 100", b.Remaining(), 15.0)
	granted := 0
	for range 40 {
		if b.TryWithdraw() {
			granted++
		}
	}
	eq(t, "granted", granted, 15)
	clk.Advance(11 * time.Second)
	eq(t, "after the window only the floor is left", b.Remaining(), 5.0)
}

func TestBudgetDefaults(t *testing.T) {
	b := mustBudget(t, core.BudgetConfig{})
	eq(t, "default floor 10/s × 10s", b.Remaining(), 100.0)
}

func TestBudgetWithoutFloor(t *testing.T) {
	clk := coretest.NewFakeClock(coretest.StartTime)
	b := mustBudget(t, core.BudgetConfig{Ratio: 0.5, DisableFloor: true, Clock: clk})
	eq(t, "no traffic, no floor", b.TryWithdraw(), false)
	b.Deposit()
	b.Deposit()
	eq(t, "half of two requests", b.TryWithdraw(), true)
	eq(t, "spent", b.TryWithdraw(), false)
	if _, err := core.NewBudget(core.BudgetConfig{DisableFloor: true, MinRetriesPerSecond: 3}); err == nil {
		t.Error("DisableFloor with MinRetriesPerSecond accepted")
	}
}

// TestFixedBudgetNeverOverspends asks a MaxRetries 10 / 1s budget for a
// token every millisecond for five seconds: no interval of one Window may
// hold more than 10 grants, and a spent budget refills within 1.1 Window.
func TestFixedBudgetNeverOverspends(t *testing.T) {
	for _, start := range []time.Duration{0, 50 * time.Millisecond, 99 * time.Millisecond} {
		t.Run(start.String(), func(t *testing.T) { checkFixedBudget(t, start) })
	}
}

// checkFixedBudget asks from start on (the first grants fall at the end of
// a tenth of the window when start is 99ms).
func checkFixedBudget(t *testing.T, start time.Duration) {
	clk := coretest.NewFakeClock(time.Unix(0, 0))
	const window = time.Second
	b := mustBudget(t, core.BudgetConfig{MaxRetries: 10, Window: window, Clock: clk})
	var grants []time.Duration
	for at := start; at < 5*time.Second; at += time.Millisecond {
		if ok, _ := b.TryWithdrawAt(time.Unix(0, 0).Add(at)); ok {
			grants = append(grants, at)
		}
	}
	for i, g := range grants {
		n := 0
		for _, h := range grants[i:] {
			if h < g+window {
				n++
			}
		}
		if n > 10 {
			t.Fatalf("%d grants within %v from %v: %v", n, window, g, grants[i:i+n])
		}
	}
	for i := 10; i < len(grants); i++ {
		if gap := grants[i] - grants[i-10]; gap > window*11/10 {
			t.Fatalf("grant %d came %v after grant %d, later than 1.1 × Window", i, gap, i-10)
		}
	}
	if len(grants) < 40 {
		t.Fatalf("%d grants in 5s, want at least 40 (10 per 1.1s)", len(grants))
	}
}

// TestBudgetRefundsCancelledRetry: the token of a retry whose sleep is
// cancelled, or that the sleep handler aborts, is given back.
func TestBudgetRefundsCancelledRetry(t *testing.T) {
	for _, how := range []string{"canceled", "aborted"} {
		t.Run(how, func(t *testing.T) {
			clk := coretest.NewFakeClock(time.Unix(0, 0))
			b := mustBudget(t, core.BudgetConfig{MaxRetries: 5, Window: time.Minute, Clock: clk})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			cfg := core.PolicyConfig{Budget: b, Clock: clk, Retry: core.RetryConfig{MaxAttempts: 3}}
			if how == "canceled" {
				cfg.Sleeper = sleeperFunc(func(ctx context.Context, _ time.Duration) error { cancel(); return ctx.Err() }) // cancels instead of sleeping
			} else {
				cfg.Sleeper = coretest.InstantSleeper{}
				cfg.Retry.SleepHandler = func(context.Context, core.SleepInfo) core.SleepAction { return core.SleepAbort }
			}
			p, err := core.NewPolicy(cfg)
			if err != nil {
				t.Fatal(err)
			}
			err = p.Run(ctx, func(context.Context) error { return coretest.ClassErr(core.ClassTransient) })
			if err == nil {
				t.Fatal("the call succeeded")
			}
			if got := b.Remaining(); got != 5 {
				t.Fatalf("Remaining() = %v after a retry that was not made, want 5", got)
			}
		})
	}
}

// TestBudgetRefundsRetryStoppedAfterSleep: a retry whose token was taken
// but that a check after the sleep stops (here another call opened the
// breaker meanwhile) is not made: its token is given back.
func TestBudgetRefundsRetryStoppedAfterSleep(t *testing.T) {
	clk := coretest.NewFakeClock(time.Unix(0, 0))
	b := mustBudget(t, core.BudgetConfig{MaxRetries: 5, Window: time.Minute, Clock: clk})
	br := mustBreaker(t, core.BreakerConfig{FailureThreshold: 100, RecoveryTimeout: time.Hour, Clock: clk})
	opener := func(ctx context.Context, _ time.Duration) error { // another call trips it during the sleep
		for br.State() != core.StateOpen {
			permit, err := br.Allow()
			if err != nil {
				break
			}
			permit.Failure(core.ClassTransient)
		}
		return ctx.Err()
	}
	p, err := core.NewPolicy(core.PolicyConfig{Budget: b, Breaker: br, Clock: clk, Sleeper: sleeperFunc(opener), Retry: core.RetryConfig{MaxAttempts: 3}})
	if err != nil {
		t.Fatal(err)
	}
	err = p.Run(context.Background(), func(context.Context) error { return coretest.ClassErr(core.ClassTransient) })
	if r, _ := core.StopReasonOf(err); r != core.StopCircuitOpen {
		t.Fatalf("stop = %v, want circuit_open", r)
	}
	if got := b.Remaining(); got != 5 {
		t.Fatalf("Remaining() = %v after a retry the breaker refused, want 5", got)
	}
}

// sleeperFunc adapts a function to core.Sleeper.
type sleeperFunc func(ctx context.Context, d time.Duration) error

func (f sleeperFunc) Sleep(ctx context.Context, d time.Duration) error { return f(ctx, d) }
