package redressslog

import (
	"context"
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
	// circuit_closed Info.
	Levels map[core.EventKind]slog.Level
	// Events is the set of events logged. Default every event but the
	// operation_start and attempt_start markers. Bits that are no event kind
	// are a construction error.
	Events core.EventSet
	// RedactError returns the text logged for an event's error, under the
	// "error" key; "" omits the key. Default err.Error(). The error message
	// is the only free text a record can carry: scrub secrets here.
	RedactError func(err error) string
	// OnError, if set, is told of each error (or recovered panic) of the
	// handlers. Default: ignored.
	OnError func(ctx context.Context, err error)
}

// Route sends the records of Events to Handler.
type Route struct {
	// Events is the set of events routed to Handler. Required.
	Events core.EventSet
	// Handler receives the routed records. Required.
	Handler slog.Handler
}
