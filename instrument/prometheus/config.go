package redressprom

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/redress-go/redress/core"
)

// Config configures New. Only Registerer is required.
type Config struct {
	// Registerer receives the subscriber's collectors. Required: the
	// subscriber never registers on the global registry by itself (pass
	// prometheus.DefaultRegisterer explicitly to use it).
	Registerer prometheus.Registerer
	// Buckets are the histogram bucket upper bounds, in seconds. Default
	// 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10 (the same
	// boundaries the OTel subscriber advises). Must be finite (no NaN, no
	// ±Inf: the +Inf bucket is implicit) and strictly increasing.
	Buckets []float64
	// Policies are declared at construction (see Subscriber.Declare): their
	// breaker and budget series, and their zero-valued counters, exist
	// before the first event. Default none. No entry may be nil.
	Policies []*core.Policy
	// Events is the set of events the subscriber handles. Default every
	// event but the operation_start and attempt_start markers (which carry
	// nothing a metric needs). Events outside the default set are ignored;
	// bits that are no event kind are a construction error.
	Events core.EventSet
}
