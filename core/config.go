package core

import (
	"context"
	"time"
)

// RetryConfig is the retry part of a policy: classification, backoff and
// limits. It is a plain value: build it once and reuse it in several
// PolicyConfigs, or embed it in a configuration struct of your own (for
// example one loaded from a file). The zero value is all defaults.
type RetryConfig struct {
	// Classifier maps a failure to its class. Default DefaultClassifier.
	Classifier Classifier
	// Strategy is the backoff for classes with no entry in Strategies.
	// When both Strategy and Strategies are empty the default is
	// DecorrelatedJitter(100ms, 10s). When only Strategies is set, a class
	// with no entry stops with StopNoStrategy.
	Strategy Strategy
	// Strategies sets a backoff per class.
	Strategies map[Class]Strategy
	// MaxAttempts caps the attempts of one call, counting the first.
	// Default 3. 1 means no retry. Must not be negative.
	MaxAttempts int
	// MaxAttemptsPerClass caps, per class, the number of attempts whose
	// failure had that class: with {ClassRateLimit: 2} the call stops after
	// the second rate-limit failure. 1 (or 0) means no retry after a failure
	// of that class. A class with no entry has no cap of its own.
	MaxAttemptsPerClass map[Class]int
	// MaxUnknownAttempts caps the attempts that failed with ClassUnknown.
	// Zero: no cap of its own (MaxAttempts applies).
	MaxUnknownAttempts int
	// ResultClassifier, if set, inspects the value of an attempt that
	// returned no error; a non-nil error it returns makes the attempt a
	// failure (classified by Classifier), and a call that gives up returns a
	// *RetryError whose LastResult holds the value.
	ResultClassifier func(result any) error
	// AbortIf is checked before each attempt and before each sleep; when it
	// reports true the call stops with StopAborted (cooperative shutdown).
	AbortIf func() bool
	// RetryUnderRetryingCaller makes the policy retry even while serving a
	// request whose caller retries it itself (WithCallerRetries, set by
	// the redresshttp and redressgrpc server middleware from the caller's
	// attempt marker). Default false: such a call stops after a failure
	// that would have been retried, with StopCallerRetries, so that a
	// chain of services retries at one layer instead of multiplying the
	// attempts at every hop.
	RetryUnderRetryingCaller bool
	// HoldWait is the longest hold a call waits out instead of failing
	// fast: when its breaker is held (the downstream asked callers to wait:
	// Retry-After, gRPC pushback) for at most HoldWait, and the wait ends
	// before the policy's Timeout.Call and the caller's context deadline, the
	// call sleeps (on the Sleeper) until the hold ends, then goes on; a
	// retry whose backoff is shorter than the hold sleeps the hold instead.
	// Zero (the default): a held call fails fast with a *HeldError carrying
	// the remaining wait, so that callers who cannot wait are not tied up.
	// Must not be negative.
	HoldWait time.Duration
	// SleepHandler, if set, decides what to do instead of sleeping: sleep,
	// defer (stop with StopScheduled and the delay in Outcome.NextDelay, for
	// job queues) or abort.
	SleepHandler func(ctx context.Context, s SleepInfo) SleepAction
	// BeforeSleep, if set, is called just before each sleep.
	BeforeSleep func(ctx context.Context, s SleepInfo)
	// OnAttempt, if set, is called after each attempt with the decision taken.
	OnAttempt func(a AttemptInfo)
}

