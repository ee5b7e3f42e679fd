package core

import (
	"errors"
	"reflect"
	"strconv"
	"time"
)

// ConfigError is returned by constructors for an invalid configuration. Field
// names the offending field as a user wrote it ("Retry.MaxAttempts").
type ConfigError struct {
	// Field is the offending field, as a user wrote it.
	Field string
	// Reason says what is wrong with its value ("must not be negative").
	Reason string
}

// Error implements error.
func (e *ConfigError) Error() string {
	return "redress: invalid config: " + e.Field + " " + e.Reason
}

func cfgErr(field, reason string) error { return &ConfigError{Field: field, Reason: reason} }

// isNil reports whether v, an interface value that is not nil itself, holds
// a nil pointer, function or channel (a typed nil, such as
// StrategyFunc(nil) or a nil *FakeClock): calling it would panic later.
func isNil(v any) bool {
	if v == nil {
		return true
	}
	switch r := reflect.ValueOf(v); r.Kind() {
	case reflect.Pointer, reflect.Func, reflect.Chan, reflect.UnsafePointer:
		return r.IsNil()
	}
	return false
}

// StopReason says why a call stopped without success. The zero value,
// StopNone, means it succeeded.
type StopReason uint8

// The stop reasons.
const (
	StopNone StopReason = iota
	// StopMaxAttempts: the global attempt cap was reached.
	StopMaxAttempts
	// StopMaxAttemptsPerClass: the cap for the failure's class was reached.
	StopMaxAttemptsPerClass
	// StopDeadline: the call's overall deadline passed, or the next delay
	// would have passed it.
	StopDeadline
	// StopMaxUnknownAttempts: the cap on unknown-class failures was reached.
	StopMaxUnknownAttempts
	// StopNonRetryableClass: the failure's class is never retried (auth,
	// permission, permanent).
	StopNonRetryableClass
	// StopNoStrategy: no backoff strategy is configured for the class.
	StopNoStrategy
	// StopBudgetExhausted: the retry budget denied the retry.
	StopBudgetExhausted
	// StopScheduled: the sleep handler deferred the retry; Outcome.NextDelay
	// says when to run it.
	StopScheduled
	// StopAborted: an AbortIf predicate, the sleep handler or an Abort error
	// stopped the call.
	StopAborted
	// StopCanceled: the caller's context was cancelled or passed its deadline.
	StopCanceled
	// StopCircuitOpen: the circuit breaker refused the attempt.
	StopCircuitOpen
	// StopNotResendable: the failure would have been retried, but the
	// operation is not safe to send again (a non-idempotent request, a
	// stream or transaction already under way): see NotResendable. Every
	// wrapper stops with it for that reason.
	StopNotResendable
	// StopCallerRetries: the failure would have been retried, but the
	// request being served comes from a caller that retries it itself
	// (WithCallerRetries): one layer retries, not every layer. See
	// RetryConfig.RetryUnderRetryingCaller.
	StopCallerRetries
	// StopHeld: the attempt was not sent because the downstream asked
	// callers to wait (a Retry-After or pushback hint) and the wait has not
	// elapsed: the call's breaker is held (Breaker.Hold). The error is a
	// *HeldError carrying the remaining wait.
	StopHeld
	// StopThrottled: the policy's Throttler, or the breaker's
	// (BreakerConfig.Throttle), rejected the attempt locally
	// (client-side adaptive throttling: the downstream accepts too few of
	// the recent requests). The error is a *ThrottledError.
	StopThrottled
	// StopLimited: the policy's Limiter (PolicyConfig.Limiter) refused
	// the attempt: the rate it enforces is spent for now. The error is a
	// *LimitedError.
	StopLimited
	// StopConcurrencyLimited: the policy's ConcurrencyLimiter (a bulkhead
	// or an adaptive limiter, PolicyConfig.Concurrency) had no slot for the
	// attempt within its queue wait. The error is a
	// *ConcurrencyLimitedError.
	StopConcurrencyLimited

	numStopReasons = int(StopConcurrencyLimited) + 1
)

var stopNames = [numStopReasons]string{
	StopNone:                "none",
	StopMaxAttempts:         "max_attempts",
	StopMaxAttemptsPerClass: "max_attempts_per_class",
	StopDeadline:            "deadline",
	StopMaxUnknownAttempts:  "max_unknown_attempts",
	StopNonRetryableClass:   "non_retryable_class",
	StopNoStrategy:          "no_strategy",
	StopBudgetExhausted:     "budget_exhausted",
	StopScheduled:           "scheduled",
	StopAborted:             "aborted",
	StopCanceled:            "canceled",
	StopCircuitOpen:         "circuit_open",
	StopNotResendable:       "not_resendable",
	StopCallerRetries:       "caller_retries",
	StopHeld:                "held",
	StopThrottled:           "throttled",
	StopLimited:             "limited",
	StopConcurrencyLimited:  "concurrency_limited",
}

