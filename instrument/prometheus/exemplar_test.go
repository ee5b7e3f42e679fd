package redressprom_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.opentelemetry.io/otel/trace"

	"github.com/redress-go/redress/core"
	"github.com/redress-go/redress/core/coretest"
	redressprom "github.com/redress-go/redress/instrument/prometheus"
)

var (
	testTraceID = trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36}
	testSpanID  = trace.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7}
)

// spanContext returns ctx carrying a remote span context with the test ids,
// sampled or not.
func spanContext(sampled bool) context.Context {
	var flags trace.TraceFlags
	if sampled {
		flags = trace.FlagsSampled
	}
	return trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: testTraceID, SpanID: testSpanID, TraceFlags: flags, Remote: true,
	}))
}

// exemplarCalls runs, in ctx, on a fake clock: a call that fails once and
// then succeeds (the budget's one retry), a call that fails and whose retry
// the budget denies, a call whose failure opens the breaker, and a call the
// open breaker rejects.
func exemplarCalls(t *testing.T, ctx context.Context, sub *redressprom.Subscriber) {
	t.Helper()
	clk := coretest.NewFakeClock(coretest.StartTime)
	br, _ := core.NewBreaker(core.BreakerConfig{Name: "inv", FailureThreshold: 3, Clock: clk})
	bud, _ := core.NewBudget(core.BudgetConfig{MaxRetries: 1, Clock: clk})
	p, err := core.NewPolicy(core.PolicyConfig{
		Name: "inventory", Operation: "GetStock",
		Retry:   core.RetryConfig{MaxAttempts: 3, Strategy: coretest.Delays(20 * time.Millisecond)},
		Breaker: br, Budget: bud, Bus: core.NewBus(sub), Clock: clk, Sleeper: clk,
	})
	if err != nil {
		t.Fatal(err)
	}
	timed := func(f *coretest.Faults) func(context.Context) error {
		return func(ctx context.Context) error {
			clk.Advance(40 * time.Millisecond)
			return f.Op()(ctx)
		}
	}
	if err := p.Run(ctx, timed(coretest.FailTimes(1, core.Transient(errors.New("reset"))))); err != nil {
		t.Fatalf("first call: %v", err)
	}
	if err := p.Run(ctx, timed(coretest.FailTimes(9, core.Transient(errors.New("reset"))))); !errors.Is(err, core.ErrStop(core.StopBudgetExhausted)) {
		t.Fatalf("second call: %v, want the budget exhausted", err)
	}
	if err := p.Run(ctx, timed(coretest.FailTimes(9, core.Transient(errors.New("reset"))))); !errors.Is(err, core.ErrStop(core.StopCircuitOpen)) {
		t.Fatalf("third call: %v, want the breaker open", err)
	}
	if err := p.Run(ctx, timed(coretest.FailTimes(0, nil))); !errors.Is(err, core.ErrCircuitOpen) {
		t.Fatalf("fourth call: %v, want the breaker's rejection", err)
	}
}

// exemplars returns, per family, the exemplars of its series (histogram
// buckets and counters), and per family the number of series whose
// exemplar is expected: every histogram series with observations, every
// counter series but the events of no failure (error_type empty).
func exemplars(t *testing.T, g prometheus.Gatherer) (got map[string][]*dto.Exemplar, want map[string]int) {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got, want = map[string][]*dto.Exemplar{}, map[string]int{}
	for _, mf := range mfs {
		name := mf.GetName()
		for _, m := range mf.GetMetric() {
			if h := m.GetHistogram(); h != nil {
				if h.GetSampleCount() > 0 {
					want[name]++
				}
				for _, b := range h.GetBucket() {
					if ex := b.GetExemplar(); ex != nil {
						got[name] = append(got[name], ex)
					}
				}
			}
			if c := m.GetCounter(); c != nil {
				failure := true
				for _, l := range m.GetLabel() {
					if l.GetName() == "error_type" && l.GetValue() == "" {
						failure = false
					}
				}
				if failure && c.GetValue() > 0 && name != "redress_circuit_breaker_transitions_total" {
					want[name]++
				}
				if ex := c.GetExemplar(); ex != nil {
					got[name] = append(got[name], ex)
				}
			}
		}
	}
	return got, want
}

// The duration histograms and the failure counters carry the trace and
// span id of the call's sampled span as exemplars.
func TestExemplarsCarryTheSampledSpan(t *testing.T) {
	sub, reg := newSub(t, redressprom.Config{})
	exemplarCalls(t, spanContext(true), sub)
	got, want := exemplars(t, reg)
	for _, name := range []string{
		"redress_operation_duration_seconds", "redress_attempt_duration_seconds", "redress_retry_delay_seconds",
		"redress_retries_total", "redress_events_total", "redress_budget_rejections_total", "redress_circuit_breaker_rejections_total",
	} {
		if want[name] == 0 {
			t.Errorf("%s: no series that should carry an exemplar (the calls did not reach it)", name)
		}
		if len(got[name]) < want[name] {
			t.Errorf("%s: %d exemplars, want at least one on each of %d series", name, len(got[name]), want[name])
		}
	}
	for name, exs := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("%s carries exemplars but should not", name)
		}
		for _, ex := range exs {
			ls := map[string]string{}
			for _, l := range ex.GetLabel() {
				ls[l.GetName()] = l.GetValue()
			}
			if len(ls) != 2 || ls["trace_id"] != testTraceID.String() || ls["span_id"] != testSpanID.String() {
				t.Errorf("%s: exemplar labels %v, want trace_id=%s span_id=%s", name, ls, testTraceID, testSpanID)
			}
			if ex.GetTimestamp() == nil {
				t.Errorf("%s: exemplar without a timestamp", name)
			}
		}
	}
	// The events of no failure (the success, the successful attempt) carry
	// none: exemplars point at what went wrong.
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() != "redress_events_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "error_type" && l.GetValue() == "" && m.GetCounter().GetExemplar() != nil {
					t.Errorf("event series without a failure carries an exemplar: %v", m.GetLabel())
				}
			}
		}
	}
}

// A span that is not sampled (or no span) gives no exemplar, and then
// Handle allocates nothing.
func TestNoExemplarWithoutASampledSpan(t *testing.T) {
	for name, ctx := range map[string]context.Context{
		"no span":     context.Background(),
		"not sampled": spanContext(false),
	} {
		t.Run(name, func(t *testing.T) {
			sub, reg := newSub(t, redressprom.Config{})
			exemplarCalls(t, ctx, sub)
			got, want := exemplars(t, reg)
			if want["redress_retries_total"] == 0 {
				t.Fatal("the calls made no retry")
			}
			if len(got) != 0 {
				t.Fatalf("exemplars without a sampled span: %v", got)
			}
			e := core.Event{Kind: core.EventAttemptEnd, Policy: "p", Operation: "o", Attempt: 1, Err: errors.New("x"), Class: core.ClassTransient, AttemptDuration: time.Millisecond}
			sub.Handle(ctx, e)
			if allocs := testing.AllocsPerRun(100, func() { sub.Handle(ctx, e) }); allocs != 0 {
				t.Fatalf("Handle allocated %.1f times, want 0", allocs)
			}
		})
	}
}
