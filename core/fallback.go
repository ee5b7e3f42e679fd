package core

import (
	"context"
	"fmt"
)

// Fallback supplies a call's result when its policy gives up
// (PolicyConfig.Fallback): it is called once, after the last attempt or
// the rejection that ended the call, with why the policy gave up. The
// value it returns with a nil error becomes the call's result: Do and
// Execute return it (it must be of the call's type T, or nil for T's zero
// value), Run returns nil, the HTTP transport returns it as the response
// (an *http.Response). An error it returns becomes the call's error: to
// decline, return info.Err.
//
// It is not called when the call succeeded, when the caller's context
// ended (StopCanceled: nobody waits for the result), or when a
// SleepHandler deferred the retry (StopScheduled: the caller runs the call
// again). It runs on the caller's goroutine with the call's context.
type Fallback func(ctx context.Context, info FallbackInfo) (any, error)

// FallbackInfo says why a policy gave up, for its Fallback.
type FallbackInfo struct {
	// Policy is the policy's name; Operation the call's operation label.
	Policy, Operation string
	// StopReason is why the policy gave up.
	StopReason StopReason
	// Err is the error the call would have returned: a *RetryError, or
	// the typed rejection (*CircuitOpenError, *LimitedError, ...) when no
	// attempt was made.
	Err error
	// Attempts is the number of attempts made (0: rejected before any).
	Attempts int
	// Class is the class of the last failure (ClassUnknown if none).
	Class Class
}

// FallbackValue is the Fallback that always supplies v.
func FallbackValue(v any) Fallback {
	return func(context.Context, FallbackInfo) (any, error) { return v, nil }
}

// fallsBack reports whether a call that stopped with r goes to the
// policy's Fallback.
func (r StopReason) fallsBack() bool {
	return r != StopNone && r != StopCanceled && r != StopScheduled
}

// fallback runs the policy's Fallback for a call that stopped with r after
// attempts attempts with err, and returns the call's error: nil when the
// fallback supplied the result (Step.Fallback then returns it).
func (s *Step) fallback(r StopReason, attempts int, err error) error {
	info := FallbackInfo{
		Policy: s.p.name, Operation: s.call.Operation, StopReason: r,
		Err: err, Attempts: attempts, Class: s.lastCl.Class,
	}
	v, ferr := s.p.fallback(s.opCtx, info)
	if ferr != nil {
		return ferr
	}
	s.fbVal, s.fbUsed, s.fbCause = v, true, err
	if s.mask.Has(EventFallback) {
		var e Event
		s.event(&e, EventFallback, attempts)
		e.StopReason, e.Err = r, err
		e.Class, e.Reason = s.lastCl.Class, s.lastCl.Reason
		s.p.bus.publish(s.opCtx, &e)
	}
	return nil
}

// Fallback returns the value the policy's Fallback supplied as the call's
// result, and true, once Next has reported false on a call the policy gave
// up and its Fallback rescued (Err is then nil); likewise the result a
// FaultInjector supplied instead of an attempt (FaultRule.Result); else nil
// and false.
func (s *Step) Fallback() (v any, ok bool) { return s.fbVal, s.fbUsed }

// fallbackAs is the fallback's value as a T, for Do and Execute.
func fallbackAs[T any](s *Step) (T, error) {
	var zero T
	if s.fbVal == nil {
		return zero, nil
	}
	v, ok := s.fbVal.(T)
	if !ok {
		return zero, fmt.Errorf("core: policy %q: its Fallback or fault injection supplied a %T, the call returns %T: %w", s.p.name, s.fbVal, zero, s.fbCause)
	}
	return v, nil
}
