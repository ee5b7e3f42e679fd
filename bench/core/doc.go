// Package corebench compares the cost of the redress engine (package core)
// with the bare call and with the peer libraries, in the same run:
// sony/gobreaker v2, failsafe-go, avast/retry-go v4, cenkalti/backoff v5 and
// eapache/go-resiliency.
//
// The package holds benchmarks and tests only. Every benchmark group has a
// "baseline" variant (the bare function call, through the same one-level
// indirection as every other variant) and one variant per library, so that
//
//	cd bench && go test -run '^$' -bench . -benchmem -count 6 ./core | go run ./cmd/benchratio
//
// prints each variant's time per operation as a ratio of the bare call
// (add -baseline redress to get ratios against redress instead).
//
// The groups:
//
//   - BenchmarkSuccessPath: one call that succeeds at once, with retry,
//     circuit breaker and (for redress) retry budget in front of it.
//   - BenchmarkFailOnceThenSucceed: the first attempt fails, the second
//     succeeds; zero backoff everywhere, so the figure is the retry
//     machinery's own cost.
//   - BenchmarkBreakerParallel: the success path of a shared circuit breaker
//     under b.RunParallel (GOMAXPROCS goroutines); ns/op is wall time per
//     call, so the inverse ratio is the throughput ratio.
//   - BenchmarkSubscriber: what an attached subscriber costs (a no-op
//     subscriber, so the figure is the engine's cost of building and
//     delivering events, not the sink's).
//   - BenchmarkExecute: Execute's structured Outcome, the optional attempt
//     timeline, and a per-attempt timeout, against doing the timeout by hand.
//
// The peers are configured, in peers_test.go, as close as their APIs allow
// to the redress policy they stand against: the same number of attempts,
// zero backoff where a retry happens, and breaker thresholds that never trip
// in these benchmarks. The tests in this package check those claims (number
// of calls made, result returned, breaker still closed) and that the redress
// success path allocates nothing, so a regression fails CI.
package corebench
