// Package redressslog is the log/slog subscriber of the redress event bus:
// each event becomes one slog record.
//
// Config's Events, Policy, RedactError and OnError are the fields every
// redress subscriber (redressotel, redressprom, redressslog) has, with the
// same meaning and defaults: the events handled, a filter on policy names,
// the text recorded for an error, and where the subscriber's own failures
// are reported.
//
// Records have a stable message, "redress <event>" ("redress retry",
// "redress circuit_opened"), and the attribute keys of the telemetry name
// table: redress.event, redress.policy, redress.operation, redress.attempts,
// error.type (the failure class), redress.outcome, redress.stop_reason,
// redress.circuit_breaker.name and .state, the wrapper's semantic-convention
// labels (http.request.method, http.route, server.address, db.system.name,
// rpc.method, ...), and trace_id / span_id when the event's context holds a
// span. The error message, under "error", is the only free text, and
// Config.RedactError scrubs it.
//
// Default levels: success Debug, retry Warn, terminal failures Error
// (canceled and scheduled Info), circuit_opened Error, circuit_half_open
// Warn, circuit_closed Info, shared_state_degraded Warn and
// shared_state_restored Info; Config.Levels overrides any of them. The
// handler's Enabled is asked first: a record nobody wants is never built.
//
// One subscriber can feed several handlers, with github.com/samber/slog-multi:
// Config.Handlers fans out (JSON to stderr and text to a file), Config.Routes
// sends chosen events to a handler of their own (breaker events to an
// alerting handler). A handler that fails or panics does not stop the others.
//
// # Concurrency
//
// A Subscriber is safe for concurrent use if its handlers are (the standard
// library's are).
//
// # Example
//
//	sub, err := redressslog.New(redressslog.Config{
//		Handler: slog.NewJSONHandler(os.Stderr, nil),
//		Routes:  []redressslog.Route{{Events: core.CircuitEvents, Handler: alerts}},
//	})
//	if err != nil {
//		return err
//	}
//	policy, err := core.NewPolicy(core.PolicyConfig{Name: "users", Bus: core.NewBus(sub)})
//	if err != nil {
//		return err
//	}
//	return policy.Run(ctx, ping) // logs retries, failures and breaker changes
package redressslog
