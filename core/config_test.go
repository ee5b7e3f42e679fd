package core_test

import (
	"errors"
	"testing"
	"time"

	"github.com/redress-go/redress/core"
	"github.com/redress-go/redress/core/coretest"
)

func asConfigError(err error, target **core.ConfigError) bool { return errors.As(err, target) }

func TestInvalidConfigNamesTheField(t *testing.T) {
	policy := func(r core.RetryConfig) error { _, err := core.NewPolicy(core.PolicyConfig{Retry: r}); return err }
	policyCfg := func(c core.PolicyConfig) error { _, err := core.NewPolicy(c); return err }
	breaker := func(c core.BreakerConfig) error { _, err := core.NewBreaker(c); return err }
	budget := func(c core.BudgetConfig) error { _, err := core.NewBudget(c); return err }
	tests := []struct {
		name  string
		err   error
		field string
	}{
		{"negative attempts", policy(core.RetryConfig{MaxAttempts: -1}), "Retry.MaxAttempts"},
		{"negative unknown", policy(core.RetryConfig{MaxUnknownAttempts: -2}), "Retry.MaxUnknownAttempts"},
		{"negative call timeout", policyCfg(core.PolicyConfig{Timeout: core.TimeoutConfig{Call: -time.Second}}), "Timeout.Call"},
		{"call timeout shorter than attempt timeout", policyCfg(core.PolicyConfig{Timeout: core.TimeoutConfig{Call: time.Second, Attempt: 2 * time.Second}}), "Timeout.Call"},
		{"negative attempt timeout", policyCfg(core.PolicyConfig{Timeout: core.TimeoutConfig{Attempt: -1}}), "Timeout.Attempt"},
		{"negative per-class cap", policy(core.RetryConfig{MaxAttemptsPerClass: map[core.Class]int{core.ClassRateLimit: -1}}), "Retry.MaxAttemptsPerClass[rate_limit]"},
		{"invalid class key", policy(core.RetryConfig{MaxAttemptsPerClass: map[core.Class]int{core.Class(99): 1}}), "Retry.MaxAttemptsPerClass"},
		{"nil per-class strategy", policy(core.RetryConfig{Strategies: map[core.Class]core.Strategy{core.ClassTransient: nil}}), "Retry.Strategies[transient]"},
		{"breaker ratio above 1", breaker(core.BreakerConfig{FailureRatio: 1.5}), "BreakerConfig.FailureRatio"},
		{"breaker negative threshold", breaker(core.BreakerConfig{FailureThreshold: -1}), "BreakerConfig.FailureThreshold"},
		{"breaker zero-width window", breaker(core.BreakerConfig{Window: 5}), "BreakerConfig.Window"},
		{"breaker negative probes", breaker(core.BreakerConfig{HalfOpenProbes: -1}), "BreakerConfig.HalfOpenProbes"},
		{"breaker negative recovery", breaker(core.BreakerConfig{RecoveryTimeout: -1}), "BreakerConfig.RecoveryTimeout"},
		{"breaker negative class threshold", breaker(core.BreakerConfig{ClassThresholds: map[core.Class]int{core.ClassAuth: -1}}), "BreakerConfig.ClassThresholds[auth]"},
		{"budget ratio below 0", budget(core.BudgetConfig{Ratio: -0.1}), "BudgetConfig.Ratio"},
		{"budget fixed and ratio", budget(core.BudgetConfig{MaxRetries: 5, Ratio: 0.1}), "BudgetConfig.MaxRetries"},
		{"budget negative window", budget(core.BudgetConfig{Window: -time.Second}), "BudgetConfig.Window"},
		{"budget negative floor", budget(core.BudgetConfig{MinRetriesPerSecond: -1}), "BudgetConfig.MinRetriesPerSecond"},
		{"nil strategy func", policy(core.RetryConfig{Strategy: core.StrategyFunc(nil)}), "Retry.Strategy"},
		{"nil adaptive strategy", policy(core.RetryConfig{Strategy: (*core.AdaptiveStrategy)(nil)}), "Retry.Strategy"},
		{"nil per-class strategy func", policy(core.RetryConfig{Strategies: map[core.Class]core.Strategy{core.ClassTransient: core.StrategyFunc(nil)}}), "Retry.Strategies[transient]"},
		{"adaptive over a nil func", policy(core.RetryConfig{Strategy: core.Adaptive(core.StrategyFunc(nil), core.AdaptiveConfig{})}), "Retry.Strategy"},
		{"typed-nil policy clock", policyCfg(core.PolicyConfig{Clock: (*coretest.FakeClock)(nil)}), "Clock"},
		{"typed-nil policy sleeper", policyCfg(core.PolicyConfig{Sleeper: (*coretest.FakeClock)(nil)}), "Sleeper"},
		{"breaker TripOn invalid class", breaker(core.BreakerConfig{TripOn: core.ClassSet(1 << 12)}), "BreakerConfig.TripOn"},
		{"typed-nil breaker clock", breaker(core.BreakerConfig{Clock: (*coretest.FakeClock)(nil)}), "BreakerConfig.Clock"},
		{"typed-nil budget clock", budget(core.BudgetConfig{Clock: (*coretest.FakeClock)(nil)}), "BudgetConfig.Clock"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ce *core.ConfigError
			if !errors.As(tt.err, &ce) {
				t.Fatalf("want *ConfigError, got %v", tt.err)
			}
			eq(t, "field", ce.Field, tt.field)
		})
	}
}

func TestZeroConfigsAreValid(t *testing.T) {
	if _, err := core.NewPolicy(core.PolicyConfig{}); err != nil {
		t.Error(err)
	}
	if _, err := core.NewBreaker(core.BreakerConfig{}); err != nil {
		t.Error(err)
	}
	if _, err := core.NewBudget(core.BudgetConfig{}); err != nil {
		t.Error(err)
	}
	if err := (core.RetryConfig{}).Validate(); err != nil {
		t.Error(err)
	}
}
