package redressotel

import (
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/redress-go/redress/core"
)

// Config configures New. The zero value records spans and metrics through
// the global providers.
type Config struct {
	// TracerProvider makes the spans. Default otel.GetTracerProvider(). A
	// typed nil (a nil *sdktrace.TracerProvider) is a construction error, as
	// it is for MeterProvider.
	TracerProvider trace.TracerProvider
	// MeterProvider makes the instruments. Default otel.GetMeterProvider().
	MeterProvider metric.MeterProvider
	// DisableSpans turns spans off (metrics only). Default false.
	DisableSpans bool
	// DisableMetrics turns metrics off (spans only). Default false. Setting
	// both DisableSpans and DisableMetrics is a construction error.
	DisableMetrics bool
	// AttemptsAsEvents records each attempt as an "attempt" span event on
	// the operation span instead of a child span. Client spans made inside
	// an attempt are then children of the operation span. Default false
	// (one child span per attempt).
	AttemptsAsEvents bool
	// StartAttributes also passes each operation span's policy, operation
	// and request-label attributes to Tracer.Start, where a Sampler and
	// SpanProcessor.OnStart see them. Default false: every attribute is set
	// once, when the span ends, which saves the SDK a copy and a slice per
	// span; the exported spans are the same either way.
	StartAttributes bool
	// DeclarePolicies are declared at construction (see Subscriber.Declare).
	// Default none. No entry may be nil. Unlike Policy, this is no filter,
	// and Policy does not apply to it.
	DeclarePolicies []*core.Policy
	// Events is the set of events the subscriber handles. Default
	// DefaultEvents: every event but the operation_start and attempt_start
	// markers. Bits that are no event kind are a *core.ConfigError.
	//
	// Events filters the metrics and the span events (retry, breaker
	// transitions). With spans, the start markers and the events that end a
	// span (attempt_end and the terminal events) are received whatever
	// Events says: a span once started must end.
	Events core.EventSet
	// Policy, if set, filters events by policy name: the events of a policy
	// for which it returns false are ignored. It is called for every event,
	// so it must be fast and safe for concurrent use. Default nil: every
	// policy.
	// A filtered policy gets no spans either.
	Policy func(name string) bool
	// RedactError returns the text recorded for an event's error; "" records
	// none. Default err.Error(). The error message is the only free text a
	// subscriber records: scrub secrets here.
	//
	// Here: the span status description and exception.message.
	RedactError func(err error) string
	// OnError, if set, is told of the subscriber's own failures: a panic in
	// Handle or Decorate, recovered and reported here instead of to the
	// bus's panic handler. Construction and registration errors are New's;
	// the OTel SDK reports its own through otel.Handle.
	// Default nil: none are reported.
	OnError func(err error)
}
