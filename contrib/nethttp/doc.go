// Package redresshttp is a drop-in http.RoundTripper that retries what is
// safe to retry, guards each host with a circuit breaker, caps retries with
// a shared budget, and publishes every decision on a redress bus. Swap
// http.Client.Transport and nothing else changes:
//
//	rt, err := redresshttp.NewTransport(nil, redresshttp.Config{Bus: bus})
//	if err != nil {
//		return err
//	}
//	client := &http.Client{Transport: rt}
//	resp, err := client.Get("https://api.example.com/users/42")
//	if err != nil {
//		return err
//	}
//	defer resp.Body.Close()
//
// # What is retried
//
// A request is resent only when resending is safe: its method is idempotent
// (GET, HEAD, OPTIONS, TRACE, PUT, DELETE), or it carries an idempotency key
// header (Config.IdempotencyKeyHeader, default Idempotency-Key), or the
// transport (Config.RetryNonIdempotent) or the request (WithRetry) opts in;
// and only when its body can be replayed, through GetBody (set by
// http.NewRequest for in-memory bodies) or because it has none. A body is
// never buffered behind the caller's back. Other requests run once, still
// guarded by the breaker and published on the bus.
//
// Responses are classified by status: 429 rate limit and 503 server error
// (both honouring Retry-After, in seconds or as an HTTP-date, capped by
// Config.MaxRetryAfter), other 5xx but 501 server error, 408 transient, 409
// concurrency, 401 auth, 403 permission, 400, 404, 422 and the other 4xx
// permanent (Config.Classifier, when set, classifies every failed attempt
// instead, over the policy's classifier). Transport errors go through the
// policy's classifier (timeouts, refused and reset connections are
// transient), except those resending cannot fix, which are marked
// permanent: certificate errors, a TLS handshake with a peer that does not
// speak TLS, an unsupported scheme, a malformed request, too many
// redirects. The common fields of Config (Policy, Bus, Classifier, Breaker,
// DisableBreakers, BreakerKey, Operation) mean what they mean in
// redressgrpc.Config and redresssql.Config.
//
// # What the caller sees
//
// The request is never modified: the first attempt sends it as is (or a
// shallow copy carrying the attempt's context), each resend a shallow copy
// with a fresh body from GetBody. Every discarded response body is drained (up to
// Config.MaxDrainBytes) and closed, so its connection is reused. When the
// policy gives up on a failing status, the last response is returned intact
// with a nil error, exactly as a plain transport would return it; when it
// gives up on a transport error, the error is returned wrapped in a
// *core.RetryError (errors.Is and errors.As reach the original). A request
// refused by an open breaker fails at once with a *core.CircuitOpenError
// and never touches the network.
//
// The caller's cancellation stops the call at once. A failed attempt that
// ends when the caller's deadline has passed or is at most
// core.DeadlineSlack away (say a gateway's 504 for that deadline, arriving
// before the context's own timer fires) is the caller's failure too: it is
// not retried, the host's breaker does not count it, and the caller gets
// an error that matches context.DeadlineExceeded. A per-attempt timeout
// (core.TimeoutConfig.Attempt) bounds the wait for the response
// headers only: the response body stays readable until it is read to EOF
// or closed, which releases the request's context.
//
// # Telemetry
//
// Each request is one redress operation, labelled "METHOD host" by default
// ("GET api.example.com"), "METHOD route" when the context carries a route
// template (WithRoute), or what Config.Operation returns. Events carry the
// method (http.request.method), host and port (server.address,
// server.port), route (http.route), the attempt's status code and the
// attempt number (the resend count is the attempt number minus one).
// Subscribers may decorate the context of each attempt: with this transport
// outside otelhttp.NewTransport, each attempt is one CLIENT span, child of
// the operation's span.
//
// # Concurrency
//
// A Transport is safe for concurrent use. Its per-host breakers and its
// default policy's retry budget are shared by every request it sends.
package redresshttp
