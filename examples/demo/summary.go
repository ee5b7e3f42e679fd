package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/redress-go/redress/core"
)

// tally is a subscriber of the bus that counts what the live summary shows.
// It is safe for concurrent use.
type tally struct {
	mu       sync.Mutex
	calls    int
	ok       int
	okRetry  int
	retries  map[string]int // by class
	stops    map[string]int // by stop reason
	breakers map[string]core.BreakerState
	opened   int
}

func newTally() *tally {
	return &tally{retries: map[string]int{}, stops: map[string]int{}, breakers: map[string]core.BreakerState{}}
}

// Events implements core.Subscriber.
func (t *tally) Events() core.EventSet {
	return core.TerminalEvents | core.CircuitEvents | core.EventsOf(core.EventRetry)
}

// Handle implements core.Subscriber.
func (t *tally) Handle(_ context.Context, e core.Event) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case e.Kind == core.EventRetry:
		t.retries[e.Class.String()]++
	case e.Kind.Terminal():
		t.calls++
		switch e.Outcome {
		case core.OutcomeSuccess:
			t.ok++
		case core.OutcomeSuccessAfterRetry:
			t.okRetry++
		default:
			t.stops[e.StopReason.String()]++
		}
	default: // circuit_*
		if e.Breaker != nil {
			t.breakers[e.Breaker.Name()] = e.BreakerState
		}
		if e.Kind == core.EventCircuitOpened {
			t.opened++
		}
	}
	if e.Breaker != nil {
		if _, ok := t.breakers[e.Breaker.Name()]; !ok {
			t.breakers[e.Breaker.Name()] = e.Breaker.State()
		}
	}
}

// snapshot is a copy of the counts at one instant.
type snapshot struct {
	calls, ok, okRetry, opened int
	retries, stops             map[string]int
	breakers                   map[string]core.BreakerState
}

func (t *tally) snapshot() snapshot {
	t.mu.Lock()
	defer t.mu.Unlock()
	return snapshot{
		calls: t.calls, ok: t.ok, okRetry: t.okRetry, opened: t.opened,
		retries: maps.Clone(t.retries), stops: maps.Clone(t.stops), breakers: maps.Clone(t.breakers),
	}
}

func (s snapshot) retryTotal() int {
	n := 0
	for _, v := range s.retries {
		n += v
	}
	return n
}

func counts(m map[string]int) string {
	if len(m) == 0 {
		return "-"
	}
	keys := slices.Sorted(maps.Keys(m))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, m[k])
	}
	return strings.Join(parts, " ")
}

func states(m map[string]core.BreakerState) string {
	if len(m) == 0 {
		return "-"
	}
	keys := slices.Sorted(maps.Keys(m))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + m[k].String()
	}
	return strings.Join(parts, " ")
}

func pct(n, d int) float64 {
	if d == 0 {
		return 0
	}
	return 100 * float64(n) / float64(d)
}

// line prints one live summary line: the phase, and what changed since prev.
func line(w io.Writer, elapsed time.Duration, phase string, now, prev snapshot, budgets []budgetRef) {
	calls := now.calls - prev.calls
	ok := now.ok + now.okRetry - prev.ok - prev.okRetry
	fmt.Fprintf(w, "%5.1fs %-9s calls=%-5d ok=%5.1f%% retries=%-4d stops[%s] breakers[%s] budget[%s]\n",
		elapsed.Seconds(), phase, calls, pct(ok, calls), now.retryTotal()-prev.retryTotal(),
		counts(diff(now.stops, prev.stops)), states(now.breakers), budgetUse(budgets))
}

func diff(now, prev map[string]int) map[string]int {
	out := map[string]int{}
	for k, v := range now {
		if d := v - prev[k]; d > 0 {
			out[k] = d
		}
	}
	return out
}

// budgetRef names a policy's retry budget for the summary.
type budgetRef struct {
	policy string
	b      *core.Budget
}

func budgetUse(bs []budgetRef) string {
	if len(bs) == 0 {
		return "-"
	}
	parts := make([]string, len(bs))
	for i, r := range bs {
		parts[i] = fmt.Sprintf("%s=%.0f%% denied=%d", r.policy, 100*r.b.Utilization(), r.b.Denied())
	}
	return strings.Join(parts, " ")
}

// final prints the end-of-run summary.
func final(w io.Writer, elapsed time.Duration, s snapshot, budgets []budgetRef, metricsURL string) {
	fmt.Fprintf(w, "\n== summary after %s\n", elapsed.Round(100*time.Millisecond))
	fmt.Fprintf(w, "calls            %d\n", s.calls)
	fmt.Fprintf(w, "succeeded        %d (%.1f%%), %d of them after retries\n", s.ok+s.okRetry, pct(s.ok+s.okRetry, s.calls), s.okRetry)
	fmt.Fprintf(w, "retries by class %s\n", counts(s.retries))
	fmt.Fprintf(w, "stop reasons     %s\n", counts(s.stops))
	fmt.Fprintf(w, "breakers         %s (opened %d times)\n", states(s.breakers), s.opened)
	fmt.Fprintf(w, "retry budgets    %s\n", budgetUse(budgets))
	fmt.Fprintf(w, "\nmetrics were served at %s\n", metricsURL)
	fmt.Fprintf(w, "dashboards: import dashboards/grafana/*.json into Grafana; rules: dashboards/prometheus/*.yaml (README: Dashboards and alerts)\n")
}
