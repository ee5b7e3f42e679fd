// Package limitsbench compares the admission components with failsafe-go's,
// in the same run, on the success path (the limit is never reached): the
// rate limiter (reject mode and wait mode), the bulkhead and the adaptive
// concurrency limiter, beside the bare call.
//
//	cd bench && go test -run '^$' -bench . -benchmem -count 6 ./limits
package limitsbench

import (
	"context"
	"testing"
	"time"

	"github.com/failsafe-go/failsafe-go"
	"github.com/failsafe-go/failsafe-go/adaptivelimiter"
	"github.com/failsafe-go/failsafe-go/bulkhead"
	"github.com/failsafe-go/failsafe-go/ratelimiter"

	"github.com/redress-go/redress/core"
)

type op func(context.Context) (int, error)

func succeed(context.Context) (int, error) { return 1, nil }

type variant struct {
	name  string
	build func(testing.TB) op
}

func bare(testing.TB) op { return succeed }

// ample is a rate no benchmark loop reaches: every attempt is admitted.
const ample = 1e9

func redressRate(maxWait time.Duration) func(testing.TB) op {
	return func(tb testing.TB) op {
		rl, err := core.NewRateLimiter(core.RateLimiterConfig{Rate: ample, Burst: ample, MaxWait: maxWait})
		if err != nil {
			tb.Fatal(err)
		}
		p, err := core.NewPolicy(core.PolicyConfig{Name: "bench", Retry: core.RetryConfig{MaxAttempts: 1}, Limiter: rl})
		if err != nil {
			tb.Fatal(err)
		}
		return func(ctx context.Context) (int, error) { return core.Do(ctx, p, succeed) }
	}
}

func failsafeRate(maxWait time.Duration) func(testing.TB) op {
	return func(testing.TB) op {
		rl := ratelimiter.NewBurstyBuilder[int](ample, time.Second).WithMaxWaitTime(maxWait).Build()
		ex := failsafe.With[int](rl)
		return func(ctx context.Context) (int, error) {
			return ex.GetWithExecution(func(e failsafe.Execution[int]) (int, error) { return succeed(e.Context()) })
		}
	}
}

func run(b *testing.B, variants []variant) {
	for _, v := range variants {
		b.Run(v.name, func(b *testing.B) {
			call := v.build(b)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if got, err := call(ctx); err != nil || got != 1 {
					b.Fatalf("got %d, %v", got, err)
				}
			}
		})
	}
}

// BenchmarkRateLimiter: a token bucket that always has a token; reject
// mode (no wait allowed).
func BenchmarkRateLimiter(b *testing.B) {
	run(b, []variant{
		{"baseline", bare},
		{"redress", redressRate(0)},
		{"failsafe", failsafeRate(0)},
	})
}

// BenchmarkRateLimiterWait: the same bucket in wait mode (up to 1s).
func BenchmarkRateLimiterWait(b *testing.B) {
	run(b, []variant{
		{"baseline", bare},
		{"redress", redressRate(time.Second)},
		{"failsafe", failsafeRate(time.Second)},
	})
}

func redressConcurrency(mk func(testing.TB) core.ConcurrencyLimiter) func(testing.TB) op {
	return func(tb testing.TB) op {
		p, err := core.NewPolicy(core.PolicyConfig{Name: "bench", Retry: core.RetryConfig{MaxAttempts: 1}, Concurrency: mk(tb)})
		if err != nil {
			tb.Fatal(err)
		}
		return func(ctx context.Context) (int, error) { return core.Do(ctx, p, succeed) }
	}
}

func failsafeWith(pol failsafe.Policy[int]) func(testing.TB) op {
	return func(testing.TB) op {
		ex := failsafe.With[int](pol)
		return func(ctx context.Context) (int, error) {
			return ex.GetWithExecution(func(e failsafe.Execution[int]) (int, error) { return succeed(e.Context()) })
		}
	}
}

// BenchmarkBulkhead: a bulkhead with a free slot for every call.
func BenchmarkBulkhead(b *testing.B) {
	run(b, []variant{
		{"baseline", bare},
		{"redress", redressConcurrency(func(tb testing.TB) core.ConcurrencyLimiter {
			bh, err := core.NewBulkhead(core.BulkheadConfig{MaxConcurrent: 64})
			if err != nil {
				tb.Fatal(err)
			}
			return bh
		})},
		{"failsafe", failsafeWith(bulkhead.New[int](64))},
	})
}

// BenchmarkAdaptiveLimiter: the adaptive limiters with their defaults; one
// call at a time never reaches either's limit.
func BenchmarkAdaptiveLimiter(b *testing.B) {
	run(b, []variant{
		{"baseline", bare},
		{"redress", redressConcurrency(func(tb testing.TB) core.ConcurrencyLimiter {
			al, err := core.NewAdaptiveLimiter(core.AdaptiveLimiterConfig{})
			if err != nil {
				tb.Fatal(err)
			}
			return al
		})},
		{"failsafe", failsafeWith(adaptivelimiter.NewWithDefaults[int]())},
	})
}
