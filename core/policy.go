package core

import (
	"context"
	"time"
)

// Policy runs operations under a retry configuration, an optional circuit
// breaker and an optional retry budget, and publishes every decision on its
// bus. Build it once with NewPolicy and share it: a Policy is immutable and
// safe for concurrent use.
//
// Most callers want Do (value and error) or Run (error only); Execute returns
// a structured Outcome.
type Policy struct {
	name       string
	operation  string
	classify   Classifier
	strategies [numClasses]Strategy
	observers  []OutcomeObserver
	maxAtt     int
	perClass   [numClasses]int32 // -1: no cap
	maxUnknown int
	deadline   time.Duration
	attemptTO  time.Duration
	holdWait   time.Duration // RetryConfig.HoldWait
	resultCl   func(any) error
	abortIf    func() bool
	nested     bool // RetryUnderRetryingCaller
	sleepH     func(context.Context, SleepInfo) SleepAction
	beforeS    func(context.Context, SleepInfo)
	onAttempt  func(AttemptInfo)
	breaker    *Breaker
	budget     *Budget
	throttler  *Throttler
	limiter    Limiter
	rateWait   *RateLimiter // limiter, when a RateLimiter that waits
	conc       ConcurrencyLimiter
	faults     *FaultInjector
	fallback   Fallback
	hedger     *Hedger
	gated      bool // abortIf, holdWait, deadline, throttler, limiter or concurrency limiter: Step.gate has work
	timed      bool // deadline or onAttempt: every call reads the clock
	bus        *Bus
	clock      Clock
	mono       bool // clock is SystemClock: time calls on the monotonic clock alone
	sleeper    Sleeper
}

// NewPolicy returns a policy, or a *ConfigError naming the first invalid field.
func NewPolicy(cfg PolicyConfig) (*Policy, error) {
	r := cfg.Retry
	if err := cfg.Timeout.validate(); err != nil {
		return nil, err
	}
	if err := r.validate(); err != nil {
		return nil, err
	}
	if cfg.Clock != nil && isNil(cfg.Clock) {
		return nil, cfgErr("Clock", "holds a nil pointer (leave it nil for SystemClock)")
	}
	if cfg.Sleeper != nil && isNil(cfg.Sleeper) {
		return nil, cfgErr("Sleeper", "holds a nil pointer (leave it nil for TimerSleeper)")
	}
	if cfg.Concurrency != nil && isNil(cfg.Concurrency) {
		return nil, cfgErr("Concurrency", "holds a nil pointer (leave it nil for none)")
	}
	if cfg.Hedge != nil && isNil(cfg.Hedge) {
		return nil, cfgErr("Hedge", "holds a nil pointer (leave it nil for none)")
	}
	if cfg.Limiter != nil && isNil(cfg.Limiter) {
		return nil, cfgErr("Limiter", "holds a nil pointer (leave it nil for none)")
	}
	p := &Policy{
		name:       cfg.Name,
		operation:  cfg.Operation,
		classify:   r.Classifier,
		maxAtt:     r.MaxAttempts,
		maxUnknown: r.MaxUnknownAttempts,
		deadline:   cfg.Timeout.Call,
		attemptTO:  cfg.Timeout.Attempt,
		holdWait:   r.HoldWait,
		resultCl:   r.ResultClassifier,
		nested:     r.RetryUnderRetryingCaller,
		abortIf:    r.AbortIf,
		sleepH:     r.SleepHandler,
		beforeS:    r.BeforeSleep,
		onAttempt:  r.OnAttempt,
		breaker:    cfg.Breaker,
		budget:     cfg.Budget,
		throttler:  cfg.Throttler,
		limiter:    cfg.Limiter,
		conc:       cfg.Concurrency,
		faults:     cfg.Faults,
		fallback:   cfg.Fallback,
		hedger:     cfg.Hedge,
		bus:        cfg.Bus,
		clock:      cfg.Clock,
		sleeper:    cfg.Sleeper,
	}
	if p.name == "" {
		p.name = "default"
	}
	if rl, ok := p.limiter.(*RateLimiter); ok && rl.maxWait > 0 {
		p.rateWait = rl
	}
	p.timed = p.deadline > 0 || p.onAttempt != nil
	p.gated = p.abortIf != nil || p.holdWait != 0 || p.deadline > 0 || p.throttler != nil || p.limiter != nil || p.conc != nil
	if p.breaker != nil {
		p.breaker.attach(p.bus)
	}
	if p.operation == "" {
		p.operation = p.name
	}
	if p.classify == nil {
		p.classify = DefaultClassifier
	}
	if p.maxAtt == 0 {
		p.maxAtt = 3
	}
	if p.clock == nil {
		p.clock = SystemClock{}
	}
	_, p.mono = p.clock.(SystemClock)
	if p.sleeper == nil {
		p.sleeper = TimerSleeper{}
	}
	def := r.Strategy
	if def == nil && len(r.Strategies) == 0 {
		def = DecorrelatedJitter(100*time.Millisecond, 10*time.Second)
	}
	seen := map[OutcomeObserver]bool{}
	for i := range p.strategies {
		s := def
		if cs, ok := r.Strategies[Class(i)]; ok {
			s = cs
		}
		p.strategies[i] = s
		if o, ok := s.(OutcomeObserver); ok && !seen[o] {
			seen[o] = true
			p.observers = append(p.observers, o)
		}
		p.perClass[i] = -1
	}
	for c, n := range r.MaxAttemptsPerClass {
		p.perClass[c] = int32(n)
	}
	return p, nil
}

