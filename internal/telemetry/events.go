package telemetry

import (
	"fmt"

	"github.com/redress-go/redress/core"
)

// NumErrorTypes is the number of error.type slots: none, then one per class.
const NumErrorTypes = 9

// MaxEventKinds bounds the event kinds (an EventSet is a 32-bit mask).
const MaxEventKinds = 32

// ErrIndex returns the error.type slot of e: 0 when the event is not about
// a failure, else 1 + the class. It is the one rule every subscriber
// follows (the Prometheus parity test feeds both metric pipelines the same
// events):
//   - attempt_end: the class of a failed attempt;
//   - retry: the class of the failure being retried;
//   - terminal events with outcome failure and at least one attempt: the
//     class of the last failure;
//   - everything else (success, rejections, breaker transitions): none.
func ErrIndex(e *core.Event) int {
	switch {
	case e.Kind == core.EventAttemptEnd:
		if e.Err == nil {
			return 0
		}
	case e.Kind == core.EventRetry:
	case e.Kind.Terminal():
		if e.Outcome != core.OutcomeFailure || e.Attempt == 0 {
			return 0
		}
	default:
		return 0
	}
	if !e.Class.Valid() {
		return 1
	}
	return 1 + int(e.Class)
}

// ErrorType returns the error.type value of a slot ("" for none).
func ErrorType(i int) string {
	if i == 0 {
		return ""
	}
	return core.Class(i - 1).String()
}

// StopReason returns the redress.stop_reason value of a terminal event: ""
// on success, else the stop reason's name.
func StopReason(e *core.Event) string { return StopReasonOf(e.StopReason) }

// StopReasonOf returns the redress.stop_reason value of r: "" for
// core.StopNone, else r's name.
func StopReasonOf(r core.StopReason) string {
	if r == core.StopNone {
		return ""
	}
	return r.String()
}

// BreakerName returns the name of the event's breaker, or "".
func BreakerName(e *core.Event) string {
	if e.Breaker == nil {
		return ""
	}
	return e.Breaker.Name()
}

// WrapperKey keys a label set that carries wrapper labels: the wrapper
// values and the error.type slot.
type WrapperKey struct {
	W  Wrapper
	EI uint8
}

// WrapperEventKey is WrapperKey with the event kind, for redress.events.
type WrapperEventKey struct {
	W        Wrapper
	Kind, EI uint8
}

// DefaultEvents is the set of events a subscriber handles by default: every
// event but the start markers (operation_start, attempt_start), which carry
// nothing a metric or log record needs. It is defined here once; the
// subscriber packages re-export it.
const DefaultEvents = core.AllEvents &^ (1<<core.EventOperationStart | 1<<core.EventAttemptStart)

// CheckEvents validates a subscriber's Config.Events: a *core.ConfigError
// naming the field when it has bits that are no event kind, else nil. It is
// the one check every subscriber's New runs.
func CheckEvents(set core.EventSet) error {
	if set&^core.AllEvents != 0 {
		return &core.ConfigError{Field: "Config.Events", Reason: fmt.Sprintf("has bits %#x that are no event kind", uint32(set&^core.AllEvents))}
	}
	return nil
}