// String returns the stable snake_case name used in telemetry.
func (r StopReason) String() string {
	if int(r) < numStopReasons {
		return stopNames[r]
	}
	return "invalid"
}

// StopReasons returns every stop reason but StopNone.
func StopReasons() []StopReason {
	out := make([]StopReason, 0, numStopReasons-1)
	for i := 1; i < numStopReasons; i++ {
		out = append(out, StopReason(i))
	}
	return out
}

// RetryError is the error a policy returns when a call stops without success
// (other than a breaker rejection before any attempt, which is a
// *CircuitOpenError). It wraps the last failure: errors.Is and errors.As
// reach it, and, when the caller's context stopped the call, the context's
// error too.
type RetryError struct {
	// Reason is why the call stopped.
	Reason StopReason
	// Class is the class of the last failure.
	Class Class
	// Attempts is the number of attempts made.
	Attempts int
	// Err is the last failure (nil if no attempt failed, for example when the
	// caller cancelled before the first attempt).
	Err error
	// LastResult is the last value a result classifier rejected, if any.
	LastResult any
	// NextDelay is the delay the sleep handler deferred (StopScheduled).
	NextDelay time.Duration

	cause error // the caller's context error, or a *CircuitOpenError
}

// Error implements error.
func (e *RetryError) Error() string {
	s := "redress: stopped (" + e.Reason.String() + ") after " + strconv.Itoa(e.Attempts) + " attempt"
	if e.Attempts != 1 {
		s += "s"
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	} else if e.cause != nil {
		s += ": " + e.cause.Error()
	}
	return s
}

// Unwrap returns the last failure and the stop's cause (the caller's context
// error or the breaker's rejection), whichever exist.
func (e *RetryError) Unwrap() []error {
	switch {
	case e.Err != nil && e.cause != nil:
		return []error{e.Err, e.cause}
	case e.Err != nil:
		return []error{e.Err}
	case e.cause != nil:
		return []error{e.cause}
	}
	return nil
}

// Is makes errors.Is(err, StopX) true when the call stopped for reason StopX.
func (e *RetryError) Is(target error) bool {
	if r, ok := target.(stopTarget); ok {
		return StopReason(r) == e.Reason
	}
	return false
}

// stopTarget lets errors.Is match stop reasons: errors.Is(err, ErrStop(StopDeadline)).
type stopTarget StopReason

func (s stopTarget) Error() string { return "redress: " + StopReason(s).String() }

// ErrStop returns an error that errors.Is matches against any error from a
// call that stopped for reason r:
//
//	if errors.Is(err, core.ErrStop(core.StopBudgetExhausted)) { ... }
func ErrStop(r StopReason) error { return stopTarget(r) }

// StopReasonOf returns the reason a call stopped, from the error it
// returned. ok is false when err did not come from a policy.
func StopReasonOf(err error) (r StopReason, ok bool) {
	var re *RetryError
	if errors.As(err, &re) {
		return re.Reason, true
	}
	var co *CircuitOpenError
	if errors.As(err, &co) {
		return StopCircuitOpen, true
	}
	var he *HeldError
	if errors.As(err, &he) {
		return StopHeld, true
	}
	var te *ThrottledError
	if errors.As(err, &te) {
		return StopThrottled, true
	}
	var le *LimitedError
	if errors.As(err, &le) {
		return StopLimited, true
	}
	var cle *ConcurrencyLimitedError
	if errors.As(err, &cle) {
		return StopConcurrencyLimited, true
	}
	return StopNone, false
}

// rejectionReason is the stop reason of a local rejection's error, one of
// the breaker's and throttlers' own (a type switch: the rejection path of
// an open breaker is hot, and StopReasonOf's errors.As allocates).
func rejectionReason(err error) StopReason {
	switch err.(type) {
	case *HeldError:
		return StopHeld
	case *ThrottledError:
		return StopThrottled
	case *LimitedError:
		return StopLimited
	}
	return StopCircuitOpen
}

// ErrThrottled matches (errors.Is) every local rejection by a Throttler.
var ErrThrottled = errors.New("redress: throttled")

// ThrottledError is the typed error of an attempt a Throttler rejected
// locally; the request never reached the downstream. It is a rate limit
// (Classified: ClassRateLimit, reason "throttled").
type ThrottledError struct {
	// Throttler is the name of the throttler that rejected.
	Throttler string
	// Probability is the rejection probability when it rejected.
	Probability float64
}

