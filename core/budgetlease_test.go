package core_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redress-go/redress/core"
	"github.com/redress-go/redress/core/coretest"
)

// fakeLease is a BudgetLease holding tokens; undecided leaves every
// decision to the budget.
type fakeLease struct {
	tokens, taken, returned int
	undecided               bool
	allowance, used         float64
}

func (l *fakeLease) Take() (ok, decided bool, remaining float64) {
	if l.undecided {
		return false, false, 0
	}
	if l.tokens == 0 {
		return false, true, 0
	}
	l.tokens--
	l.taken++
	return true, true, float64(l.tokens)
}

func (l *fakeLease) Return() { l.tokens++; l.returned++ }

func (l *fakeLease) Level() (allowance, used float64, known bool) {
	return l.allowance, l.used, l.allowance > 0
}

func TestBudgetLeaseDecides(t *testing.T) {
	clk := coretest.NewFakeClock(coretest.StartTime)
	l := &fakeLease{tokens: 2}
	b := mustBudget(t, core.BudgetConfig{MaxRetries: 10, Window: time.Second, Clock: clk, Lease: l})
	for i := range 2 {
		if ok, rem := b.TryWithdrawAt(clk.Now()); !ok || rem != float64(1-i) {
			t.Fatalf("withdrawal %d: %v, %v; want the lease's token", i, ok, rem)
		}
	}
	if ok, _ := b.TryWithdrawAt(clk.Now()); ok {
		t.Fatal("granted with the lease empty, though the window had room")
	}
	if b.Denied() != 1 {
		t.Errorf("Denied = %d, want 1", b.Denied())
	}
	// A lease that cannot decide leaves it to the window, which counted
	// the two leased retries: 8 more of 10.
	l.undecided = true
	n := 0
	for b.TryWithdraw() {
		n++
	}
	if n != 8 {
		t.Errorf("the window granted %d after the lease's 2, want 8", n)
	}
	if b.Remaining() != 0 {
		t.Errorf("Remaining = %v from the window, want 0", b.Remaining())
	}
	l.allowance, l.used = 100, 25
	if b.Remaining() != 75 || b.Utilization() != 0.25 {
		t.Errorf("Remaining %v, Utilization %v; want the lease's level 75, 0.25", b.Remaining(), b.Utilization())
	}
}

func TestBudgetLeaseRefundsCancelledRetry(t *testing.T) {
	l := &fakeLease{tokens: 1}
	b := mustBudget(t, core.BudgetConfig{MaxRetries: 5, Window: time.Minute, Lease: l})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p, err := core.NewPolicy(core.PolicyConfig{Budget: b, Retry: core.RetryConfig{MaxAttempts: 3},
		Sleeper: sleeperFunc(func(ctx context.Context, _ time.Duration) error { cancel(); return ctx.Err() })})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Run(ctx, func(context.Context) error { return coretest.ClassErr(core.ClassTransient) }); err == nil {
		t.Fatal("the call succeeded")
	}
	if l.taken != 1 || l.returned != 1 || l.tokens != 1 {
		t.Errorf("taken %d, returned %d, tokens %d; want the cancelled retry's token back in the lease", l.taken, l.returned, l.tokens)
	}
}

func TestBudgetTrafficCountsDepositsAndFailures(t *testing.T) {
	b := mustBudget(t, core.BudgetConfig{})
	for range 5 {
		b.Deposit()
	}
	b.Failed()
	if req, fail := b.Traffic(); req != 5 || fail != 1 {
		t.Errorf("Traffic = %d, %d; want 5, 1", req, fail)
	}
	b.Deposit()
	if req, _ := b.Traffic(); req != 6 {
		t.Errorf("Traffic after one more deposit = %d, want 6 (totals, not deltas)", req)
	}
}

func TestBudgetRejectsTypedNilLease(t *testing.T) {
	var l *fakeLease
	_, err := core.NewBudget(core.BudgetConfig{Lease: l})
	var ce *core.ConfigError
	if !errors.As(err, &ce) || ce.Field != "BudgetConfig.Lease" {
		t.Fatalf("NewBudget = %v, want a ConfigError naming BudgetConfig.Lease", err)
	}
}
