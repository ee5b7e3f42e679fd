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
	resultCl   func(any) error
	abortIf    func() bool
	sleepH     func(context.Context, SleepInfo) SleepAction
	beforeS    func(context.Context, SleepInfo)
	onAttempt  func(AttemptInfo)
	breaker    *Breaker
	budget     *Budget
	bus        *Bus
	clock      Clock
	mono       bool // clock is SystemClock: time calls on the monotonic clock alone
	fast       bool // no deadline, attempt timeout, abort predicate or hook: see runFast
	sleeper    Sleeper
}

// NewPolicy returns a policy, or a *ConfigError naming the first invalid field.
func NewPolicy(cfg PolicyConfig) (*Policy, error) {
	r := cfg.Retry
	if err := r.validate(); err != nil {
		return nil, err
	}
	if cfg.Clock != nil && isNil(cfg.Clock) {
		return nil, cfgErr("Clock", "holds a nil pointer (leave it nil for SystemClock)")
	}
	if cfg.Sleeper != nil && isNil(cfg.Sleeper) {
		return nil, cfgErr("Sleeper", "holds a nil pointer (leave it nil for TimerSleeper)")
	}
	p := &Policy{
		name:       cfg.Name,
		operation:  cfg.Operation,
		classify:   r.Classifier,
		maxAtt:     r.MaxAttempts,
		maxUnknown: r.MaxUnknownAttempts,
		deadline:   r.Deadline,
		attemptTO:  r.AttemptTimeout,
		resultCl:   r.ResultClassifier,
		abortIf:    r.AbortIf,
		sleepH:     r.SleepHandler,
		beforeS:    r.BeforeSleep,
		onAttempt:  r.OnAttempt,
		breaker:    cfg.Breaker,
		budget:     cfg.Budget,
		bus:        cfg.Bus,
		clock:      cfg.Clock,
		sleeper:    cfg.Sleeper,
	}
	if p.name == "" {
		p.name = "default"
	}
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
	p.fast = p.deadline == 0 && p.attemptTO == 0 && p.abortIf == nil && p.onAttempt == nil
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

// Deadline returns the policy's overall deadline (0: none).
func (p *Policy) Deadline() time.Duration { return p.deadline }

// AttemptTimeout returns the policy's per-attempt timeout (0: none).
func (p *Policy) AttemptTimeout() time.Duration { return p.attemptTO }

// MaxAttempts returns the policy's attempt cap, counting the first.
func (p *Policy) MaxAttempts() int { return p.maxAtt }

// Observed reports whether any subscriber on the policy's bus wants any
// event, so that a wrapper can skip building labels nobody reads.
func (p *Policy) Observed() bool { return p != nil && p.bus.mask() != 0 }

// Classifier returns the policy's classifier.
func (p *Policy) Classifier() Classifier { return p.classify }

// Run calls fn until it succeeds or the policy stops it, and returns nil or
// the error that stopped it (a *RetryError wrapping the last failure, or a
// *CircuitOpenError when the breaker refused before any attempt).
func (p *Policy) Run(ctx context.Context, fn func(context.Context) error) error {
	var c Call
	return p.RunCall(ctx, &c, fn)
}

// RunCall is Run with per-call options.
func (p *Policy) RunCall(ctx context.Context, c *Call, fn func(context.Context) error) error {
	if c == nil {
		c = &Call{}
	}
	if p == nil {
		return fn(ctx)
	}
	var res runResult
	if p.fastFor(c) {
		return p.runFast(ctx, c, fn, &res)
	}
	return p.run(ctx, c, fn, &res, false)
}

// fastFor reports whether a call with c can start in runFast.
// A nil c is a call without per-call options.
func (p *Policy) fastFor(c *Call) bool {
	return p.fast && (c == nil || c.Timeline == nil && c.OnAttempt == nil) && p.bus.mask() == 0
}

// breakerFor returns the breaker that guards a call with c (nil for none):
// the per-call one, else the policy's.
func (p *Policy) breakerFor(c *Call) *Breaker {
	if c != nil && c.Breaker != nil {
		return c.Breaker
	}
	return p.breaker
}

// Do calls fn under p until it succeeds or p stops it. It returns the value
// of the last attempt and nil, or the error that stopped the call (see Run).
// A nil p calls fn once.
func Do[T any](ctx context.Context, p *Policy, fn func(context.Context) (T, error)) (T, error) {
	var c Call
	return DoCall(ctx, p, &c, fn)
}

// DoCall is Do with per-call options (operation label, wrapper labels,
// timeline, attempt hook).
func DoCall[T any](ctx context.Context, p *Policy, c *Call, fn func(context.Context) (T, error)) (T, error) {
	var v T
	if c == nil {
		c = &Call{}
	}
	if p == nil {
		return fn(ctx)
	}
	var last any
	var res runResult
	attempt := func(ctx context.Context) error {
		var err error
		v, err = fn(ctx)
		if err == nil && p.resultCl != nil {
			if err = p.resultCl(v); err != nil {
				last = v
			}
		}
		return err
	}
	var err error
	if p.fastFor(c) {
		err = p.runFast(ctx, c, attempt, &res)
	} else {
		err = p.run(ctx, c, attempt, &res, false)
	}
	if res.re != nil && last != nil {
		res.re.LastResult = last
	}
	return v, err
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
}

// OK reports whether the call succeeded.
func (o Outcome[T]) OK() bool { return o.Err == nil }

// Execute is Do returning a structured Outcome. c may be nil.
func Execute[T any](ctx context.Context, p *Policy, c *Call, fn func(context.Context) (T, error)) Outcome[T] {
	if c == nil {
		c = &Call{}
	}
	var o Outcome[T]
	var res runResult
	if c.Timeline == nil && c.RecordTimeline {
		res.tl = &Timeline{} // the caller's Call stays as it was: it may be shared
	}
	if p == nil {
		o.Value, o.Err = fn(ctx)
		o.Attempts = 1
		return o
	}
	var last any
	o.Err = p.run(ctx, c, func(ctx context.Context) error {
		var err error
		o.Value, err = fn(ctx)
		if err == nil && p.resultCl != nil {
			if err = p.resultCl(o.Value); err != nil {
				last = o.Value
			}
		}
		return err
	}, &res, true)
	if res.re != nil && last != nil {
		res.re.LastResult = last
	}
	o.Attempts = res.attempts
	o.StopReason = res.stop
	o.LastClass = res.lastClass
	o.Elapsed = res.elapsed
	o.NextDelay = res.nextDelay
	o.Timeline = c.Timeline
	if o.Timeline == nil {
		o.Timeline = res.tl
	}
	return o
}

// Wrap turns fn into a function that runs under p with the options of c:
// a decorator.
func Wrap[T any](p *Policy, c Call, fn func(context.Context) (T, error)) func(context.Context) (T, error) {
	return func(ctx context.Context) (T, error) {
		cc := c
		return DoCall(ctx, p, &cc, fn)
	}
}

// Bound is a policy bound to per-call options, for repeated calls that share
// an operation label and hooks. It is safe for
// concurrent use: each call gets its own copy of the options.
type Bound struct {
	p *Policy
	c Call
}

// Bind returns p bound to c. A Timeline in c is shared by every call: leave
// it nil for concurrent use.
func (p *Policy) Bind(c Call) *Bound { return &Bound{p: p, c: c} }

// Run is Policy.RunCall with the bound options.
func (b *Bound) Run(ctx context.Context, fn func(context.Context) error) error {
	c := b.c
	return b.p.RunCall(ctx, &c, fn)
}

// DoBound is DoCall with the options bound in b.
func DoBound[T any](ctx context.Context, b *Bound, fn func(context.Context) (T, error)) (T, error) {
	c := b.c
	return DoCall(ctx, b.p, &c, fn)
}
