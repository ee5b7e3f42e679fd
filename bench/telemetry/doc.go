// Package telemetrybench measures what the redress telemetry subscribers add
// to a call, against the bare costs they are judged by:
//
//   - BenchmarkPrometheus: a policy's success path with the redressprom
//     subscriber, against the same policy with no subscriber (baseline) and
//     against the client_golang calls made by hand (a counter and a histogram
//     child resolved per call with WithLabelValues, the usual hand-written
//     instrumentation).
//
//   - BenchmarkOTelMetrics: the success path with redressotel (metrics
//     only), against the policy plus the OTel SDK instrument calls the
//     subscriber makes, made directly with precomputed attribute sets.
//
//   - BenchmarkOTelSpans: the success path with redressotel (spans only),
//     against the policy plus two bare SDK span start/end pairs (operation
//     and attempt).
//
//   - BenchmarkSlowSubscriberAsync: a call doing ~50µs of work, with a
//     subscriber that takes 1 ms per event behind core.NewAsync.
//
//     cd bench && go test -run '^$' -bench . -benchmem -count 5 ./telemetry | go run ./cmd/benchratio
package telemetrybench
