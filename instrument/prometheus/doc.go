// Package redressprom is the Prometheus subscriber of the redress event bus:
// it turns policy, breaker and budget events into client_golang metrics.
//
// Config's Events, Policy, RedactError and OnError are the fields every
// redress subscriber (redressotel, redressprom, redressslog) has, with the
// same meaning and defaults: the events handled, a filter on policy names,
// the text recorded for an error, and where the subscriber's own failures
// are reported.
//
// The series are exactly those the OpenTelemetry Prometheus exporter
// produces from the instruments of package redressotel (same family names,
// types, label names and units: seconds, with explicit buckets from 5 ms to
// 10 s), so one dashboard and one set of alert rules serve both pipelines:
//
//   - redress_operation_duration_seconds (histogram): one logical call
//   - redress_attempt_duration_seconds (histogram): one attempt
//   - redress_retries_total (counter): retries scheduled
//   - redress_retry_delay_seconds (histogram): chosen backoff
//   - redress_events_total (counter): one per event, label redress_event
//   - redress_budget_rejections_total (counter): retries denied by the budget
//   - redress_budget_utilization_ratio (gauge): share of the budget in use (at scrape)
//   - redress_circuit_breaker_state (gauge): 1 for the current state (at scrape)
//   - redress_circuit_breaker_transitions_total (counter): state changes
//   - redress_circuit_breaker_rejections_total (counter): calls refused
//
// The subscriber takes a prometheus.Registerer and never touches the global
// registry by itself; New returns the registration error on a conflict.
// Breaker state and budget utilization are read at scrape time from the
// breakers and budgets the subscriber has seen in events or was told about
// (Config.DeclarePolicies, Declare), so their series exist before the first failure.
// Breakers and budgets are tracked by identity; when several share a label
// set (two policies both named "http", each with its own budget), the one
// series reports the highest utilization, and the worst breaker state (open,
// then half_open, then closed).
//
// Label values come only from the event's typed fields (policy, operation,
// class, stop reason, outcome, breaker name): never from errors, URLs,
// headers or SQL.
//
// # Exemplars
//
// When the event's context carries a sampled span (the OTel API's
// trace.SpanContextFromContext), the histograms' observations, the retry
// and rejection counters and the counters of failure events (error_type
// set) carry its ids as an exemplar, {trace_id, span_id}. Exemplars are
// exposed in the OpenMetrics format only: serve the registry with
// promhttp.HandlerOpts{EnableOpenMetrics: true} (redressexport's
// PrometheusHandler does) and run Prometheus with exemplar storage.
//
// # Concurrency
//
// A Subscriber is safe for concurrent use. Handle allocates nothing once the
// label children of a (policy, operation) pair have been resolved (they are
// cached, so WithLabelValues is not called per event) and the context holds
// no sampled span; an exemplar is built by client_golang, which allocates.
//
// # Example
//
//	reg := prometheus.NewRegistry()
//	sub, err := redressprom.New(redressprom.Config{Registerer: reg})
//	if err != nil {
//		return err
//	}
//	policy, err := core.NewPolicy(core.PolicyConfig{Name: "users", Bus: core.NewBus(sub)})
//	if err != nil {
//		return err
//	}
//	http.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{EnableOpenMetrics: true}))
//	return policy.Run(ctx, ping) // counted and timed
package redressprom
