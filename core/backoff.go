package core

import (
	"errors"
	"math"
	"math/rand/v2"
	"sync/atomic"
	"time"
)

// BackoffInput is what a Strategy knows when it chooses the next delay.
// Fields may be added; strategies must not depend on its size.
type BackoffInput struct {
	// Attempt is the number of the attempt that just failed (1 for the first).
	Attempt int
	// Class is Classification.Class, repeated for convenience.
	Class Class
	// Classification is the failure's full classification, with its hint.
	Classification Classification
	// PrevSleep is the delay chosen before the failed attempt (0 after the
	// first attempt).
	PrevSleep time.Duration
	// Remaining is the time left before the call's deadline; it is
	// meaningful only when HasDeadline is true.
	Remaining time.Duration
	// HasDeadline reports whether the call has a deadline (the policy's
	// Timeout.Call or the caller's context's), so that Remaining applies.
	HasDeadline bool
	// Err is the failure.
	Err error
}

// Strategy chooses the delay before the next attempt. It must be safe for
// concurrent use. The engine clamps what it returns: a negative delay is
// zero, and a delay that would pass the call's deadline stops the call with
// StopDeadline instead of sleeping.
type Strategy interface {
	// Backoff returns the delay before the attempt after the failure
	// described by in.
	Backoff(in BackoffInput) time.Duration
}

// StrategyFunc adapts a function to Strategy. It is the context-aware form:
// the function receives the attempt, class, previous sleep, remaining time
// and classification.
type StrategyFunc func(in BackoffInput) time.Duration

// Backoff calls f(in).
func (f StrategyFunc) Backoff(in BackoffInput) time.Duration { return f(in) }

// validator is implemented by the strategies of this package so that
// NewPolicy can reject bad parameters, naming them.
type validator interface{ validate() error }

// OutcomeObserver is implemented by strategies that learn from every
// attempt's result (Adaptive). The policy calls Observe after each attempt.
type OutcomeObserver interface {
	// Observe is told the result of one attempt: failed or not.
	Observe(failed bool)
}

type baseMax struct {
	name      string
	base, max time.Duration
}

func (s baseMax) validate() error {
	if s.base < 0 {
		return &ConfigError{Field: s.name + ".base", Reason: "must not be negative"}
	}
	if s.max < 0 {
		return &ConfigError{Field: s.name + ".max", Reason: "must not be negative"}
	}
	if s.max > 0 && s.max < s.base {
		return &ConfigError{Field: s.name + ".max", Reason: "must not be less than base"}
	}
	return nil
}

// capped returns min(d, max) when max > 0, treating overflow as max.
func (s baseMax) capped(d time.Duration) time.Duration {
	if d < 0 {
		d = 0
	}
	if s.max > 0 && d > s.max {
		return s.max
	}
	return d
}

// exp returns base * 2^(attempt-1), saturating instead of overflowing.
func (s baseMax) exp(attempt int) time.Duration {
	if attempt < 1 {
		attempt = 1
	}
	if s.base <= 0 {
		return 0
	}
	shift := attempt - 1
	if shift > 62 || s.base > math.MaxInt64>>uint(shift) {
		if s.max > 0 {
			return s.max
		}
		return math.MaxInt64
	}
	return s.capped(s.base << uint(shift))
}

// randBetween returns a uniform duration in [lo, hi].
func randBetween(lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	span := int64(hi - lo)
	if span == math.MaxInt64 {
		return lo + time.Duration(rand.Int64()) // [0, MaxInt64]: span+1 would overflow
	}
	return lo + time.Duration(rand.Int64N(span+1))
}

type exponential struct{ baseMax }

func (s exponential) Backoff(in BackoffInput) time.Duration { return s.exp(in.Attempt) }

// Exponential waits base·2^(attempt−1), capped at max (0: no cap), with no
// jitter. Prefer a jittered strategy for anything with more than one client.
func Exponential(base, max time.Duration) Strategy {
	return exponential{baseMax{"Exponential", base, max}}
}

type fullJitter struct{ baseMax }

func (s fullJitter) Backoff(in BackoffInput) time.Duration {
	return randBetween(0, s.exp(in.Attempt))
}

// FullJitter waits a uniform random delay in [0, min(max, base·2^(attempt−1))].
func FullJitter(base, max time.Duration) Strategy {
	return fullJitter{baseMax{"FullJitter", base, max}}
}

type equalJitter struct{ baseMax }

func (s equalJitter) Backoff(in BackoffInput) time.Duration {
	d := s.exp(in.Attempt)
	return d/2 + randBetween(0, d-d/2)
}

// EqualJitter waits half of min(max, base·2^(attempt−1)) plus a uniform random
// share of the other half.
func EqualJitter(base, max time.Duration) Strategy {
	return equalJitter{baseMax{"EqualJitter", base, max}}
}

type decorrelated struct{ baseMax }

func (s decorrelated) Backoff(in BackoffInput) time.Duration {
	prev := in.PrevSleep
	if prev < s.base {
		prev = s.base
	}
	hi := prev
	if hi < math.MaxInt64/3 {
		hi *= 3
	} else {
		hi = math.MaxInt64
	}
	return s.capped(randBetween(s.base, hi))
}

// DecorrelatedJitter waits a uniform random delay in [base, 3·previous],
// capped at max (0: no cap): the AWS "decorrelated jitter" that spreads
// clients apart best. It is the default strategy, as DecorrelatedJitter(100ms, 10s).
func DecorrelatedJitter(base, max time.Duration) Strategy {
	return decorrelated{baseMax{"DecorrelatedJitter", base, max}}
}

