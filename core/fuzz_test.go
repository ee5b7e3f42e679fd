package core_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/redress-go/redress/core"
	"github.com/redress-go/redress/core/coretest"
)

// FuzzPolicyConfig: any configuration either fails construction with a
// *ConfigError or runs a failing call without panicking, never sleeps a
// negative delay and never sleeps past the deadline.
func FuzzPolicyConfig(f *testing.F) {
	f.Add(3, 0, int64(0), int64(0), int64(10), int64(100), 0.0, uint8(1))
	f.Add(-1, 2, int64(-5), int64(1), int64(0), int64(0), 0.5, uint8(3))
	f.Add(10, 1, int64(1e9), int64(2e9), int64(1e6), int64(1e9), 1.5, uint8(0))
	f.Add(5, 5, int64(50e6), int64(10e6), int64(math.MaxInt64), int64(math.MaxInt64), 0.2, uint8(2))
	f.Fuzz(func(t *testing.T, maxAtt, unknown int, deadline, attemptTO, base, maxDelay int64, ratio float64, kind uint8) {
		var s core.Strategy
		switch kind % 5 {
		case 0:
			s = core.DecorrelatedJitter(time.Duration(base), time.Duration(maxDelay))
		case 1:
			s = core.Exponential(time.Duration(base), time.Duration(maxDelay))
		case 2:
			s = core.EqualJitter(time.Duration(base), time.Duration(maxDelay))
		case 3:
			s = core.RetryAfterOr(core.FullJitter(time.Duration(base), time.Duration(maxDelay)), time.Duration(maxDelay))
		default:
			s = core.Adaptive(core.Constant(time.Duration(base)), core.AdaptiveConfig{MaxMultiplier: ratio * 10})
		}
		br, errB := core.NewBreaker(core.BreakerConfig{FailureRatio: ratio})
		_, errU := core.NewBudget(core.BudgetConfig{Ratio: ratio})
		for _, err := range []error{errB, errU} {
			var ce *core.ConfigError
			if err != nil && !asConfigError(err, &ce) {
				t.Fatalf("constructor error is not a *ConfigError: %v", err)
			}
		}
		clk := coretest.NewFakeClock(coretest.StartTime)
		p, err := core.NewPolicy(core.PolicyConfig{
			Breaker: br, Clock: clk, Sleeper: clk,
			Timeout: core.TimeoutConfig{Call: time.Duration(deadline), Attempt: time.Duration(attemptTO)},
			Retry: core.RetryConfig{
				MaxAttempts: maxAtt % 50, MaxUnknownAttempts: unknown, Strategy: s,
			},
		})
		if err != nil {
			var ce *core.ConfigError
			if !asConfigError(err, &ce) || ce.Field == "" {
				t.Fatalf("NewPolicy error is not a *ConfigError naming a field: %v", err)
			}
			return
		}
		_ = p.Run(context.Background(), func(context.Context) error { return coretest.RateLimitErr(time.Duration(maxDelay)) })
		var total time.Duration
		for _, d := range clk.Sleeps() {
			if d < 0 {
				t.Fatalf("negative sleep %v", d)
			}
			total += d
		}
		if deadline > 0 && total >= time.Duration(deadline) {
			t.Fatalf("slept %v with a deadline of %v", total, time.Duration(deadline))
		}
	})
}

// FuzzStrategies: no panic, no negative delay, never above the cap.
func FuzzStrategies(f *testing.F) {
	f.Add(int64(100e6), int64(10e9), 1, int64(0), int64(0))
	f.Add(int64(1), int64(0), 70, int64(math.MaxInt64), int64(-1))
	f.Add(int64(math.MaxInt64), int64(math.MaxInt64), 1000, int64(5), int64(math.MaxInt64))
	f.Fuzz(func(t *testing.T, base, maxDelay int64, attempt int, prev, hint int64) {
		if base < 0 || maxDelay < 0 || (maxDelay > 0 && maxDelay < base) {
			return // rejected by validation; covered by FuzzPolicyConfig
		}
		in := core.BackoffInput{Attempt: attempt, PrevSleep: time.Duration(prev), Classification: core.Classification{RetryAfter: time.Duration(hint)}}
		for _, s := range []core.Strategy{
			core.Exponential(time.Duration(base), time.Duration(maxDelay)),
			core.FullJitter(time.Duration(base), time.Duration(maxDelay)),
			core.EqualJitter(time.Duration(base), time.Duration(maxDelay)),
			core.DecorrelatedJitter(time.Duration(base), time.Duration(maxDelay)),
			core.RetryAfterOr(core.Constant(time.Duration(base)), time.Duration(maxDelay)),
		} {
			d := s.Backoff(in)
			if d < 0 {
				t.Fatalf("%T: negative delay %v", s, d)
			}
			if maxDelay > 0 && d > time.Duration(maxDelay) {
				t.Fatalf("%T: %v above cap %v", s, d, time.Duration(maxDelay))
			}
		}
	})
}
