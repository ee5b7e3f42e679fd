package telemetry

import (
	"context"

	"github.com/redress-go/redress/core"
)

// Recorder is what a metrics subscriber does with the classes of events
// Record sorts them into; en is the entry of the event's (policy,
// operation) and ei its error.type slot (ErrIndex). The arguments are
// values, not the event, so that calling through the interface lets
// nothing escape: a recorder that allocates nothing once its label sets
// are resolved keeps Handle allocation-free.
type Recorder[E any] interface {
	// TrackBreaker and TrackBudget are told of a breaker or budget that is
	// not the last one seen in the events of the pair (the state read at
	// collection time).
	TrackBreaker(policy string, b *core.Breaker)
	TrackBudget(policy string, b *core.Budget)
	// Event counts an event (redress.events); WrappedEvent counts one that
	// carries wrapper labels w.
	Event(ctx context.Context, en *Entry[E], k core.EventKind, ei int)
	WrappedEvent(ctx context.Context, en *Entry[E], k core.EventKind, ei int, w Wrapper)
	// Attempt records an attempt_end's duration in seconds
	// (redress.attempt.duration); WrappedAttempt one with wrapper labels.
	Attempt(ctx context.Context, en *Entry[E], ei int, seconds float64)
	WrappedAttempt(ctx context.Context, en *Entry[E], ei int, seconds float64, w Wrapper)
	// Retry counts a retry and records its delay in seconds
	// (redress.retries, redress.retry.delay).
	Retry(ctx context.Context, en *Entry[E], ei int, delay float64)
	// Operation records a terminal event's elapsed seconds
	// (redress.operation.duration).
	Operation(ctx context.Context, en *Entry[E], outcome core.OutcomeKind, stop core.StopReason, ei int, seconds float64)
	// BudgetRejection and BreakerRejection count a call the budget or the
	// breaker named breaker refused (after Operation).
	BudgetRejection(ctx context.Context, en *Entry[E])
	BreakerRejection(ctx context.Context, en *Entry[E], breaker string)
	// Transition counts a breaker's transition to state
	// (redress.circuit_breaker.transitions).
	Transition(ctx context.Context, policy, breaker string, state core.BreakerState)
}

// Rejection is what refused a call, as the rejection counters see it.
type Rejection uint8

// The rejections.
const (
	NotRejected       Rejection = iota
	RejectedByBudget            // redress.budget.rejections
	RejectedByBreaker           // redress.circuit_breaker.rejections
)

// RejectionOf returns what refused the call of a terminal event of kind k,
// NotRejected for any other kind. It is the one list of the rejection
// events the metrics subscribers count.
func RejectionOf(k core.EventKind) Rejection {
	switch k {
	case core.EventBudgetExhausted:
		return RejectedByBudget
	case core.EventCircuitRejected:
		return RejectedByBreaker
	}
	return NotRejected
}

// IsTransition reports whether k is a breaker transition event.
func IsTransition(k core.EventKind) bool {
	return k == core.EventCircuitOpened || k == core.EventCircuitHalfOpen || k == core.EventCircuitClosed
}

// Record updates a metrics subscriber's instruments for e, through r and
// the entries of c: it is the one rule of which event updates which
// instrument. Every event is counted (Event), then
//   - attempt_end records the attempt's duration (Attempt),
//   - retry counts the retry and its delay (Retry),
//   - a terminal event records the operation's duration (Operation) and
//     counts a rejection (see RejectionOf),
//   - a breaker transition is counted (Transition).
//
// The caller has checked that it handles e (Events, Policy).
func Record[E any](ctx context.Context, c *Cache[E], r Recorder[E], e *core.Event) {
	en := c.Get(e.Policy, e.Operation)
	if en.Seen.NewBreaker(e.Breaker) {
		r.TrackBreaker(e.Policy, e.Breaker)
	}
	if en.Seen.NewBudget(e.Budget) {
		r.TrackBudget(e.Policy, e.Budget)
	}
	ei := ErrIndex(e)
	wrapped := HasWrapper(&e.Labels)
	var w Wrapper
	if wrapped {
		w = WrapperOf(&e.Labels)
		r.WrappedEvent(ctx, en, e.Kind, ei, w)
	} else {
		r.Event(ctx, en, e.Kind, ei)
	}
	switch {
	case e.Kind == core.EventAttemptEnd:
		if wrapped {
			r.WrappedAttempt(ctx, en, ei, e.AttemptDuration.Seconds(), w)
		} else {
			r.Attempt(ctx, en, ei, e.AttemptDuration.Seconds())
		}
	case e.Kind == core.EventRetry:
		r.Retry(ctx, en, ei, e.Sleep.Seconds())
	case e.Kind.Terminal():
		r.Operation(ctx, en, e.Outcome, e.StopReason, ei, e.Elapsed.Seconds())
		switch RejectionOf(e.Kind) {
		case RejectedByBudget:
			r.BudgetRejection(ctx, en)
		case RejectedByBreaker:
			r.BreakerRejection(ctx, en, BreakerName(e))
		}
	case IsTransition(e.Kind):
		r.Transition(ctx, e.Policy, BreakerName(e), e.BreakerState)
	}
}
