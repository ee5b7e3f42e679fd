// Package redressgrpc puts redress under gRPC clients: a unary and a stream
// client interceptor, built from one Config, that classify every failed
// attempt by its status code, retry it within a policy, guard each target
// with a circuit breaker, label it with its full method name and publish
// every decision on the policy's bus.
//
//	ic, err := redressgrpc.New(redressgrpc.Config{Bus: bus})
//	if err != nil {
//		return err
//	}
//	conn, err := grpc.NewClient(addr, append(ic.DialOptions(),
//		grpc.WithTransportCredentials(creds),
//		grpc.WithDisableRetry(), // one retry layer: redress
//	)...)
//	if err != nil {
//		return err
//	}
//	defer conn.Close()
//
// # What is retried
//
// Only what is safe to send again. Every method is retried on UNAVAILABLE
// (the server did not process the call) and RESOURCE_EXHAUSTED (it refused
// it, asking the caller to slow down), as go-grpc-middleware's retry does
// by default. The other retryable failures may come after the server
// applied the call: DEADLINE_EXCEEDED (an attempt timeout, or the server's
// own), INTERNAL and DATA_LOSS, and the codes of class unknown when the
// policy allows their retries. Those are retried only for a method
// declared idempotent, in Config.Idempotent (full method names, or service
// names for every method of a service) or for one call with WithIdempotent:
//
//	ic, err := redressgrpc.New(redressgrpc.Config{
//		Idempotent: []string{"/inventory.v1.Inventory/Get", "grpc.health.v1.Health"},
//	})
//	if err != nil {
//		return err
//	}
//	conn, err := grpc.NewClient(addr, ic.DialOptions()...)
//	if err != nil {
//		return err
//	}
//	defer conn.Close()
//
// For any other method such a failure is marked core.NotResendable (reason
// grpc_not_idempotent): the call stops after it with
// core.StopNotResendable and a permanent_fail event, while its class
// stays the status code's (INTERNAL stays server_error), so the breaker
// counts it and error.type reports it as what it is. A stream obeys this
// rule and its own (see Streams): a committed stream is not retried even
// when its method is idempotent. An error that carries no gRPC status comes
// from an interceptor chained after redress, on the caller's side (grpc
// gives every failure of a call a status): its own classification decides,
// whatever the method.
//
// # Classification
//
// Classifier (and ClassifyCode) map status codes to classes:
// RESOURCE_EXHAUSTED is a rate limit; UNAVAILABLE and DEADLINE_EXCEEDED are
// transient (a call at its own deadline stops instead); INTERNAL
// and DATA_LOSS are server errors; UNAUTHENTICATED, PERMISSION_DENIED,
// INVALID_ARGUMENT, FAILED_PRECONDITION, OUT_OF_RANGE and NOT_FOUND are never
// retried; the caller's own cancellation stops the call; other codes are
// unknown, which the default policy does not retry (MaxUnknownAttempts 1).
// Config.Classifier overrides it. Config.BreakerKey and Config.Operation
// choose a call's breaker (by default its target's) and its operation label
// (by default its full method) from a CallInfo. The common fields (Policy,
// Bus, Classifier, Breaker, DisableBreakers, BreakerKey, Operation) mean
// what they mean in redresshttp.Config and redresssql.Config. The
// interceptors classify each attempt
// themselves and hand the policy an error marked with that classification
// (core.Classify). The engine calls the policy's own classifier on it:
// core.DefaultClassifier and Classifier keep the mark, so a policy with
// either works unchanged; a custom policy classifier must honour
// core.Classified marks first, or it overrides the interceptors' class,
// reason and pushback (only core.NoRetry is honoured whatever the
// classifier).
//
// # Pushback and deadlines
//
// A server's grpc-retry-pushback-ms trailer becomes the classification's
// RetryAfter hint (capped by Config.MaxPushback, whatever its size, even
// one too large for an int64; with HasRetryAfter set so that 0 means
// "retry now"), which a core.RetryAfterOr strategy uses as the
// next delay. A negative, malformed or repeated value means "do not retry":
// the attempt is marked core.NoRetry (Classification.NoRetry, reason
// grpc_pushback_stop), so the call stops with core.StopNonRetryableClass and
// a permanent_fail event, while its class stays the status code's
// (UNAVAILABLE stays transient): the breaker counts it and error.type
// reports it as what it is.
//
// When the caller's context has a deadline, no attempt starts that could
// not finish before it: a retry whose delay reaches the deadline is refused
// at once, before any retry event, budget token or sleep (the call stops
// with core.StopDeadline and returns the last attempt's status). A failure
// when the caller's deadline has passed, or is at most core.DeadlineSlack
// (5ms) away, is the caller's, never the server's fault: typically the
// server's DEADLINE_EXCEEDED for the deadline the client sent, which often
// arrives before the caller's context's own timer fires. It is not
// retried and the breaker does not count it; the call stops with
// core.StopCanceled (errors.Is(err, context.DeadlineExceeded)) and returns
// the attempt's status.
// The DEADLINE_EXCEEDED of an attempt timeout (core.TimeoutConfig's
// Attempt) is retried, within the caller's deadline, only for an
// idempotent method: the server may have applied the attempt.
//
// # Streams
//
// A stream is retried only while nothing has been received from the server
// and every message sent so far fits in a replay buffer
// (Config.StreamBufferBytes); a new attempt replays the buffer, in order and
// byte for byte. After that the stream is committed and a failure goes
// through to the caller unchanged: it is marked core.NotResendable (reason
// grpc_stream_committed), so the operation ends with permanent_fail and
// core.StopNotResendable, keeping the status code's class for the
// breaker and telemetry. Server-streaming, client-streaming and
// bidirectional streams all follow this rule. Each stream runs its
// operation on a goroutine of its own, which ends with the stream.
//
// # Errors
//
// A call that fails returns an error whose gRPC status (status.Code,
// status.FromError) is the last attempt's, unchanged, or UNAVAILABLE for a
// breaker rejection; errors.As reaches the engine's *core.RetryError (stop
// reason, attempts) or *core.CircuitOpenError.
//
// # Beside grpc-go's retry and otelgrpc
//
// grpc-go has a retry of its own, configured by a service config. Keep one:
// with both, every redress attempt is itself retried by grpc-go, the
// attempts multiply and grpc-previous-rpc-attempts is sent twice. Dial with
// grpc.WithDisableRetry() (or a service config without a retryPolicy).
//
// The otelgrpc stats handler works beside the interceptors: it sees each
// attempt as a client span, and with a tracing subscriber on the bus those
// spans are children of the redress operation span (the attempt's context
// is the one the subscriber decorated).
//
// # Concurrency
//
// Interceptors is safe for concurrent use and meant to be shared by every
// connection of a process; per-target breakers are shared by the
// connections to the same target. A stream follows grpc's rules: one
// goroutine may send while another receives.
package redressgrpc
