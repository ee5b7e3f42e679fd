package core

import (
	"math"
	"strconv"
	"time"

	"golang.org/x/time/rate"
)

// RateLimiterConfig configures a RateLimiter.
type RateLimiterConfig struct {
	// Name names the limiter in its errors. Default "rate".
	Name string
	// Rate is the sustained rate of attempts admitted, per second. Must be
	// positive.
	Rate float64
	// Burst is how many attempts may be admitted at once after a quiet
	// spell. Default: Rate rounded up, at least 1.
	Burst int
	// MaxWait is how long an attempt may wait for its turn. Zero (the
	// default): an attempt that would have to wait is refused at once
	// (stop reason limited, a *LimitedError carrying the wait). Positive: it
	// waits up to MaxWait, on the policy's Sleeper and never past the
	// call's timeout or the caller's deadline, and publishes
	// EventRateLimitWait; an attempt that would wait longer is refused.
	MaxWait time.Duration
	// Clock tells the time. Default SystemClock.
	Clock Clock
}

// RateLimiter is a token bucket (golang.org/x/time/rate) as a policy
// component: set it as PolicyConfig.Limiter and the policy asks it before
// every attempt, retries included, after the throttler and before the
// concurrency limiter and the breaker (docs/components.md). It may be
// shared by policies that call the same downstream. It is safe for
// concurrent use.
type RateLimiter struct {
	name    string
	lim     *rate.Limiter
	maxWait time.Duration
	clock   Clock
}

// NewRateLimiter returns a rate limiter, or a *ConfigError naming the first
// invalid field.
func NewRateLimiter(cfg RateLimiterConfig) (*RateLimiter, error) {
	if !(cfg.Rate > 0) || math.IsInf(cfg.Rate, 1) {
		return nil, cfgErr("RateLimiterConfig.Rate", "must be positive and finite")
	}
	if cfg.Burst < 0 {
		return nil, cfgErr("RateLimiterConfig.Burst", "must not be negative")
	}
	if cfg.MaxWait < 0 {
		return nil, cfgErr("RateLimiterConfig.MaxWait", "must not be negative")
	}
	if cfg.Clock != nil && isNil(cfg.Clock) {
		return nil, cfgErr("RateLimiterConfig.Clock", "holds a nil pointer (leave it nil for SystemClock)")
	}
	if cfg.Name == "" {
		cfg.Name = "rate"
	}
	if cfg.Burst == 0 {
		cfg.Burst = max(1, int(math.Ceil(cfg.Rate)))
	}
	if cfg.Clock == nil {
		cfg.Clock = SystemClock{}
	}
	return &RateLimiter{name: cfg.Name, lim: rate.NewLimiter(rate.Limit(cfg.Rate), cfg.Burst), maxWait: cfg.MaxWait, clock: cfg.Clock}, nil
}

// Name returns the limiter's name.
func (l *RateLimiter) Name() string { return l.name }

// Allow takes a token if one is there now; when none is, it reports when
// one will be. It never waits (the policy waits, in wait mode).
func (l *RateLimiter) Allow() (ok bool, retryIn time.Duration) {
	now := l.clock.Now()
	if l.lim.AllowN(now, 1) {
		return true, 0
	}
	r := l.lim.ReserveN(now, 1)
	d := r.DelayFrom(now)
	r.CancelAt(now)
	return false, d
}

// reserve takes a token now or reserves the next one: it returns the wait
// before the attempt may go (0: at once) and the reservation to cancel if
// the wait for it is cut short (nil when the token was taken at once),
// or false when the wait would be longer than limit (or than MaxWait) and
// nothing was reserved.
func (l *RateLimiter) reserve(limit time.Duration) (time.Duration, *rate.Reservation, bool) {
	now := l.clock.Now()
	if l.lim.AllowN(now, 1) {
		return 0, nil, true
	}
	r := l.lim.ReserveN(now, 1)
	d := r.DelayFrom(now)
	if !r.OK() || d > l.maxWait || d >= limit {
		r.CancelAt(now)
		return d, nil, false
	}
	return d, r, true
}

// String describes the limiter.
func (l *RateLimiter) String() string {
	return "rate limiter " + strconv.Quote(l.name) + " (" + strconv.FormatFloat(float64(l.lim.Limit()), 'g', -1, 64) + "/s, burst " + strconv.Itoa(l.lim.Burst()) + ")"
}
