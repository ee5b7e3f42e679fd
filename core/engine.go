package core

import (
	"context"
	"time"
)

// DeadlineSlack is how close to the caller's deadline a failed attempt
// must end to be the caller's failure rather than the downstream's: when
// an attempt fails and the caller's context has a deadline that has passed
// or is at most DeadlineSlack away, the engine treats the failure as the
// end of the caller's time, whatever the error says. The breaker does not
// count it, it is not retried, and the call stops with StopCanceled and
// context.DeadlineExceeded, exactly as when the context's timer has fired.
//
// The slack exists because a failure caused by the caller's deadline often
// arrives before the context's own timer fires: a gRPC server or proxy
// enforces the deadline the client sent (grpc-timeout, which
// implementations may round to the millisecond) and answers
// DEADLINE_EXCEEDED, an HTTP gateway answers 504 on the same clock, and a
// timer fires late on a loaded machine. Counted as the downstream's
// transient failures, those would open a breaker while the downstream is
// healthy. 5ms covers millisecond rounding and timer latency with room to
// spare, and is too short for a useful new attempt over any network; the
// cost is that a genuine downstream failure ending in the last 5ms of a
// caller's deadline is not counted by the breaker.
const DeadlineSlack = 5 * time.Millisecond

// atCallerDeadline reports whether ctx has a deadline that has passed or is
// at most DeadlineSlack away (its timer may not have fired yet).
func atCallerDeadline(ctx context.Context) bool {
	dl, ok := ctx.Deadline()
	return ok && time.Until(dl) <= DeadlineSlack
}