// NewRetryPolicy is the retry-only shortcut: NewPolicy with just r.
func NewRetryPolicy(r RetryConfig) (*Policy, error) {
	return NewPolicy(PolicyConfig{Retry: r})
}

// Name returns the policy's name.
func (p *Policy) Name() string { return p.name }

// Operation returns the policy's default operation label.
func (p *Policy) Operation() string { return p.operation }

// Breaker returns the policy's breaker, or nil.
func (p *Policy) Breaker() *Breaker { return p.breaker }

// Budget returns the policy's retry budget, or nil.
func (p *Policy) Budget() *Budget { return p.budget }

// Bus returns the policy's bus, or nil.
func (p *Policy) Bus() *Bus { return p.bus }

// Timeout returns the policy's timeouts (PolicyConfig.Timeout).
func (p *Policy) Timeout() TimeoutConfig {
	return TimeoutConfig{Call: p.deadline, Attempt: p.attemptTO}
}

// MaxAttempts returns the policy's attempt cap, counting the first.
func (p *Policy) MaxAttempts() int { return p.maxAtt }

// Observed reports whether anything reads a call's operation name and
// labels: a subscriber on the policy's bus that wants any event, or the
// policy's OnAttempt or SleepHandler hook. A wrapper skips building labels
// nobody reads (a subscriber that joins the bus during a call sees that
// call's events without them).
func (p *Policy) Observed() bool {
	return p != nil && (p.bus.mask() != 0 || p.onAttempt != nil || p.sleepH != nil)
}

// Classifier returns the policy's classifier.
func (p *Policy) Classifier() Classifier { return p.classify }

// Run calls fn until it succeeds or the policy stops it, and returns nil or
// the error that stopped it (a *RetryError wrapping the last failure, or a
// *CircuitOpenError when the breaker refused before any attempt). opts are
// the per-call options (WithOperation, WithLabels, WithMaxAttempts,
// WithBreaker, WithOnAttempt, WithTimeline). A nil p calls fn once.
func (p *Policy) Run(ctx context.Context, fn func(context.Context) error, opts ...Option) error {
	var s Step
	applyOptions(&s.call, opts)
	s.begin(ctx, p, nil, false)
	defer s.Close()
	for s.Next() {
		if p != nil && p.hedger != nil {
			_, err := hedged[struct{}](&s, fn, nil, false)
			s.End(err)
			continue
		}
		s.End(fn(s.actx))
	}
	return s.err
}

// Do calls fn under p until it succeeds or p stops it. It returns the value
// of the last attempt and nil, or the error that stopped the call (see
// Policy.Run, which takes the same options). A value that the policy's
// Retry.ResultClassifier turns into an error is retried like an error.
// When p gives up and has a Fallback, Do returns what the Fallback
// supplied. A nil p calls fn once.
func Do[T any](ctx context.Context, p *Policy, fn func(context.Context) (T, error), opts ...Option) (T, error) {
	var s Step
	applyOptions(&s.call, opts)
	s.begin(ctx, p, nil, false)
	defer s.Close()
	var v T
	for s.Next() {
		var err error
		if p != nil && p.hedger != nil {
			v, err = hedged[T](&s, fn, nil, true)
		} else {
			v, err = fn(s.actx)
		}
		if err == nil && p != nil && p.resultCl != nil {
			if err = p.resultCl(v); err != nil {
				s.last = v
			}
		}
		s.End(err)
	}
	if s.fbUsed {
		return fallbackAs[T](&s)
	}
	return v, s.err
}

// Outcome is the structured result of Execute.
type Outcome[T any] struct {
	// Value is the value of the last attempt.
	Value T
	// Err is nil on success, else what Do would have returned.
	Err error
	// Attempts is the number of attempts made.
	Attempts int
	// StopReason is StopNone on success.
	StopReason StopReason
	// LastClass is the class of the last failure (ClassUnknown if none).
	LastClass Class
	// Elapsed is the duration of the whole call.
	Elapsed time.Duration
	// NextDelay is the deferred delay when StopReason is StopScheduled.
	NextDelay time.Duration
	// Timeline is the record of every attempt, when asked for.
	Timeline *Timeline
	// Fallback reports that the policy gave up (StopReason says why) and
	// Value is what its Fallback supplied.
	Fallback bool
}

// OK reports whether the call succeeded.
func (o Outcome[T]) OK() bool { return o.Err == nil }

// Execute is Do returning a structured Outcome, with the call's attempts,
// stop reason, duration and, with WithTimeline, its timeline.
func Execute[T any](ctx context.Context, p *Policy, fn func(context.Context) (T, error), opts ...Option) Outcome[T] {
	var s Step
	applyOptions(&s.call, opts)
	s.begin(ctx, p, nil, true)
	defer s.Close()
	var o Outcome[T]
	for s.Next() {
		var err error
		if p != nil && p.hedger != nil {
			o.Value, err = hedged[T](&s, fn, nil, true)
		} else {
			o.Value, err = fn(s.actx)
		}
		if err == nil && p != nil && p.resultCl != nil {
			if err = p.resultCl(o.Value); err != nil {
				s.last = o.Value
			}
		}
		s.End(err)
	}
	o.Err = s.err
	if s.fbUsed {
		o.Value, o.Err = fallbackAs[T](&s)
		o.Fallback = !s.fbFault
	}
	o.Attempts = s.attempts
	o.StopReason = s.stop
	o.LastClass = s.lastCl.Class
	o.Elapsed = s.elapsed
	o.NextDelay = s.nextDelay
	o.Timeline = s.call.Timeline
	return o
}
