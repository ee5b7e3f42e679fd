package core

import (
	"time"
)

// EventKind names a lifecycle event. Its String form is the stable
// vocabulary shared by every subscriber, dashboard and doc.
type EventKind uint8

// The events. Terminal events (one per operation) are Success through
// CircuitRejected; every operation publishes exactly one of them. Five of
// them end a call that a local guard refused before an attempt was sent:
// Throttled (a Throttler's adaptive rejection), Limited (a Limiter's rate
// is spent), ConcurrencyLimited (a ConcurrencyLimiter has no slot), Held
// (the downstream asked to wait: Retry-After, gRPC pushback) and
// CircuitRejected (an open or ramping breaker).
const (
	EventOperationStart EventKind = iota
	EventAttemptStart
	EventAttemptEnd
	EventRetry
	EventSuccess
	EventPermanentFail
	EventDeadlineExceeded
	EventMaxAttemptsExceeded
	EventMaxUnknownAttemptsExceeded
	EventNoStrategyConfigured
	EventBudgetExhausted
	EventScheduled
	EventAborted
	EventCanceled
	EventThrottled
	EventLimited
	EventConcurrencyLimited
	EventHeld
	EventCircuitRejected
	EventCircuitOpened
	EventCircuitHalfOpen
	EventCircuitClosed
	// EventSharedStateDegraded and EventSharedStateRestored are published by
	// a store of fleet-wide state (contrib/redis) when its backend stops
	// answering within its timeout, and when it answers again: while
	// degraded, the components that share state through it decide on local
	// state alone. Operation names the store; no other call field is set.
	EventSharedStateDegraded
	EventSharedStateRestored
	// EventRateLimitWait: the call waited for its rate limiter before an
	// attempt (a RateLimiter in wait mode); Sleep is the wait.
	EventRateLimitWait
	// EventHedge: a hedged attempt was sent beside the attempt still
	// running (PolicyConfig.Hedge); Attempt is the attempt it hedges, Hedge
	// its number (1 for the first hedge).
	EventHedge
	// EventHedgeWon: a hedge's result was taken and the others cancelled;
	// Hedge is its number.
	EventHedgeWon
	// EventFallback: the policy gave up and its fallback supplies the
	// call's result (PolicyConfig.Fallback); StopReason and Err are why it
	// gave up. It comes just before the call's terminal event.
	EventFallback
	// EventFaultInjected: a FaultInjector injected a fault into an attempt;
	// Reason is the fault ("latency", "error", "result"), Sleep the latency
	// added, Class the class of an injected error.
	EventFaultInjected

	numEventKinds = int(EventFaultInjected) + 1
)

var eventNames = [numEventKinds]string{
	EventOperationStart:             "operation_start",
	EventAttemptStart:               "attempt_start",
	EventAttemptEnd:                 "attempt_end",
	EventRetry:                      "retry",
	EventSuccess:                    "success",
	EventPermanentFail:              "permanent_fail",
	EventDeadlineExceeded:           "deadline_exceeded",
	EventMaxAttemptsExceeded:        "max_attempts_exceeded",
	EventMaxUnknownAttemptsExceeded: "max_unknown_attempts_exceeded",
	EventNoStrategyConfigured:       "no_strategy_configured",
	EventBudgetExhausted:            "budget_exhausted",
	EventScheduled:                  "scheduled",
	EventAborted:                    "aborted",
	EventCanceled:                   "canceled",
	EventThrottled:                  "throttled",
	EventLimited:                    "limited",
	EventConcurrencyLimited:         "concurrency_limited",
	EventHeld:                       "held",
	EventCircuitRejected:            "circuit_rejected",
	EventCircuitOpened:              "circuit_opened",
	EventCircuitHalfOpen:            "circuit_half_open",
	EventCircuitClosed:              "circuit_closed",
	EventSharedStateDegraded:        "shared_state_degraded",
	EventSharedStateRestored:        "shared_state_restored",
	EventRateLimitWait:              "rate_limit_wait",
	EventHedge:                      "hedge",
	EventHedgeWon:                   "hedge_won",
	EventFallback:                   "fallback",
	EventFaultInjected:              "fault_injected",
}

