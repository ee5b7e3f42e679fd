package redressprom

import (
	"context"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.opentelemetry.io/otel/trace"
)

// Exemplar labels that would pass the 128-rune limit of client_golang
// (which panics on them) are dropped: the observation is still recorded,
// without an exemplar.
func TestExemplarRuneLimit(t *testing.T) {
	names := len(exemplarTraceID) + len(exemplarSpanID)
	for _, tc := range []struct {
		name            string
		traceID, spanID string
		ok              bool
	}{
		{"OTel ids", strings.Repeat("a", 32), strings.Repeat("b", 16), true},
		{"at the limit", strings.Repeat("a", prometheus.ExemplarMaxRunes-names-16), strings.Repeat("b", 16), true},
		{"one past the limit", strings.Repeat("a", prometheus.ExemplarMaxRunes-names-15), strings.Repeat("b", 16), false},
		{"runes, not bytes", strings.Repeat("é", prometheus.ExemplarMaxRunes-names-16), strings.Repeat("b", 16), true},
		{"far past the limit", strings.Repeat("a", 200), "b", false},
		{"not UTF-8", "\xff", "b", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ls := exemplarLabels(tc.traceID, tc.spanID)
			if (ls != nil) != tc.ok {
				t.Fatalf("exemplarLabels gave %v, want labels: %v", ls, tc.ok)
			}
			// What client_golang does with them: with labels at or under
			// the limit it records the exemplar, and it must not panic.
			h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "h", Help: "h"})
			c := prometheus.NewCounter(prometheus.CounterOpts{Name: "c", Help: "c"})
			if ls != nil {
				h.(prometheus.ExemplarObserver).ObserveWithExemplar(0.1, ls)
				c.(prometheus.ExemplarAdder).AddWithExemplar(1, ls)
			}
			var hm, cm dto.Metric
			if err := h.Write(&hm); err != nil {
				t.Fatal(err)
			}
			if err := c.Write(&cm); err != nil {
				t.Fatal(err)
			}
			if got := cm.GetCounter().GetExemplar() != nil; got != tc.ok {
				t.Fatalf("counter exemplar recorded: %v, want %v", got, tc.ok)
			}
		})
	}
	// An oversized exemplar would panic in client_golang: the guard is what
	// keeps it away.
	defer func() {
		if recover() == nil {
			t.Fatal("client_golang accepted an oversized exemplar: the guard is no longer needed, or the limit changed")
		}
	}()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "c", Help: "c"})
	c.(prometheus.ExemplarAdder).AddWithExemplar(1, prometheus.Labels{exemplarTraceID: strings.Repeat("a", 200)})
}

// observe and inc record the value whatever the context, and the exemplar
// only with a sampled, valid span.
func TestObserveAndInc(t *testing.T) {
	sampled := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{2}, TraceFlags: trace.FlagsSampled})
	for _, tc := range []struct {
		name string
		ctx  context.Context
		want bool
	}{
		{"background", context.Background(), false},
		{"sampled", trace.ContextWithSpanContext(context.Background(), sampled), true},
		{"not sampled", trace.ContextWithSpanContext(context.Background(), sampled.WithTraceFlags(0)), false},
		{"sampled but invalid", trace.ContextWithSpanContext(context.Background(), trace.SpanContext{}.WithTraceFlags(trace.FlagsSampled)), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "h", Help: "h"})
			c := prometheus.NewCounter(prometheus.CounterOpts{Name: "c", Help: "c"})
			observe(tc.ctx, h, 0.2)
			inc(tc.ctx, c)
			var hm, cm dto.Metric
			_ = h.Write(&hm)
			_ = c.Write(&cm)
			if hm.GetHistogram().GetSampleCount() != 1 || cm.GetCounter().GetValue() != 1 {
				t.Fatalf("count %d, counter %g, want 1 and 1", hm.GetHistogram().GetSampleCount(), cm.GetCounter().GetValue())
			}
			n := 0
			for _, b := range hm.GetHistogram().GetBucket() {
				if ex := b.GetExemplar(); ex != nil {
					n++
					if ex.GetValue() != 0.2 {
						t.Errorf("histogram exemplar value %g, want 0.2", ex.GetValue())
					}
				}
			}
			if got := n == 1 && cm.GetCounter().GetExemplar() != nil; got != tc.want {
				t.Fatalf("exemplars on the histogram: %d, on the counter: %v; want them: %v", n, cm.GetCounter().GetExemplar() != nil, tc.want)
			}
		})
	}
}

// The key learnt from trace.SpanFromContext finds every span the OTel API
// finds: mayHaveSpan is false only for contexts without one.
func TestSpanKeyMatchesTheOTelAPI(t *testing.T) {
	if spanKey == nil {
		t.Fatal("the span key was not learnt from trace.SpanFromContext: every observation takes the slow path")
	}
	type other struct{}
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{2}, TraceFlags: trace.FlagsSampled})
	withSpan := trace.ContextWithSpanContext(context.Background(), sc)
	cancelled, cancel := context.WithCancel(withSpan)
	defer cancel()
	for _, tc := range []struct {
		name string
		ctx  context.Context
	}{
		{"background", context.Background()},
		{"other values", context.WithValue(context.Background(), other{}, 1)},
		{"span", withSpan},
		{"span under other values", context.WithValue(withSpan, other{}, 1)},
		{"span under a cancel", cancelled},
		{"span without its values", context.WithoutCancel(withSpan)},
		{"not sampled", trace.ContextWithSpanContext(context.Background(), sc.WithTraceFlags(0))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			has := trace.SpanFromContext(tc.ctx).SpanContext().IsValid()
			if got := mayHaveSpan(tc.ctx); got != has {
				t.Fatalf("mayHaveSpan = %v, but the OTel API finds a span: %v", got, has)
			}
		})
	}
}