// PolicyConfig configures NewPolicy. The zero value is a retry-only policy
// with all defaults.
type PolicyConfig struct {
	// Name labels the policy in events and telemetry (redress.policy).
	// Default "default".
	Name string
	// Operation is the default operation label (redress.operation) of calls
	// that name none. Default: Name.
	Operation string
	// Timeout bounds the call and each of its attempts in time.
	Timeout TimeoutConfig
	// Retry holds the retry settings.
	Retry RetryConfig
	// Breaker, if set, guards every attempt. It may be shared.
	Breaker *Breaker
	// Throttler, if set, rejects attempts locally while the downstream
	// accepts too few of the recent requests (client-side adaptive
	// throttling): such an attempt is not made, and the call stops with
	// StopThrottled and a *ThrottledError. Policies sharing a downstream
	// should share its Throttler; a breaker can carry one per downstream
	// instead (BreakerConfig.Throttle, set by DownstreamBreakerConfig).
	Throttler *Throttler
	// Limiter, if set, admits every attempt against a rate (a RateLimiter,
	// or the shared GCRA limiter of contrib/redis): an attempt it refuses
	// is not made, and the call stops with StopLimited and a
	// *LimitedError. A RateLimiter with a MaxWait makes the attempt wait
	// for its turn instead (EventRateLimitWait). It is consulted after the
	// Throttler, before the concurrency limiter and the breaker.
	Limiter Limiter
	// Concurrency, if set, bounds the attempts in flight at once (a
	// Bulkhead, an AdaptiveLimiter, or your own ConcurrencyLimiter): an
	// attempt it has no slot for is not made, and the call stops with
	// StopConcurrencyLimited and a *ConcurrencyLimitedError. It is
	// consulted after the Limiter, before the breaker; the slot is given
	// back when the attempt ends (at once if the breaker then refuses).
	// Share one between policies to bound their sum.
	Concurrency ConcurrencyLimiter
	// Faults, if set, injects faults into the attempts (chaos testing):
	// latency, an error of a class, or a result, at a rate, per operation.
	// It is off until its Enable; see FaultInjector.
	Faults *FaultInjector
	// Budget, if set, must grant every retry. It may be shared.
	Budget *Budget
	// Fallback, if set, supplies the result of a call the policy gives up
	// on (see Fallback): the outermost component, it sees the call's
	// final error and stop reason. It publishes EventFallback just before
	// the call's terminal event, which still reports the downstream's
	// outcome.
	Fallback Fallback
	// Hedge, if set, hedges every attempt (see Hedger): after its delay
	// with no answer, a copy of the attempt is sent beside it, up to
	// MaxHedges; the first acceptable answer is taken. The innermost
	// component: the group is one attempt for the breaker and the retry
	// loop; each hedge needs a token of the Budget, when there is one. Set
	// it only for operations safe to send more than once.
	Hedge *Hedger
	// Bus receives the policy's events. Nil: no events, no cost.
	Bus *Bus
	// Clock tells the time. Default SystemClock.
	Clock Clock
	// Sleeper waits between attempts. Default TimerSleeper.
	Sleeper Sleeper
}

// TimeoutConfig bounds a call in time: the whole call (Call) and each of
// its attempts (Attempt). Both are carried by the contexts the attempts
// run on; the caller's own context deadline applies too, whichever ends
// first. The zero value bounds nothing.
type TimeoutConfig struct {
	// Call bounds the whole call from its start, sleeps included: no
	// attempt starts and no sleep begins that would pass it (the call
	// stops with StopDeadline), and each attempt's context ends with it.
	// Zero: none (the caller's context may still have one).
	Call time.Duration
	// Attempt bounds each attempt with a context deadline, cut to what
	// remains of Call. The attempt runs on the caller's goroutine and is
	// never abandoned: the operation must honour its context. A timed-out
	// attempt fails with the context's error, classified transient and
	// retried like any other. Zero: none.
	Attempt time.Duration
}

func (t *TimeoutConfig) validate() error {
	if t.Call < 0 {
		return cfgErr("Timeout.Call", "must not be negative")
	}
	if t.Attempt < 0 {
		return cfgErr("Timeout.Attempt", "must not be negative")
	}
	if t.Call > 0 && t.Attempt > t.Call {
		return cfgErr("Timeout.Call", "must not be shorter than Timeout.Attempt")
	}
	return nil
}

// SleepAction is what a SleepHandler decides.
type SleepAction uint8

// The sleep actions.
const (
	// SleepNow sleeps for the delay and retries.
	SleepNow SleepAction = iota
	// SleepDefer stops the call with StopScheduled; the caller re-runs it
	// after Outcome.NextDelay.
	SleepDefer
	// SleepAbort stops the call with StopAborted.
	SleepAbort
)