// String returns the event's stable name ("retry", "circuit_opened", ...).
func (k EventKind) String() string {
	if int(k) < numEventKinds {
		return eventNames[k]
	}
	return "invalid"
}

// Terminal reports whether the event ends an operation.
func (k EventKind) Terminal() bool {
	return k >= EventSuccess && k <= EventCircuitRejected
}

// EventKinds returns every event kind in declaration order.
func EventKinds() []EventKind {
	out := make([]EventKind, numEventKinds)
	for i := range out {
		out[i] = EventKind(i)
	}
	return out
}

// ParseEventKind returns the kind with the given String name.
func ParseEventKind(s string) (EventKind, bool) {
	for i, n := range eventNames {
		if n == s {
			return EventKind(i), true
		}
	}
	return 0, false
}

// Event returns the terminal event of a call that stopped for r
// (EventSuccess for StopNone).
func (r StopReason) Event() EventKind { return terminalFor(r) }

// rejection reports whether r refuses an attempt locally (a breaker, a
// hold, a throttler), derived from its terminal event.
func (r StopReason) rejection() bool { return terminalFor(r).Rejection() }

// Rejection reports whether k is the terminal event of a call that a local
// guard refused: EventThrottled, EventLimited, EventConcurrencyLimited,
// EventHeld or EventCircuitRejected.
func (k EventKind) Rejection() bool { return k >= EventThrottled && k <= EventCircuitRejected }

// RejectionEvents holds the terminal events of calls refused locally.
const RejectionEvents EventSet = 1<<EventThrottled | 1<<EventLimited | 1<<EventConcurrencyLimited | 1<<EventHeld | 1<<EventCircuitRejected

// terminalFor maps a stop reason to its terminal event.
func terminalFor(r StopReason) EventKind {
	switch r {
	case StopNone:
		return EventSuccess
	case StopMaxAttempts, StopMaxAttemptsPerClass:
		return EventMaxAttemptsExceeded
	case StopDeadline:
		return EventDeadlineExceeded
	case StopMaxUnknownAttempts:
		return EventMaxUnknownAttemptsExceeded
	case StopNonRetryableClass, StopNotResendable, StopCallerRetries:
		return EventPermanentFail
	case StopNoStrategy:
		return EventNoStrategyConfigured
	case StopBudgetExhausted:
		return EventBudgetExhausted
	case StopScheduled:
		return EventScheduled
	case StopAborted:
		return EventAborted
	case StopCanceled:
		return EventCanceled
	case StopThrottled:
		return EventThrottled
	case StopLimited:
		return EventLimited
	case StopConcurrencyLimited:
		return EventConcurrencyLimited
	case StopHeld:
		return EventHeld
	case StopCircuitOpen:
		return EventCircuitRejected
	}
	return EventAborted
}

// EventSet is a set of event kinds, as a bit mask. A subscriber returns the
// set it wants from Events.
type EventSet uint32

// AllEvents holds every event kind.
const AllEvents EventSet = 1<<numEventKinds - 1

// TerminalEvents holds the events that end an operation.
const TerminalEvents EventSet = (1<<(EventCircuitRejected+1) - 1) &^ (1<<EventSuccess - 1)

// CircuitEvents holds the breaker transition events.
const CircuitEvents EventSet = 1<<EventCircuitOpened | 1<<EventCircuitHalfOpen | 1<<EventCircuitClosed

// SharedStateEvents holds the events of a store of fleet-wide state.
const SharedStateEvents EventSet = 1<<EventSharedStateDegraded | 1<<EventSharedStateRestored

// EventsOf returns the set holding the given kinds.
func EventsOf(kinds ...EventKind) EventSet {
	var s EventSet
	for _, k := range kinds {
		s |= 1 << k
	}
	return s
}

