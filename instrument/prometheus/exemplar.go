package redressprom

import (
	"context"
	"encoding/hex"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"
)

// The exemplar label names, as OpenMetrics exemplars and the Prometheus and
// Grafana exemplar links expect them.
const (
	exemplarTraceID = "trace_id"
	exemplarSpanID  = "span_id"
)

// spanKey is the key under which the OTel API keeps the current span in
// a context, as trace.SpanFromContext asks for it (see keySpy): a context
// whose value for it is nil carries no span, so the exemplar path costs one
// context lookup and nothing else. When it could not be learnt it stays
// nil, and every observation asks trace.SpanContextFromContext.
var spanKey = func() (key any) {
	defer func() {
		if recover() != nil {
			key = nil
		}
	}()
	spy := keySpy{Context: context.Background()}
	_ = trace.SpanFromContext(&spy)
	return spy.key
}()

// keySpy is a context that records the key it was last asked for.
type keySpy struct {
	context.Context
	key any
}

func (k *keySpy) Value(key any) any {
	k.key = key
	return nil
}

// mayHaveSpan reports whether ctx may carry a span: false only when the
// OTel API would find none. It is inlined where the success path observes
// (Attempt, Operation), observe and inc elsewhere.
func mayHaveSpan(ctx context.Context) bool {
	return spanKey == nil || ctx.Value(spanKey) != nil
}

// exemplarOf returns the exemplar labels of ctx's span, or nil when it
// carries none that is sampled.
func exemplarOf(ctx context.Context) prometheus.Labels {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsSampled() || !sc.IsValid() {
		return nil
	}
	// Both ids in one string: one allocation instead of four.
	tid, sid := sc.TraceID(), sc.SpanID()
	var buf [2*len(tid) + 2*len(sid)]byte
	hex.Encode(buf[:2*len(tid)], tid[:])
	hex.Encode(buf[2*len(tid):], sid[:])
	ids := string(buf[:])
	return exemplarLabels(ids[:2*len(tid)], ids[2*len(tid):])
}

// exemplarLabels returns the exemplar labels of a trace and span id, or nil
// when they would pass prometheus.ExemplarMaxRunes or are not valid UTF-8
// (client_golang panics on such an exemplar). The ids of a valid span are
// 32 and 16 hex digits, 63 runes with the names, so this never happens with
// the OTel API's ids.
func exemplarLabels(traceID, spanID string) prometheus.Labels {
	if !utf8.ValidString(traceID) || !utf8.ValidString(spanID) {
		return nil
	}
	n := utf8.RuneCountInString(exemplarTraceID) + utf8.RuneCountInString(traceID) +
		utf8.RuneCountInString(exemplarSpanID) + utf8.RuneCountInString(spanID)
	if n > prometheus.ExemplarMaxRunes {
		return nil
	}
	return prometheus.Labels{exemplarTraceID: traceID, exemplarSpanID: spanID}
}

// observe records v on o, with the exemplar of ctx's sampled span if any.
// Without a span the cost is one context lookup.
func observe(ctx context.Context, o prometheus.Observer, v float64) {
	if !mayHaveSpan(ctx) || !observeExemplar(ctx, o, v) {
		o.Observe(v)
	}
}

// observeExemplar records v on o with the exemplar of ctx's span, and
// reports whether it did (a sampled span and an o that takes exemplars).
func observeExemplar(ctx context.Context, o prometheus.Observer, v float64) bool {
	eo, ok := o.(prometheus.ExemplarObserver)
	if !ok {
		return false
	}
	ex := exemplarOf(ctx)
	if ex == nil {
		return false
	}
	eo.ObserveWithExemplar(v, ex)
	return true
}

// inc adds one to c, with the exemplar of ctx's sampled span if any.
// Without a span the cost is one context lookup.
func inc(ctx context.Context, c prometheus.Counter) {
	if !mayHaveSpan(ctx) || !incExemplar(ctx, c) {
		c.Inc()
	}
}

// incExemplar adds one to c with the exemplar of ctx's span, and reports
// whether it did (a sampled span and a c that takes exemplars).
func incExemplar(ctx context.Context, c prometheus.Counter) bool {
	ea, ok := c.(prometheus.ExemplarAdder)
	if !ok {
		return false
	}
	ex := exemplarOf(ctx)
	if ex == nil {
		return false
	}
	ea.AddWithExemplar(1, ex)
	return true
}