type constant struct{ d time.Duration }

func (s constant) Backoff(BackoffInput) time.Duration { return s.d }
func (s constant) validate() error {
	if s.d < 0 {
		return &ConfigError{Field: "Constant.delay", Reason: "must not be negative"}
	}
	return nil
}

// Constant always waits d. Constant(0) retries at once.
func Constant(d time.Duration) Strategy { return constant{d} }

type retryAfterOr struct {
	fallback Strategy
	max      time.Duration
}

func (s retryAfterOr) Backoff(in BackoffInput) time.Duration {
	if h := in.Classification.RetryAfter; h > 0 || (in.Classification.HasRetryAfter && h >= 0) {
		if s.max > 0 && h > s.max {
			return s.max
		}
		return h
	}
	if s.fallback == nil {
		return 0
	}
	return s.fallback.Backoff(in)
}

func (s retryAfterOr) validate() error {
	if s.fallback == nil {
		return &ConfigError{Field: "RetryAfterOr.fallback", Reason: "must not be nil"}
	}
	if s.max < 0 {
		return &ConfigError{Field: "RetryAfterOr.max", Reason: "must not be negative"}
	}
	return validateStrategy(s.fallback)
}

func (s retryAfterOr) Observe(failed bool) {
	if o, ok := s.fallback.(OutcomeObserver); ok {
		o.Observe(failed)
	}
}

// RetryAfterOr waits for the downstream's hint (Classification.RetryAfter),
// capped at max (0: no cap), and uses fallback when there is no hint.
func RetryAfterOr(fallback Strategy, max time.Duration) Strategy {
	return retryAfterOr{fallback: fallback, max: max}
}

// AdaptiveConfig tunes Adaptive. The zero value is all defaults.
type AdaptiveConfig struct {
	// MaxMultiplier is the factor applied to the fallback's delay when every
	// recent attempt failed. Default 4. Must be >= 1.
	MaxMultiplier float64
	// Smoothing is the weight of each new result in the moving failure rate,
	// in (0, 1]. Default 0.1 (about the last 10 attempts dominate).
	Smoothing float64
}

// AdaptiveStrategy scales a fallback strategy by the recent failure rate. It
// is safe to share between policies and goroutines.
type AdaptiveStrategy struct {
	fallback Strategy
	maxMul   float64
	alpha    float64
	rate     atomic.Uint64 // float64 bits, the moving failure rate in [0, 1]
}

// Adaptive returns a strategy that multiplies fallback's delay by
// 1 + (MaxMultiplier−1)·r, where r is an exponentially weighted failure rate
// of recent attempts (successes pull it back to 0, so the backoff returns to
// the fallback's baseline as successes dominate). Policies feed it every
// attempt's result through OutcomeObserver.
func Adaptive(fallback Strategy, cfg AdaptiveConfig) *AdaptiveStrategy {
	if cfg.MaxMultiplier == 0 {
		cfg.MaxMultiplier = 4
	}
	if cfg.Smoothing == 0 {
		cfg.Smoothing = 0.1
	}
	return &AdaptiveStrategy{fallback: fallback, maxMul: cfg.MaxMultiplier, alpha: cfg.Smoothing}
}

// FailureRate returns the current moving failure rate, in [0, 1].
func (s *AdaptiveStrategy) FailureRate() float64 {
	return math.Float64frombits(s.rate.Load())
}

// Observe records one attempt's result.
func (s *AdaptiveStrategy) Observe(failed bool) {
	x := 0.0
	if failed {
		x = 1
	}
	for {
		old := s.rate.Load()
		r := math.Float64frombits(old)
		n := r + s.alpha*(x-r)
		if n == r {
			return // at a fixed point: no write, no contention
		}
		if s.rate.CompareAndSwap(old, math.Float64bits(n)) {
			break
		}
	}
	if o, ok := s.fallback.(OutcomeObserver); ok {
		o.Observe(failed)
	}
}

// Backoff implements Strategy.
func (s *AdaptiveStrategy) Backoff(in BackoffInput) time.Duration {
	if s.fallback == nil {
		return 0
	}
	d := s.fallback.Backoff(in)
	m := 1 + (s.maxMul-1)*s.FailureRate()
	f := float64(d) * m
	if f >= math.MaxInt64 || math.IsNaN(f) {
		return math.MaxInt64
	}
	return time.Duration(f)
}

func (s *AdaptiveStrategy) validate() error {
	if s.fallback == nil {
		return &ConfigError{Field: "Adaptive.fallback", Reason: "must not be nil"}
	}
	if !(s.maxMul >= 1) || math.IsInf(s.maxMul, 0) {
		return &ConfigError{Field: "AdaptiveConfig.MaxMultiplier", Reason: "must be a finite number >= 1"}
	}
	if !(s.alpha > 0 && s.alpha <= 1) {
		return &ConfigError{Field: "AdaptiveConfig.Smoothing", Reason: "must be in (0, 1]"}
	}
	return validateStrategy(s.fallback)
}

// ValidateStrategy reports whether s has valid parameters. It is what
// NewPolicy calls for every configured strategy; strategies from outside this
// package are always valid.
func ValidateStrategy(s Strategy) error { return validateStrategy(s) }

func validateStrategy(s Strategy) error {
	if s == nil || isNil(s) {
		return errors.New("redress: nil strategy")
	}
	if v, ok := s.(validator); ok {
		return v.validate()
	}
	return nil
}
