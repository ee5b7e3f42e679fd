// Package core is the redress engine: it classifies failures and dispatches
// on the class, with per-class backoff and attempt caps, deadlines and
// attempt timeouts, a circuit breaker, and a retry budget shared across
// calls, and publishes every decision as an event on a Bus.
//
// It imports the standard library and golang.org/x/time/rate only.
//
// # The model
//
// A Classifier maps each failure to a Class (auth, permission, permanent,
// concurrency, rate limit, server error, transient, unknown). Auth,
// permission and permanent failures are never retried. For the others the
// Policy asks, in order: may this class be retried again
// (MaxAttemptsPerClass, MaxUnknownAttempts)? is there an attempt left
// (MaxAttempts)? is there a Strategy for the class? would the delay pass the
// call's timeout? does the Budget grant a retry? Only then does it publish a retry
// event and sleep. After the last allowed attempt there is no sleep, no
// budget token and no retry event.
//
// The caller's cancellation is not a failure: when the caller's context is
// done the call stops at once with StopCanceled, without sleeping, and the
// breaker does not count it.
//
// Most callers want Do:
//
//	p, err := core.NewPolicy(core.PolicyConfig{Name: "users"})
//	if err != nil {
//		return err // a *core.ConfigError naming the field
//	}
//	user, err := core.Do(ctx, p, func(ctx context.Context) (User, error) {
//		return client.GetUser(ctx, id)
//	})
//	if err != nil {
//		return err
//	}
//	fmt.Println(user.Name)
//
// # Events
//
// The engine never logs, counts or traces by itself: it publishes Events on
// a Bus, and subscribers (OpenTelemetry, Prometheus, slog, your own) turn
// them into telemetry. With no subscriber that wants an event, the event is
// never built: the success path of a policy with a breaker and a budget
// allocates nothing.
//
// # Concurrency
//
// Policy, Breaker, Budget, Bus and the strategies are safe for concurrent
// use and meant to be shared. No callback (subscriber, hook, classifier)
// runs while the engine holds a lock.
package core
