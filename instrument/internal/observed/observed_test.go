package observed_test

import (
	"runtime"
	"testing"
	"time"

	"github.com/redress-go/redress/core"
	"github.com/redress-go/redress/core/coretest"
	"github.com/redress-go/redress/instrument/internal/observed"
)

// budget returns a fixed budget of 4 retries with used of them withdrawn.
func budget(t *testing.T, clk core.Clock, used int) *core.Budget {
	t.Helper()
	b, err := core.NewBudget(core.BudgetConfig{MaxRetries: 4, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	for range used {
		if !b.TryWithdraw() {
			t.Fatal("budget refused a withdrawal")
		}
	}
	return b
}

// breaker returns a breaker named name, in state st.
func breaker(t *testing.T, clk *coretest.FakeClock, name string, st core.BreakerState) *core.Breaker {
	t.Helper()
	b, err := core.NewBreaker(core.BreakerConfig{Name: name, FailureThreshold: 1, RecoveryTimeout: time.Second, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	if st == core.StateClosed {
		return b
	}
	p, err := b.Allow()
	if err != nil {
		t.Fatal(err)
	}
	p.Failure(core.ClassTransient)
	if st == core.StateHalfOpen {
		clk.Advance(2 * time.Second)
		if _, err := b.Allow(); err != nil { // the probe: left running
			t.Fatal(err)
		}
	}
	if b.State() != st {
		t.Fatalf("breaker %s is %v, want %v", name, b.State(), st)
	}
	return b
}

func TestBudgetsFoldToTheHighestUtilization(t *testing.T) {
	clk := coretest.NewFakeClock(coretest.StartTime)
	a, b, c := budget(t, clk, 1), budget(t, clk, 3), budget(t, clk, 2)
	var s observed.Set
	s.AddBudget("http", a)
	s.AddBudget("http", b)
	s.AddBudget("http", a) // again: no-op
	s.AddBudget("grpc", c)
	s.AddBudget("grpc", nil)
	_, got := s.Snapshot()
	want := []observed.BudgetUtilization{
		{Policy: "grpc", Utilization: 0.5, N: 1},
		{Policy: "http", Utilization: 0.75, N: 2},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
	// The fold follows the budgets: the fuller one drains (window passes),
	// the other takes over.
	clk.Advance(11 * time.Second)
	if !a.TryWithdraw() || !a.TryWithdraw() {
		t.Fatal("budget refused")
	}
	if _, got := s.Snapshot(); got[1].Utilization != 0.5 {
		t.Errorf("http utilization = %v, want 0.5 (a: 2 of 4 in the new window, b: 0)", got[1].Utilization)
	}
	runtime.KeepAlive([]*core.Budget{a, b, c})
}

func TestBreakersFoldToTheWorstState(t *testing.T) {
	for _, tc := range []struct {
		name   string
		states []core.BreakerState
		want   core.BreakerState
	}{
		{"closed", []core.BreakerState{core.StateClosed, core.StateClosed}, core.StateClosed},
		{"half_open beats closed", []core.BreakerState{core.StateClosed, core.StateHalfOpen}, core.StateHalfOpen},
		{"open beats half_open", []core.BreakerState{core.StateHalfOpen, core.StateOpen}, core.StateOpen},
		{"open beats closed, any order", []core.BreakerState{core.StateOpen, core.StateClosed, core.StateHalfOpen}, core.StateOpen},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := coretest.NewFakeClock(coretest.StartTime)
			var s observed.Set
			var keep []*core.Breaker
			for _, st := range tc.states {
				b := breaker(t, clk, "api.example", st)
				keep = append(keep, b)
				s.AddBreaker("http", b)
				s.AddBreaker("http", b)
			}
			other := breaker(t, clk, "other", core.StateClosed)
			s.AddBreaker("http", other)
			got, _ := s.Snapshot()
			want := []observed.BreakerState{
				{Policy: "http", Name: "api.example", State: tc.want, N: len(tc.states)},
				{Policy: "http", Name: "other", State: core.StateClosed, N: 1},
			}
			if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
				t.Errorf("got %+v, want %+v", got, want)
			}
			runtime.KeepAlive(keep)
			runtime.KeepAlive(other)
		})
	}
}

// One breaker or budget under two policy names is reported under each.
func TestSharedUnderTwoPolicies(t *testing.T) {
	clk := coretest.NewFakeClock(coretest.StartTime)
	br := breaker(t, clk, "db", core.StateOpen)
	bud := budget(t, clk, 2)
	var s observed.Set
	for _, p := range []string{"a", "b"} {
		s.AddBreaker(p, br)
		s.AddBudget(p, bud)
	}
	brs, buds := s.Snapshot()
	if len(brs) != 2 || brs[0].Policy != "a" || brs[1].Policy != "b" || brs[1].State != core.StateOpen {
		t.Errorf("breakers %+v", brs)
	}
	if len(buds) != 2 || buds[0].Utilization != 0.5 || buds[1].Utilization != 0.5 {
		t.Errorf("budgets %+v", buds)
	}
}

// Breakers and budgets the program dropped leave the set.
func TestUnreferencedDropOut(t *testing.T) {
	clk := coretest.NewFakeClock(coretest.StartTime)
	var s observed.Set
	kept := budget(t, clk, 1)
	s.AddBudget("kept", kept)
	func() {
		for range 3 {
			s.AddBudget("gone", budget(t, clk, 4))
			b, err := core.NewBreaker(core.BreakerConfig{Name: "gone"})
			if err != nil {
				t.Fatal(err)
			}
			s.AddBreaker("gone", b)
		}
		// Declared ones are held, even when also added (before or after).
		b, err := core.NewBreaker(core.BreakerConfig{Name: "declared"})
		if err != nil {
			t.Fatal(err)
		}
		s.AddBreaker("declared", b)
		s.DeclareBreaker("declared", b)
		s.AddBreaker("declared", b)
		bud := budget(t, clk, 2)
		s.DeclareBudget("declared", bud)
		s.AddBudget("declared", bud)
	}()
	var brs []observed.BreakerState
	var buds []observed.BudgetUtilization
	for range 10 { // a full GC clears weak pointers; retry in case one is in flight
		runtime.GC()
		if brs, buds = s.Snapshot(); len(brs) == 1 && len(buds) == 2 {
			break
		}
	}
	if len(brs) != 1 || brs[0].Name != "declared" || len(buds) != 2 || buds[0].Policy != "declared" || buds[1].Policy != "kept" {
		t.Errorf("after GC: breakers %+v, budgets %+v; want the declared breaker, the declared and the kept budget", brs, buds)
	}
	runtime.KeepAlive(kept)
}

func TestAddAllocatesNothingWhenKnown(t *testing.T) {
	clk := coretest.NewFakeClock(coretest.StartTime)
	br := breaker(t, clk, "x", core.StateClosed)
	bud := budget(t, clk, 0)
	var s observed.Set
	s.AddBreaker("p", br)
	s.DeclareBudget("p", bud)
	if n := testing.AllocsPerRun(100, func() {
		s.AddBreaker("p", br)
		s.AddBudget("p", bud)
		s.DeclareBreaker("p", br)
		s.DeclareBudget("p", bud)
	}); n != 0 {
		t.Errorf("re-adding allocates %v times", n)
	}
}

func TestSeverity(t *testing.T) {
	if !(observed.Severity(core.StateOpen) > observed.Severity(core.StateHalfOpen) &&
		observed.Severity(core.StateHalfOpen) > observed.Severity(core.StateClosed)) {
		t.Error("want open > half_open > closed")
	}
}
