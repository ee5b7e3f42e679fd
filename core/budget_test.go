package core_test

import (
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
