package core_test

import (
	"testing"
	"time"

	"github.com/redress-go/redress/core"
)

func TestStrategiesStayInBounds(t *testing.T) {
	base, ceil := 10*time.Millisecond, time.Second
	tests := []struct {
		name   string
		s      core.Strategy
		lo, hi func(attempt int, prev time.Duration) time.Duration
	}{
		{"exponential", core.Exponential(base, ceil),
			func(a int, _ time.Duration) time.Duration { return min(ceil, base<<(a-1)) },
			func(a int, _ time.Duration) time.Duration { return min(ceil, base<<(a-1)) }},
		{"full jitter", core.FullJitter(base, ceil),
			func(int, time.Duration) time.Duration { return 0 },
			func(a int, _ time.Duration) time.Duration { return min(ceil, base<<(a-1)) }},
		{"equal jitter", core.EqualJitter(base, ceil),
			func(a int, _ time.Duration) time.Duration { return min(ceil, base<<(a-1)) / 2 },
			func(a int, _ time.Duration) time.Duration { return min(ceil, base<<(a-1)) }},
		{"decorrelated jitter", core.DecorrelatedJitter(base, ceil),
			func(int, time.Duration) time.Duration { return base },
			func(_ int, prev time.Duration) time.Duration { return min(ceil, 3*prev) }},
		{"constant", core.Constant(42 * time.Millisecond),
			func(int, time.Duration) time.Duration { return 42 * time.Millisecond },
			func(int, time.Duration) time.Duration { return 42 * time.Millisecond }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prev := time.Duration(0)
			for attempt := 1; attempt <= 40; attempt++ {
				for range 50 {
					d := tt.s.Backoff(core.BackoffInput{Attempt: attempt, PrevSleep: prev})
					lo, hi := tt.lo(attempt, max(prev, base)), tt.hi(attempt, max(prev, base))
					if d < lo || d > hi {
						t.Fatalf("attempt %d prev %v: %v not in [%v, %v]", attempt, prev, d, lo, hi)
					}
					prev = d
				}
			}
		})
	}
}

func TestExponentialSaturatesInsteadOfOverflowing(t *testing.T) {
	s := core.Exponential(time.Hour, 0)
	if d := s.Backoff(core.BackoffInput{Attempt: 200}); d <= 0 {
		t.Errorf("attempt 200 gave %v", d)
	}
}

func TestJitterSpreads(t *testing.T) {
	s := core.FullJitter(time.Second, time.Second)
	seen := map[time.Duration]bool{}
	for range 100 {
		seen[s.Backoff(core.BackoffInput{Attempt: 1})] = true
	}
	if len(seen) < 90 {
		t.Errorf("full jitter produced only %d distinct delays out of 100", len(seen))
	}
}

func TestAdaptiveReturnsToBaseline(t *testing.T) {
	a := core.Adaptive(core.Constant(100*time.Millisecond), core.AdaptiveConfig{MaxMultiplier: 3, Smoothing: 0.2})
	in := core.BackoffInput{Attempt: 1}
	eq(t, "baseline", a.Backoff(in), 100*time.Millisecond)
	for range 50 {
		a.Observe(true)
	}
	if d := a.Backoff(in); d < 290*time.Millisecond || d > 300*time.Millisecond {
		t.Errorf("after failures: %v, want about 300ms", d)
	}
	for range 50 {
		a.Observe(false)
	}
	if d := a.Backoff(in); d > 101*time.Millisecond {
		t.Errorf("after successes: %v, want about 100ms", d)
	}
}

func TestStrategyValidation(t *testing.T) {
	bad := map[string]core.Strategy{
		"Retry.Strategy (Exponential.base)":             core.Exponential(-1, 0),
		"Retry.Strategy (FullJitter.max)":               core.FullJitter(time.Second, time.Millisecond),
		"Retry.Strategy (Constant.delay)":               core.Constant(-time.Second),
		"Retry.Strategy (RetryAfterOr.fallback)":        core.RetryAfterOr(nil, 0),
		"Retry.Strategy (AdaptiveConfig.MaxMultiplier)": core.Adaptive(core.Constant(0), core.AdaptiveConfig{MaxMultiplier: 0.5}),
		"Retry.Strategy (AdaptiveConfig.Smoothing)":     core.Adaptive(core.Constant(0), core.AdaptiveConfig{Smoothing: 2}),
	}
	for field, s := range bad {
		_, err := core.NewPolicy(core.PolicyConfig{Retry: core.RetryConfig{Strategy: s}})
		var ce *core.ConfigError
		if !asConfigError(err, &ce) || ce.Field != field {
			t.Errorf("%s: got %v", field, err)
		}
	}
}
