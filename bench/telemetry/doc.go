// Package telemetrybench measures what the redress telemetry subscribers add
// to a call, against the bare costs they are judged by:
//
//   - BenchmarkPrometheus: a policy's success path with the redressprom
//     subscriber, against the same policy with no subscriber (baseline) and
//     against the client_golang calls made by hand (a counter and a histogram
//     child resolved per call with WithLabelValues, the usual hand-written
//     instrumentation). clock_floor is the bare call between two monotonic
//     clock reads: what measuring one duration costs, the floor of any
//     subscriber that records durations. nop_subscriber is the engine's own
//     cost of timing and publishing the events to a subscriber that does
//     nothing with them.
//
//   - BenchmarkOTelMetrics: the success path with redressotel (metrics
//     only), against the policy plus the OTel SDK instrument calls the
//     subscriber makes, made directly with precomputed attribute sets.
//
//   - BenchmarkOTelSpans: the success path with redressotel (spans only),
//     against the policy plus two bare SDK span start/end pairs (operation
//     and attempt).
//
//   - BenchmarkDebugPage: the success path with the introspection page
//     (redressdebug), against the bare policy, the engine's cost of
//     publishing the page's events to a duration-free subscriber that does
//     nothing (nop_subscriber), and the Prometheus subscriber for
//     comparison.
//
//   - BenchmarkSlowSubscriberAsync: a call doing ~50µs of work, with a
//     subscriber that takes 1 ms per event behind core.NewAsync.
//
// The variants of a benchmark run one after another, so on a shared machine
// whose load drifts, record them interleaved: one count per go test, the
// whole set repeated (benchratio takes the median of the repeats):
//
//	cd bench && for i in $(seq 8); do go test -run '^$' -bench . -benchmem -benchtime 300ms ./telemetry; done | go run ./cmd/benchratio
package telemetrybench
