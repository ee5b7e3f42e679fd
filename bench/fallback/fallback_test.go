// Package fallbackbench compares the fallback component with failsafe-go's
// fallback policy, in the same run: the success path (the fallback unused)
// and a failing call (the fallback supplies the result), beside the bare
// call and a hand-written fallback.
//
//	cd bench && go test -run '^$' -bench . -benchmem -count 6 ./fallback
package fallbackbench

import (
	"context"
	"errors"
	"testing"

	"github.com/failsafe-go/failsafe-go"
	"github.com/failsafe-go/failsafe-go/fallback"

	"github.com/redress-go/redress/core"
)

var errDown = core.Permanent(errors.New("down"))

type op func(context.Context) (int, error)

func succeed(context.Context) (int, error) { return 1, nil }
func fail(context.Context) (int, error)    { return 0, errDown }

type variant struct {
	name  string
	build func(testing.TB, op) op
}

func bare(_ testing.TB, fn op) op { return fn }

// byHand is the fallback written inline: the value on any error.
func byHand(_ testing.TB, fn op) op {
	return func(ctx context.Context) (int, error) {
		v, err := fn(ctx)
		if err != nil {
			return 7, nil
		}
		return v, nil
	}
}

// redressFallback is a policy with one attempt and a fallback value: the
// same semantics as failsafe's fallback policy alone.
func redressFallback(tb testing.TB, fn op) op {
	p, err := core.NewPolicy(core.PolicyConfig{Name: "bench", Retry: core.RetryConfig{MaxAttempts: 1}, Fallback: core.FallbackValue(7)})
	if err != nil {
		tb.Fatal(err)
	}
	return func(ctx context.Context) (int, error) { return core.Do(ctx, p, fn) }
}

func failsafeFallback(_ testing.TB, fn op) op {
	ex := failsafe.With[int](fallback.NewWithResult(7))
	return func(ctx context.Context) (int, error) {
		return ex.GetWithExecution(func(e failsafe.Execution[int]) (int, error) { return fn(e.Context()) })
	}
}

var variants = []variant{
	{"baseline", bare},
	{"by-hand", byHand},
	{"redress", redressFallback},
	{"failsafe", failsafeFallback},
}

func run(b *testing.B, fn op, want int) {
	for _, v := range variants {
		if v.name == "baseline" && want == 7 {
			continue // the bare call fails: nothing to compare
		}
		b.Run(v.name, func(b *testing.B) {
			call := v.build(b, fn)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if got, err := call(ctx); err != nil || got != want {
					b.Fatalf("got %d, %v; want %d", got, err, want)
				}
			}
		})
	}
}

// BenchmarkFallbackUnused: the call succeeds; the fallback is not needed.
func BenchmarkFallbackUnused(b *testing.B) { run(b, succeed, 1) }

// BenchmarkFallbackUsed: the call fails (a permanent error, no retry) and
// the fallback supplies 7.
func BenchmarkFallbackUsed(b *testing.B) { run(b, fail, 7) }
