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
	// DeclarePolicies are declared at construction (see Subscriber.Declare):
	// their breaker and budget series, and their zero-valued counters, exist
	// before the first event. Default none. No entry may be nil. Unlike
	// Policy, this is no filter, and Policy does not apply to it.
	DeclarePolicies []*core.Policy
	// Events is the set of events the subscriber handles. Default
	// DefaultEvents: every event but the operation_start and attempt_start
	// markers. Bits that are no event kind are a *core.ConfigError.
	Events core.EventSet
	// Policy, if set, filters events by policy name: the events of a policy
	// for which it returns false are ignored. It is called for every event,
	// so it must be fast and safe for concurrent use. Default nil: every
	// policy.
	Policy func(name string) bool
	// RedactError returns the text recorded for an event's error; "" records
	// none. Default err.Error(). The error message is the only free text a
	// subscriber records: scrub secrets here.
	//
	// This subscriber records no error text (error.type is the error's
	// class), so it never calls RedactError: the field is here so one
	// configuration fits every subscriber.
	RedactError func(err error) string
	// OnError, if set, is told of the subscriber's own failures: a panic in
	// Handle, recovered and reported here instead of to the bus's panic
	// handler. Construction and registration errors are New's.
	// Default nil: none are reported.
	OnError func(err error)
}