// SleepInfo describes a pending sleep.
type SleepInfo struct {
	// Policy is the policy's name.
	Policy string
	// Operation is the call's operation label.
	Operation string
	// Attempt is the number of the attempt that just failed (1 for the
	// first).
	Attempt int
	// Classification is that attempt's failure, classified.
	Classification Classification
	// Delay is the backoff chosen before the next attempt.
	Delay time.Duration
	// Err is that attempt's error.
	Err error
}

// AttemptDecision is what the policy decided after an attempt.
type AttemptDecision uint8

// The attempt decisions.
const (
	DecisionSuccess AttemptDecision = iota
	DecisionRetry
	DecisionRaise
	DecisionScheduled
	DecisionAborted
)

// String returns "success", "retry", "raise", "scheduled" or "aborted".
func (d AttemptDecision) String() string {
	switch d {
	case DecisionSuccess:
		return "success"
	case DecisionRetry:
		return "retry"
	case DecisionRaise:
		return "raise"
	case DecisionScheduled:
		return "scheduled"
	case DecisionAborted:
		return "aborted"
	}
	return "invalid"
}

// AttemptInfo describes a finished attempt and the decision taken.
type AttemptInfo struct {
	// Policy is the policy's name.
	Policy string
	// Operation is the call's operation label.
	Operation string
	// Attempt is the attempt's number (1 for the first).
	Attempt int
	// Err is the attempt's error (nil when it succeeded).
	Err error
	// Classification is the failure's class, reason and hint (zero on
	// success).
	Classification Classification
	// Decision is what the policy does next: succeed, retry, raise or
	// schedule.
	Decision AttemptDecision
	// StopReason is set when the decision ends the call with a failure.
	StopReason StopReason
	// Sleep is the delay before the next attempt (DecisionRetry) or the
	// deferred delay (DecisionScheduled).
	Sleep time.Duration
	// Duration is the attempt's duration, when the policy measured it.
	Duration time.Duration
}

// Call holds the per-call options as one value: what Begin of a Step
// takes, and what the Options of Do, Run and Execute set field by field.
// The engine copies it and never writes to it, so one Call may serve many
// concurrent calls (a Timeline in it records every call that uses it,
// though: give each call its own).
type Call struct {
	// Operation is the operation label; default the policy's.
	Operation string
	// Labels are the wrapper's labels (Step.SetStatusCode and
	// SetRPCStatusCode update the running call's copy).
	Labels Labels
	// Timeline, if set, receives a record of every attempt.
	Timeline *Timeline
	// OnAttempt, if set, is called after each attempt, after the policy's.
	OnAttempt func(a AttemptInfo)
	// MaxAttempts, if positive, lowers the policy's MaxAttempts for this
	// call: 1 runs the operation once, still guarded by the breaker and
	// published on the bus.
	MaxAttempts int
	// Breaker, if set, replaces the policy's breaker for this call (a
	// wrapper's per-host or per-target breaker).
	Breaker *Breaker
}

// Option is one per-call option of Do, Run and Execute: each sets one
// field of the call's Call. Options are values (building one allocates
// nothing, except WithLabels), applied in order.
type Option struct {
	kind optionKind
	n    int
	s    string
	v    any
}

type optionKind uint8

const (
	optNone optionKind = iota
	optOperation
	optLabels
	optTimeline
	optOnAttempt
	optMaxAttempts
	optBreaker
)

// WithOperation sets the call's operation label (Call.Operation).
func WithOperation(name string) Option { return Option{kind: optOperation, s: name} }

// WithLabels sets the call's wrapper labels (Call.Labels).
func WithLabels(l Labels) Option { return Option{kind: optLabels, v: l} }

// WithTimeline makes the call record every attempt in tl (Call.Timeline);
// Execute returns it in Outcome.Timeline. A nil tl records nothing.
func WithTimeline(tl *Timeline) Option { return Option{kind: optTimeline, v: tl} }

