package corebench

import (
	"context"
	"testing"
)

// runSeq runs each variant sequentially. With f set, every logical call
// starts with one failure to come (fail once, then succeed).
func runSeq(b *testing.B, vs []variant, f *flaky) {
	for _, v := range vs {
		b.Run(v.name, func(b *testing.B) {
			fn := op(succeed)
			if f != nil {
				fn = f.op
			}
			call := v.build(b, fn)
			ctx := context.Background()
			b.ReportAllocs()
			if f == nil {
				for b.Loop() {
					if _, err := call(ctx); err != nil {
						b.Fatal(err)
					}
				}
				return
			}
			for b.Loop() {
				f.left = 1
				if _, err := call(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSuccessPath: one call that succeeds at once.
func BenchmarkSuccessPath(b *testing.B) { runSeq(b, successPath, nil) }

// BenchmarkFailOnceThenSucceed: the first attempt fails with a plain error,
// the second succeeds; zero backoff everywhere.
func BenchmarkFailOnceThenSucceed(b *testing.B) {
	runSeq(b, failOnce, &flaky{err: errFlaky})
}

// BenchmarkBreakerParallel: the success path of one shared breaker under
// b.RunParallel. ns/op is wall time per call: its inverse is throughput.
func BenchmarkBreakerParallel(b *testing.B) {
	for _, v := range breakerParallel {
		b.Run(v.name, func(b *testing.B) {
			call := v.build(b, succeed)
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := call(ctx); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkSubscriber: the success path with a no-op subscriber that wants
// none, the terminal, or all of the events.
func BenchmarkSubscriber(b *testing.B) { runSeq(b, subscriber, nil) }

// BenchmarkSubscriberFailOnce: fail once then succeed, with subscribers; the
// retry adds attempt_start/attempt_end and retry events.
func BenchmarkSubscriberFailOnce(b *testing.B) {
	runSeq(b, subscriberFailOnce, &flaky{err: errFlaky})
}

// BenchmarkExecute: the structured outcome, the optional timeline and the
// per-attempt timeout.
func BenchmarkExecute(b *testing.B) { runSeq(b, execute, nil) }
