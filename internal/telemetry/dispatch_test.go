package telemetry

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redress-go/redress/core"
)

var errTest = errors.New("boom")

// calls is a Recorder that writes down what Record asked of it.
type calls struct{ log []string }

func (c *calls) add(format string, a ...any) { c.log = append(c.log, fmt.Sprintf(format, a...)) }

func (c *calls) TrackBreaker(policy string, b *core.Breaker) {
	c.add("breaker %s %s", policy, b.Name())
}
func (c *calls) TrackBudget(policy string, _ *core.Budget) { c.add("budget %s", policy) }
func (c *calls) Event(_ context.Context, en *Entry[int], k core.EventKind, ei int) {
	c.add("event %s/%s %s %s", en.Key.Policy, en.Key.Operation, k, ErrorType(ei))
}
func (c *calls) WrappedEvent(_ context.Context, en *Entry[int], k core.EventKind, ei int, w Wrapper) {
	c.add("event %s %s %s", k, ErrorType(ei), w.HTTPMethod)
}
func (c *calls) Attempt(_ context.Context, _ *Entry[int], ei int, s float64) {
	c.add("attempt %s %g", ErrorType(ei), s)
}
func (c *calls) WrappedAttempt(_ context.Context, _ *Entry[int], ei int, s float64, w Wrapper) {
	c.add("attempt %s %g %s", ErrorType(ei), s, w.HTTPMethod)
}
func (c *calls) Retry(_ context.Context, _ *Entry[int], ei int, d float64) {
	c.add("retry %s %g", ErrorType(ei), d)
}
func (c *calls) Operation(_ context.Context, _ *Entry[int], o core.OutcomeKind, stop core.StopReason, ei int, s float64) {
	c.add("operation %s %s %s %g", o, StopReasonOf(stop), ErrorType(ei), s)
}
func (c *calls) BudgetRejection(context.Context, *Entry[int]) { c.add("budget_rejection") }
func (c *calls) BreakerRejection(_ context.Context, _ *Entry[int], b string) {
	c.add("breaker_rejection %s", b)
}
func (c *calls) Transition(_ context.Context, policy, b string, st core.BreakerState) {
	c.add("transition %s %s %s", policy, b, st)
}

// Record calls the recorder for each class of event: every event counted,
// attempt_end timed, retry counted and timed, terminal events timed and
// rejections counted, transitions counted; breakers and budgets tracked
// when they change.
func TestRecordDispatch(t *testing.T) {
	br, _ := core.NewBreaker(core.BreakerConfig{Name: "b1"})
	bud, _ := core.NewBudget(core.BudgetConfig{})
	ms := time.Millisecond
	for _, tc := range []struct {
		name string
		e    core.Event
		want []string
	}{
		{"attempt_end", core.Event{Kind: core.EventAttemptEnd, Policy: "p", Operation: "o?q", AttemptDuration: ms},
			[]string{"event p/o attempt_end ", "attempt  0.001"}},
		{"failed attempt_end with wrapper labels", core.Event{Kind: core.EventAttemptEnd, Policy: "p", Operation: "o", Err: errTest, Class: core.ClassTransient, AttemptDuration: ms, Labels: core.Labels{HTTPMethod: "GET"}},
			[]string{"event attempt_end transient GET", "attempt transient 0.001 GET"}},
		{"retry", core.Event{Kind: core.EventRetry, Policy: "p", Operation: "o", Class: core.ClassTransient, Sleep: 2 * ms},
			[]string{"event p/o retry transient", "retry transient 0.002"}},
		{"success", core.Event{Kind: core.EventSuccess, Policy: "p", Operation: "o", Attempt: 1, Outcome: core.OutcomeSuccess, Elapsed: ms},
			[]string{"event p/o success ", "operation success   0.001"}},
		{"budget_exhausted", core.Event{Kind: core.EventBudgetExhausted, Policy: "p", Operation: "o", Attempt: 1, Outcome: core.OutcomeFailure, StopReason: core.StopBudgetExhausted, Class: core.ClassTransient, Budget: bud},
			[]string{"budget p", "event p/o budget_exhausted transient", "operation failure budget_exhausted transient 0", "budget_rejection"}},
		{"circuit_rejected", core.Event{Kind: core.EventCircuitRejected, Policy: "p", Operation: "o", Outcome: core.OutcomeRejected, StopReason: core.StopCircuitOpen, Breaker: br},
			[]string{"breaker p b1", "event p/o circuit_rejected ", "operation rejected circuit_open  0", "breaker_rejection b1"}},
		{"circuit_opened", core.Event{Kind: core.EventCircuitOpened, Policy: "p", Breaker: br, BreakerState: core.StateOpen},
			[]string{"breaker p b1", "event p/ circuit_opened ", "transition p b1 open"}},
		{"attempt_start", core.Event{Kind: core.EventAttemptStart, Policy: "p", Operation: "o"},
			[]string{"event p/o attempt_start "}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c Cache[int]
			r := &calls{}
			Record(context.Background(), &c, r, &tc.e)
			if got, want := strings.Join(r.log, "\n"), strings.Join(tc.want, "\n"); got != want {
				t.Errorf("calls:\n%s\nwant:\n%s", got, want)
			}
			// The same breaker and budget again are not tracked again.
			r.log = nil
			Record(context.Background(), &c, r, &tc.e)
			for _, l := range r.log {
				if strings.HasPrefix(l, "breaker p") || strings.HasPrefix(l, "budget p") {
					t.Errorf("tracked again: %s", l)
				}
			}
		})
	}
}

// Every terminal event records the operation's duration; only the budget
// and breaker rejections count a rejection.
func TestRecordEveryTerminalKind(t *testing.T) {
	for _, k := range core.EventKinds() {
		if !k.Terminal() {
			continue
		}
		var c Cache[int]
		r := &calls{}
		Record(context.Background(), &c, r, &core.Event{Kind: k, Policy: "p", Operation: "o"})
		ops, rejections := 0, 0
		for _, l := range r.log {
			switch {
			case strings.HasPrefix(l, "operation "):
				ops++
			case strings.HasSuffix(strings.Fields(l)[0], "_rejection"):
				rejections++
			}
		}
		wantRej := 0
		if RejectionOf(k) != NotRejected {
			wantRej = 1
		}
		if ops != 1 || rejections != wantRej {
			t.Errorf("%s: %d operation records and %d rejections, want 1 and %d", k, ops, rejections, wantRej)
		}
	}
}
