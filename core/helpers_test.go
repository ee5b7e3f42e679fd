package core_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/redress-go/redress/core"
	"github.com/redress-go/redress/core/coretest"
)

// fixture is a policy on a fake clock with a recorder.
type fixture struct {
	p   *core.Policy
	rec *coretest.Recorder
	clk *coretest.FakeClock
}

func newFixture(t *testing.T, cfg core.PolicyConfig) *fixture {
	t.Helper()
	p, rec, clk, err := coretest.NewRecordingPolicy(cfg)
	if err != nil {
		t.Fatalf("NewPolicy: %v", err)
	}
	return &fixture{p, rec, clk}
}

// names returns the recorded event names without the start markers, which
// most tests do not care about.
func (f *fixture) names() []string {
	var out []string
	for _, n := range f.rec.Names() {
		if n != "operation_start" && n != "attempt_start" {
			out = append(out, n)
		}
	}
	return out
}

func eq[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

func mustBreaker(t *testing.T, cfg core.BreakerConfig) *core.Breaker {
	t.Helper()
	b, err := core.NewBreaker(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustBudget(t *testing.T, cfg core.BudgetConfig) *core.Budget {
	t.Helper()
	b, err := core.NewBudget(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