// Error implements error.
func (e *ThrottledError) Error() string {
	return "redress: throttler " + strconv.Quote(e.Throttler) + " rejected the request locally (p=" + strconv.FormatFloat(e.Probability, 'f', 2, 64) + ")"
}

// Is matches ErrThrottled.
func (e *ThrottledError) Is(target error) bool { return target == ErrThrottled }

// RedressClassification implements Classified.
func (e *ThrottledError) RedressClassification() Classification {
	return Classification{Class: ClassRateLimit, Reason: "throttled"}
}

// ErrLimited matches (errors.Is) every refusal by a Limiter.
var ErrLimited = errors.New("redress: rate limited locally")

// LimitedError is the typed error of an attempt a Limiter refused; the
// request never reached the downstream. It is a rate limit (Classified:
// ClassRateLimit, reason "limited", RetryIn as its RetryAfter hint when
// known).
type LimitedError struct {
	// Limiter is the name of the limiter that refused.
	Limiter string
	// RetryIn is when the limiter would admit the next attempt, 0 if it
	// does not know.
	RetryIn time.Duration
}

// Error implements error.
func (e *LimitedError) Error() string {
	s := "redress: limiter " + strconv.Quote(e.Limiter) + " refused the request locally"
	if e.RetryIn > 0 {
		s += " (next in " + e.RetryIn.String() + ")"
	}
	return s
}

// Is matches ErrLimited.
func (e *LimitedError) Is(target error) bool { return target == ErrLimited }

// RedressClassification implements Classified.
func (e *LimitedError) RedressClassification() Classification {
	return Classification{Class: ClassRateLimit, Reason: "limited", RetryAfter: e.RetryIn, HasRetryAfter: e.RetryIn > 0}
}

// ErrHeld matches (errors.Is) every refusal of a breaker held by a
// downstream's Retry-After or pushback hint.
var ErrHeld = errors.New("redress: the downstream asked to wait")

// HeldError is the typed error of an attempt refused because its breaker
// is held (Breaker.Hold): the downstream asked callers to wait, and the
// wait has not elapsed. The request never reached the downstream. It is a
// rate limit (Classified: ClassRateLimit, reason "held", the remaining
// wait as its RetryAfter hint).
type HeldError struct {
	// Breaker is the name of the held breaker.
	Breaker string
	// RetryIn is the wait that remains.
	RetryIn time.Duration
}

// Error implements error.
func (e *HeldError) Error() string {
	s := "redress: the downstream"
	if e.Breaker != "" {
		s += " " + strconv.Quote(e.Breaker)
	}
	return s + " asked to wait " + e.RetryIn.String() + " more"
}

// Is matches ErrHeld.
func (e *HeldError) Is(target error) bool { return target == ErrHeld }

// RedressClassification implements Classified.
func (e *HeldError) RedressClassification() Classification {
	return Classification{Class: ClassRateLimit, Reason: "held", RetryAfter: e.RetryIn, HasRetryAfter: true}
}

// ErrCircuitOpen matches (errors.Is) every rejection by a circuit breaker.
var ErrCircuitOpen = errors.New("redress: circuit breaker is open")

// CircuitOpenError is the typed error of a breaker rejection. The call never
// reached the downstream.
type CircuitOpenError struct {
	// Breaker is the name of the breaker that refused.
	Breaker string
	// State is the breaker's state when it refused (open, or half-open with
	// every probe slot taken).
	State BreakerState
	// RetryIn is the time until the breaker lets a probe through (0 if
	// unknown or half-open).
	RetryIn time.Duration
}

// Error implements error.
func (e *CircuitOpenError) Error() string {
	s := "redress: circuit breaker"
	if e.Breaker != "" {
		s += " " + strconv.Quote(e.Breaker)
	}
	return s + " is " + e.State.String()
}

// Is matches ErrCircuitOpen.
func (e *CircuitOpenError) Is(target error) bool { return target == ErrCircuitOpen }

// abortError marks an error that stops the call at once.
type abortError struct{ err error }

func (e *abortError) Error() string {
	if e.err == nil {
		return "redress: aborted"
	}
	return e.err.Error()
}
func (e *abortError) Unwrap() error { return e.err }

// Abort wraps err so that returning it from an operation stops the call at
// once with StopAborted (cooperative shutdown). Abort(nil) still aborts.
func Abort(err error) error { return &abortError{err: err} }

// IsAbort reports whether err was made by Abort.
func IsAbort(err error) bool {
	_, ok := errors.AsType[*abortError](err)
	return ok
}
