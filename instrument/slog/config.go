package redressslog

import (
	"log/slog"

	"github.com/redress-go/redress/core"
)

// Config configures New. The zero value logs every event but the
// operation_start and attempt_start markers to slog.Default's handler at the
// default levels.
type Config struct {
	// Handler receives the records. Default: slog.Default().Handler(),
	// unless Handlers or Routes are set. A typed nil (a nil
	// *slog.JSONHandler) is a construction error.
	Handler slog.Handler
	// Handlers are more handlers that each receive every record they are
	// enabled for (fan-out with slog-multi). A handler that returns an error
	// or panics does not stop the others. Default none.
	Handlers []slog.Handler
	// Routes send the records of some events only to a handler of their
	// own (for example breaker events to an alerting handler), in addition
	// to Handler and Handlers. Default none.
	Routes []Route
	// Levels overrides the level of some events. The defaults: success and
	// the lifecycle markers Debug; retry Warn; terminal failures Error, but
	// canceled (the caller gave up) and scheduled (the retry was deferred
	// on purpose) Info; circuit_opened Error, circuit_half_open Warn,
	// circuit_closed Info; shared_state_degraded Warn, shared_state_restored
	// Info.
	Levels map[core.EventKind]slog.Level
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
	// Here: the value of the "error" key; "" omits the key.
	RedactError func(err error) string
	// OnError, if set, is told of the subscriber's own failures: an error
	// returned by a handler, or a panic in Handle, recovered and reported
	// here instead of to the bus's panic handler. A handler's panic is
	// recovered even without OnError (a handler that fails does not stop
	// the others).
	// Default nil: none are reported.
	OnError func(err error)
}

// Route sends the records of Events to Handler.
type Route struct {
	// Events is the set of events routed to Handler. Required.
	Events core.EventSet
	// Handler receives the routed records. Required.
	Handler slog.Handler
}