// Has reports whether k is in the set.
func (s EventSet) Has(k EventKind) bool { return s&(1<<k) != 0 }

// OutcomeKind is the low-cardinality result of an operation, set on terminal
// events: the `redress.outcome` attribute.
type OutcomeKind uint8

// The outcomes.
const (
	OutcomeNone OutcomeKind = iota // not a terminal event
	OutcomeSuccess
	OutcomeSuccessAfterRetry
	OutcomeFailure
	OutcomeRejected
)

var outcomeNames = [...]string{"", "success", "success_after_retry", "failure", "rejected"}

// String returns "success", "success_after_retry", "failure", "rejected" or "".
func (o OutcomeKind) String() string {
	if int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return "invalid"
}

// Labels are the low-cardinality attributes a wrapper attaches to an
// operation. Every field is optional. They never hold URLs with query
// strings, header values, SQL text or arguments.
type Labels struct {
	// HTTPMethod is the request method (http.request.method).
	HTTPMethod string
	// HTTPRoute is the route template, if known (http.route).
	HTTPRoute string
	// ServerAddress is the downstream host (server.address).
	ServerAddress string
	// ServerPort is the downstream port (server.port), 0 if unknown.
	ServerPort int
	// StatusCode is the HTTP status of the attempt's response, 0 if none.
	StatusCode int
	// DBSystem is the database system (db.system.name): "postgresql", ...
	DBSystem string
	// DBOperation is the statement's summary (db.query.summary): "SELECT users".
	DBOperation string
	// RPCSystem is the RPC system (rpc.system.name): "grpc".
	RPCSystem string
	// RPCMethod is the full RPC method name: "/pkg.Svc/Method" (rpc.method
	// is it without the leading '/').
	RPCMethod string
	// RPCStatusCode is the RPC status code name of the attempt ("UNAVAILABLE").
	RPCStatusCode string
}

// Event is one decision of the engine or the breaker. It is passed by value;
// subscribers may keep it. Fields may be added.
type Event struct {
	// Kind is what happened.
	Kind EventKind
	// Policy is the name of the policy (redress.policy).
	Policy string
	// Operation is the operation label (redress.operation).
	Operation string
	// Attempt is the attempt number, 1 for the first; 0 in operation_start.
	Attempt int
	// Class is the class of the failure (attempt_end, retry, terminal events).
	Class Class
	// Reason is the classification's low-cardinality reason, if any.
	Reason string
	// Err is the failure, if any.
	Err error
	// StopReason is set on terminal events (StopNone for success).
	StopReason StopReason
	// Outcome is set on terminal events.
	Outcome OutcomeKind
	// Sleep is the chosen delay (retry, scheduled).
	Sleep time.Duration
	// Elapsed is the time since the operation started (terminal events,
	// attempt_end, retry). It is measured only when a subscriber that is not
	// DurationFree wants an event that carries it (or the policy needs it).
	Elapsed time.Duration
	// AttemptDuration is the duration of the attempt (attempt_end), measured
	// like Elapsed.
	AttemptDuration time.Duration
	// Breaker is the policy's breaker, or nil. Subscribers may read its
	// state at collection time.
	Breaker *Breaker
	// BreakerState is the breaker's state after the event (after the
	// transition for circuit_* events).
	BreakerState BreakerState
	// PrevBreakerState is the state before a transition (circuit_* events).
	PrevBreakerState BreakerState
	// Budget is the policy's retry budget, or nil.
	Budget *Budget
	// BudgetRemaining is the number of retries the budget still allowed
	// after this decision (retry, hedge and budget_exhausted events with a
	// budget).
	BudgetRemaining float64
	// Hedge is the hedge's number, 1 for the first (hedge, hedge_won).
	Hedge int
	// Labels are the wrapper's labels.
	Labels Labels
}

// Failed reports whether the event is about a failure (an attempt_end with an
// error, or a terminal event other than success).
func (e *Event) Failed() bool { return e.Err != nil || (e.Kind.Terminal() && e.Kind != EventSuccess) }
