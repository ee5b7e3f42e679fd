// Package hedgebench compares redress's hedging with failsafe-go's
// hedgepolicy, in the same run: on the success path, where the first copy
// answers within the delay and no hedge is sent (a fixed delay, and a
// delay taken from a percentile of recent latencies), beside the bare
// call; and in a tail-latency scenario (tail_test.go).
//
//	cd bench && go test -run '^$' -bench . -benchmem -count 6 ./hedge | go run ./cmd/benchratio -baseline redress
package hedgebench

import (
	"context"
	"testing"
	"time"

	"github.com/failsafe-go/failsafe-go"
	"github.com/failsafe-go/failsafe-go/hedgepolicy"

	"github.com/redress-go/redress/core"
)

type op func(context.Context) (int, error)

func succeed(context.Context) (int, error) { return 1, nil }

// never is a hedge delay no call of the benchmark reaches.
const never = time.Second

func redressHedge(cfg core.HedgeConfig) func(testing.TB) op {
	return func(tb testing.TB) op {
		h, err := core.NewHedger(cfg)
		if err != nil {
			tb.Fatal(err)
		}
		p, err := core.NewPolicy(core.PolicyConfig{Name: "bench", Retry: core.RetryConfig{MaxAttempts: 1}, Hedge: h})
		if err != nil {
			tb.Fatal(err)
		}
		return func(ctx context.Context) (int, error) { return core.Do(ctx, p, succeed) }
	}
}

func failsafeHedge(hp hedgepolicy.HedgePolicy[int]) func(testing.TB) op {
	return func(testing.TB) op {
		ex := failsafe.With[int](hp)
		return func(ctx context.Context) (int, error) {
			return ex.GetWithExecution(func(e failsafe.Execution[int]) (int, error) { return succeed(e.Context()) })
		}
	}
}

func run(b *testing.B, variants []struct {
	name  string
	build func(testing.TB) op
}) {
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

// BenchmarkHedge: a fixed delay of 1s, never reached: no hedge is sent.
func BenchmarkHedge(b *testing.B) {
	run(b, []struct {
		name  string
		build func(testing.TB) op
	}{
		{"baseline", func(testing.TB) op { return succeed }},
		{"redress", redressHedge(core.HedgeConfig{Delay: never})},
		{"failsafe", failsafeHedge(hedgepolicy.NewWithDelay[int](never))},
	})
}

// BenchmarkHedgePercentile: the delay is the 95th percentile of recent
// latencies (redress: of the last 1000 attempts, at least 1s; failsafe-go:
// a moving quantile of age 1000, hedging after 100 executions); the
// success path costs the latency bookkeeping.
func BenchmarkHedgePercentile(b *testing.B) {
	run(b, []struct {
		name  string
		build func(testing.TB) op
	}{
		{"baseline", func(testing.TB) op { return succeed }},
		{"redress", redressHedge(core.HedgeConfig{Delay: never, Percentile: 0.95})},
		{"failsafe", failsafeHedge(hedgepolicy.NewWithDelayQuantile[int](0.95, 1000, 100))},
	})
}