// WithOnAttempt sets a hook called after each attempt, after the
// policy's (Call.OnAttempt).
func WithOnAttempt(fn func(AttemptInfo)) Option { return Option{kind: optOnAttempt, v: fn} }

// WithMaxAttempts lowers the policy's MaxAttempts for the call
// (Call.MaxAttempts); n ≤ 0 keeps the policy's.
func WithMaxAttempts(n int) Option { return Option{kind: optMaxAttempts, n: n} }

// WithBreaker makes br guard the call instead of the policy's breaker
// (Call.Breaker); nil keeps the policy's.
func WithBreaker(br *Breaker) Option { return Option{kind: optBreaker, v: br} }

// applyOptions sets the fields of c that opts name.
func applyOptions(c *Call, opts []Option) {
	for i := range opts {
		o := &opts[i]
		switch o.kind {
		case optOperation:
			c.Operation = o.s
		case optLabels:
			c.Labels, _ = o.v.(Labels)
		case optTimeline:
			c.Timeline, _ = o.v.(*Timeline)
		case optOnAttempt:
			c.OnAttempt, _ = o.v.(func(AttemptInfo))
		case optMaxAttempts:
			c.MaxAttempts = o.n
		case optBreaker:
			c.Breaker, _ = o.v.(*Breaker)
		}
	}
}

// Timeline collects a record of every attempt of one call. It is not safe
// for concurrent use; give each call its own.
type Timeline struct {
	// Attempts holds one record per attempt, in order.
	Attempts []AttemptRecord
}

// AttemptRecord is one attempt in a Timeline.
type AttemptRecord struct {
	// Attempt is the attempt's number (1 for the first).
	Attempt int
	// Classification is the failure's class, reason and hint (zero on
	// success).
	Classification Classification
	// Err is the attempt's error (nil when it succeeded).
	Err error
	// Decision is what the policy did after the attempt.
	Decision AttemptDecision
	// StopReason is why the call stopped, when the attempt was its last
	// and failed (StopNone otherwise).
	StopReason StopReason
	// Sleep is the backoff before the next attempt (Decision retry) or
	// the deferred delay (Decision scheduled).
	Sleep time.Duration
	// Duration is how long the attempt took.
	Duration time.Duration
}

func (r *RetryConfig) validate() error {
	if r.MaxAttempts < 0 {
		return cfgErr("Retry.MaxAttempts", "must not be negative")
	}
	if r.MaxUnknownAttempts < 0 {
		return cfgErr("Retry.MaxUnknownAttempts", "must not be negative")
	}
	if r.HoldWait < 0 {
		return cfgErr("Retry.HoldWait", "must not be negative")
	}
	for c, n := range r.MaxAttemptsPerClass {
		if !c.Valid() {
			return cfgErr("Retry.MaxAttemptsPerClass", "has an invalid class")
		}
		if n < 0 {
			return cfgErr("Retry.MaxAttemptsPerClass["+c.String()+"]", "must not be negative")
		}
	}
	if r.Strategy != nil {
		if isNil(r.Strategy) {
			return cfgErr("Retry.Strategy", "holds a nil function or pointer (leave it nil for the default)")
		}
		if err := validateStrategy(r.Strategy); err != nil {
			return wrapField("Retry.Strategy", err)
		}
	}
	for c, s := range r.Strategies {
		if !c.Valid() {
			return cfgErr("Retry.Strategies", "has an invalid class")
		}
		if s == nil || isNil(s) {
			return cfgErr("Retry.Strategies["+c.String()+"]", "must not be nil")
		}
		if err := validateStrategy(s); err != nil {
			return wrapField("Retry.Strategies["+c.String()+"]", err)
		}
	}
	return nil
}

// Validate reports whether the retry settings are valid, as NewPolicy would.
func (r RetryConfig) Validate() error { return r.validate() }

func wrapField(field string, err error) error {
	if ce, ok := err.(*ConfigError); ok {
		return &ConfigError{Field: field + " (" + ce.Field + ")", Reason: ce.Reason}
	}
	return &ConfigError{Field: field, Reason: err.Error()}
}
