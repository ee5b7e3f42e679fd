package redressotel

import (
	"github.com/redress-go/redress/core"
	"github.com/redress-go/redress/internal/telemetry"
)

// nErr is the number of error.type slots: none, then one per class.
const nErr = 9

// maxKinds bounds the event kinds (an EventSet is a 32-bit mask).
const maxKinds = 32

// errIndex returns the error.type slot of e: 0 when the event is not about
// a failure, else 1 + the class. The Prometheus subscriber follows the same
// rule (its parity test feeds both pipelines the same events):
//   - attempt_end: the class of a failed attempt;
//   - retry: the class of the failure being retried;
//   - terminal events with outcome failure and at least one attempt: the
//     class of the last failure;
//   - everything else (success, rejections, breaker transitions): none.
func errIndex(e *core.Event) int {
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

// errorType returns the error.type value of a slot ("" for none).
func errorType(i int) string {
	if i == 0 {
		return ""
	}
	return core.Class(i - 1).String()
}

// breakerName returns the name of the event's breaker, or "".
func breakerName(e *core.Event) string {
	if e.Breaker == nil {
		return ""
	}
	return e.Breaker.Name()
}

// cutQuery drops a query string or fragment from a label that should be a
// route template, in case a raw URL was passed.
func cutQuery(s string) string { return telemetry.CutQuery(s) }
