package core

import "context"

// callerRetriesKey marks a context: the request being served comes from a
// caller that retries it.
type callerRetriesKey struct{}

// WithCallerRetries returns ctx marked as serving a request whose caller
// retries it itself: a redress client upstream sent its attempt marker
// (redresshttp's AttemptHeader, redressgrpc's AttemptMetadataKey), which
// the server middleware of those packages turns into this mark. A policy
// running on a context so marked does not retry its own failures (see
// RetryConfig.RetryUnderRetryingCaller): in a chain A → B → C each
// calling the next with redress, only A retries, and C sees about one
// attempt per request instead of one per attempt at every hop.
func WithCallerRetries(ctx context.Context) context.Context {
	return context.WithValue(ctx, callerRetriesKey{}, true)
}

// CallerRetries reports whether ctx is marked by WithCallerRetries. The
// engine reads it only after a failure it would retry: a call that
// succeeds pays nothing for it.
func CallerRetries(ctx context.Context) bool {
	v, _ := ctx.Value(callerRetriesKey{}).(bool)
	return v
}
