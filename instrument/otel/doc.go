// Package redressotel is the OpenTelemetry subscriber of the redress event
// bus: spans and metrics through the OTel API (the SDK, or any other
// implementation, is the application's choice).
//
// Config's Events, Policy, RedactError and OnError are the fields every
// redress subscriber (redressotel, redressprom, redressslog) has, with the
// same meaning and defaults: the events handled, a filter on policy names,
// the text recorded for an error, and where the subscriber's own failures
// are reported.
//
// # Spans
//
// One INTERNAL span per operation, named after the operation, with the
// attributes redress.policy, redress.operation, redress.outcome,
// redress.stop_reason, redress.attempts and error.type (the class of the
// last failure), the wrapper's request labels (http.request.method,
// server.address, db.system.name, rpc.method, ...) and an error status on
// failure. Each attempt is a child span named "attempt" (or, with
// Config.AttemptsAsEvents, an "attempt" event on the operation span); retries
// and breaker transitions are events on the operation span. The subscriber is
// a core.ContextDecorator: the operation span and the attempt span are put
// into the attempt's context, so a client span made inside the attempt
// (otelhttp, otelsql, otelgrpc) is their child. Retried HTTP attempts carry
// http.request.resend_count.
//
// Each span gets all of its attributes in one call, when it ends (the SDK
// copies the attributes of every SetAttributes call and of the start
// options into a fresh slice, so this is the cheapest way to record them):
// a head sampler sees a span's name and kind, not its attributes, and span
// processors see the attributes in OnEnd, not in OnStart. Set
// Config.StartAttributes to start each operation span with its policy,
// operation and request labels too, for samplers that decide on them.
//
// # Metrics
//
// Every instrument of the redress telemetry table: redress.operation.duration,
// redress.attempt.duration and redress.retry.delay (histograms in seconds,
// with explicit advisory bucket boundaries 0.005 … 10 s so the SDK default,
// scaled for milliseconds, never applies), redress.retries, redress.events,
// redress.budget.rejections, redress.circuit_breaker.transitions and
// .rejections (counters), redress.circuit_breaker.state and
// redress.budget.utilization (observable gauges read at collection time;
// breakers and budgets that share an attribute set, such as two policies both
// named "http" with a budget each, are observed once: the highest
// utilization, the worst breaker state, open then half_open then closed).
// Measurements are made with the event's context, so an SDK that records
// exemplars links latency to the trace. Attribute sets are computed once per
// (policy, operation, class, ...) and cached.
//
// # Privacy
//
// Attribute values come only from the event's typed fields. Operation and
// route labels lose any query string. The error message (span status and
// exception.message) is the only free text; Config.RedactError scrubs it.
//
// # Concurrency
//
// A Subscriber is safe for concurrent use.
//
// # Example
//
//	sub, err := redressotel.New(redressotel.Config{}) // global providers
//	if err != nil {
//		return err
//	}
//	policy, err := core.NewPolicy(core.PolicyConfig{Name: "users", Bus: core.NewBus(sub)})
//	if err != nil {
//		return err
//	}
//	return policy.Run(ctx, ping) // a span and metrics per call
package redressotel
