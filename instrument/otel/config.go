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
	// Policies are declared at construction (see Subscriber.Declare).
	// Default none. No entry may be nil.
	Policies []*core.Policy
	// RedactError returns the text recorded for an error (span status
	// description and exception.message); "" records none. Default
	// err.Error(). The error message is the only free text the subscriber
	// records: scrub secrets here.
	RedactError func(err error) string
}
