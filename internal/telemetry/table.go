package telemetry

import (
	"slices"

	"github.com/redress-go/redress/core"
)

// Table is the name table as dashboards and subscribers use it, in rows:
// what `go run ./cmd/redress` prints and what the generated tables of
// docs/DESIGN.md are built from, so that the two cannot disagree. Build it
// with Names; the JSON field names are those of `redress names -format
// json`.
type Table struct {
	// Metrics are the instruments, in Metrics order.
	Metrics []MetricRow `json:"metrics"`
	// Attributes are the attribute keys the instruments carry, in order of
	// first appearance in Metrics.
	Attributes []AttrRow `json:"attributes"`
	// Events are the event kinds, in core.EventKinds order (the values of
	// redress.event).
	Events []EventRow `json:"events"`
	// StopReasons are the stop reasons, in core.StopReasons order (the
	// values of redress.stop_reason).
	StopReasons []StopRow `json:"stop_reasons"`
	// Classes are the failure classes, in core.Classes order (the values of
	// error.type).
	Classes []ClassRow `json:"classes"`
	// Outcomes are the values of redress.outcome.
	Outcomes []string `json:"outcomes"`
	// BreakerStates are the values of redress.circuit_breaker.state.
	BreakerStates []string `json:"breaker_states"`
	// Buckets are the histogram boundaries, in seconds.
	Buckets []float64 `json:"buckets_seconds"`
}

// MetricRow is one instrument.
type MetricRow struct {
	// Name is the OTel instrument name.
	Name string `json:"otel_name"`
	// Kind is "counter", "histogram" or "gauge".
	Kind string `json:"kind"`
	// Unit is the OTel unit.
	Unit string `json:"unit"`
	// Prom is the Prometheus metric family name.
	Prom string `json:"prometheus_name"`
	// Series are the Prometheus series names of the family: the
	// _bucket, _sum and _count series of a histogram, else the family name.
	Series []string `json:"prometheus_series"`
	// Attrs are the OTel attribute keys the instrument carries.
	Attrs []string `json:"otel_attributes"`
	// Labels are the Prometheus label names of Attrs, in the same order.
	Labels []string `json:"prometheus_labels"`
	// Wrapper reports whether Attrs end with WrapperAttrs.
	Wrapper bool `json:"wrapper_labels"`
	// Description is the instrument's description (the Prometheus HELP).
	Description string `json:"description"`
}

// OwnAttrs returns Attrs without the trailing WrapperAttrs.
func (m MetricRow) OwnAttrs() []string {
	if m.Wrapper {
		return m.Attrs[:len(m.Attrs)-NumWrapperAttrs]
	}
	return m.Attrs
}

// OwnLabels returns Labels without those of the trailing WrapperAttrs.
func (m MetricRow) OwnLabels() []string {
	if m.Wrapper {
		return m.Labels[:len(m.Labels)-NumWrapperAttrs]
	}
	return m.Labels
}

// AttrRow is one attribute key.
type AttrRow struct {
	// Attr is the OTel attribute key.
	Attr string `json:"otel_attribute"`
	// Label is its Prometheus label name.
	Label string `json:"prometheus_label"`
	// Wrapper reports whether it is one of WrapperAttrs.
	Wrapper bool `json:"wrapper_label"`
	// Metrics are the OTel names of the instruments that carry it.
	Metrics []string `json:"metrics"`
}

// EventRow is one event kind.
type EventRow struct {
	// Name is the event's name, the value of redress.event.
	Name string `json:"name"`
	// Terminal reports whether the event ends an operation.
	Terminal bool `json:"terminal"`
	// Rejection reports whether it ends a call a local guard refused.
	Rejection bool `json:"rejection"`
	// Counted reports whether the subscribers handle it by default
	// (DefaultEvents), so that redress.events counts it.
	Counted bool `json:"counted"`
}

// StopRow is one stop reason.
type StopRow struct {
	// Name is the stop reason's name, the value of redress.stop_reason.
	Name string `json:"name"`
	// Event is the name of the terminal event of a call stopped for it.
	Event string `json:"event"`
}

// ClassRow is one failure class.
type ClassRow struct {
	// Name is the class's name, the value of error.type.
	Name string `json:"name"`
	// Retryable reports whether the class is retried.
	Retryable bool `json:"retryable"`
}

// String returns "counter", "histogram" or "gauge".
func (k Kind) String() string {
	switch k {
	case Counter:
		return "counter"
	case Histogram:
		return "histogram"
	case Gauge:
		return "gauge"
	}
	return "invalid"
}

// Names returns the name table, built from Metrics, PromLabel, Buckets and
// core's lists of event kinds, stop reasons, classes, outcomes and breaker
// states. Each call returns fresh slices.
func Names() Table {
	var t Table
	for _, m := range Metrics {
		r := MetricRow{
			Name: m.Name, Kind: m.Kind.String(), Unit: m.Unit, Prom: m.Prom,
			Attrs:       slices.Clone(m.Attrs),
			Description: m.Description,
		}
		if m.Kind == Histogram {
			r.Series = []string{m.Prom + "_bucket", m.Prom + "_sum", m.Prom + "_count"}
		} else {
			r.Series = []string{m.Prom}
		}
		for _, a := range m.Attrs {
			r.Labels = append(r.Labels, PromLabel(a))
		}
		n := len(m.Attrs)
		r.Wrapper = n > NumWrapperAttrs && slices.Equal(m.Attrs[n-NumWrapperAttrs:], WrapperAttrs)
		t.Metrics = append(t.Metrics, r)
	}
	for _, m := range Metrics {
		for _, a := range m.Attrs {
			if slices.ContainsFunc(t.Attributes, func(r AttrRow) bool { return r.Attr == a }) {
				continue
			}
			r := AttrRow{Attr: a, Label: PromLabel(a), Wrapper: slices.Contains(WrapperAttrs, a)}
			for _, on := range Metrics {
				if slices.Contains(on.Attrs, a) {
					r.Metrics = append(r.Metrics, on.Name)
				}
			}
			t.Attributes = append(t.Attributes, r)
		}
	}
	for _, k := range core.EventKinds() {
		t.Events = append(t.Events, EventRow{Name: k.String(), Terminal: k.Terminal(), Rejection: k.Rejection(), Counted: DefaultEvents.Has(k)})
	}
	for _, r := range core.StopReasons() {
		t.StopReasons = append(t.StopReasons, StopRow{Name: r.String(), Event: r.Event().String()})
	}
	for _, c := range core.Classes() {
		t.Classes = append(t.Classes, ClassRow{Name: c.String(), Retryable: c.Retryable()})
	}
	// core has no list of outcomes: count up from the first until String
	// gives the invalid name.
	for o := core.OutcomeSuccess; o.String() != "invalid"; o++ {
		t.Outcomes = append(t.Outcomes, o.String())
	}
	for _, s := range core.BreakerStates() {
		t.BreakerStates = append(t.BreakerStates, s.String())
	}
	t.Buckets = slices.Clone(Buckets)
	return t
}
