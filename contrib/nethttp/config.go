package redresshttp

import (
	"net/http"
	"time"

	"github.com/redress-go/redress/contrib/internal/wrapper"
	"github.com/redress-go/redress/core"
)

// DefaultIdempotencyKeyHeader is the request header that, when present,
// makes a request safe to resend whatever its method.
const DefaultIdempotencyKeyHeader = "Idempotency-Key"

// DefaultMaxRetryAfter is the default cap on a server's Retry-After hint.
const DefaultMaxRetryAfter = 30 * time.Second

// DefaultMaxDrainBytes is how much of a discarded response body is read, by
// default, so that its connection can be reused.
const DefaultMaxDrainBytes = 64 << 10

// Config configures NewTransport. The zero value is all defaults: the
// default policy (DefaultPolicyConfig), a circuit breaker per host
// (DefaultBreakerConfig), idempotent methods and requests with an
// Idempotency-Key header retried, Retry-After honoured up to 30s.
type Config struct {
	// Policy runs every request: classification, backoff, attempt caps,
	// budget, events. Default: a policy built from DefaultPolicyConfig with
	// Bus as its bus, and a retry budget of its own shared by every request
	// of this transport. A policy with a Breaker of its own requires
	// DisableBreakers (per-host breakers would replace it).
	Policy *core.Policy
	// Bus receives the events of the default policy. Nil: no events, no
	// cost. Only with a nil Policy: a policy publishes on its own bus.
	Bus *core.Bus
	// Breaker is the template of the per-host circuit breakers: each breaker
	// key gets its own breaker, created on first use from this template and
	// named "<Name>:<key>" (or just "<key>" when Name is empty). Nil:
	// DefaultBreakerConfig(). The template's Bus is not used: the policy
	// publishes the breakers' transitions and rejections on its bus, with
	// the request's labels; a template Bus other than the policy's is a
	// *core.ConfigError. Setting it together with DisableBreakers is
	// a *core.ConfigError.
	Breaker *core.BreakerConfig
	// DisableBreakers turns per-host breakers off: the policy's own
	// breaker, if it has one, then guards every request. Default false.
	DisableBreakers bool
	// Classifier, when set, classifies every failed attempt: a failing
	// status as a *core.StatusError (its Code, and the Retry-After hint,
	// already capped by MaxRetryAfter, as Hint), a transport error as the
	// base transport returned it. Its classification is marked on the
	// error (core.Classify), so that it overrides the policy's
	// classifier (core.DefaultClassifier and core.StrictClassifier honour
	// the mark; a custom one must look for a core.Classified first). A
	// NoRetry classification stops the request. Default nil: the transport
	// marks what it knows of transport errors (certificate and TLS
	// handshake errors, malformed requests and too many redirects
	// permanent; a connection broken mid-exchange transient) and the
	// policy's classifier decides the rest (statuses through
	// core.ClassifyStatus).
	Classifier core.Classifier
	// BreakerKey maps a request to the key of its breaker. Default: the
	// URL's host and port, the port left out when it is the scheme's
	// default ("api.example.com", "127.0.0.1:8080"). A function returning ""
	// leaves that request unguarded. Setting it together with
	// DisableBreakers is a *core.ConfigError.
	BreakerKey func(*http.Request) string
	// Operation names a request's operation (the redress.operation label,
	// which must stay low-cardinality: never a raw URL). Default: "METHOD
	// route" when the request's context carries a route template (WithRoute),
	// else "METHOD host" ("GET api.example.com"). An empty result means the
	// default.
	Operation func(*http.Request) string
	// IdempotencyKeyHeader is the header whose presence makes a request safe
	// to resend whatever its method. Default "Idempotency-Key".
	IdempotencyKeyHeader string
	// RetryNonIdempotent makes every request safe to resend whatever its
	// method (its body must still be replayable). WithRetry overrides it per
	// request. Default false: only GET, HEAD, OPTIONS, TRACE, PUT and DELETE,
	// and requests with an idempotency key, are retried.
	RetryNonIdempotent bool
	// MaxRetryAfter caps the delay a 429 or 503 response's Retry-After header
	// asks for: a larger value, even one too large for an int64, is capped,
	// not refused. Default 30s. Must not be negative.
	MaxRetryAfter time.Duration
	// MaxDrainBytes bounds how much of a discarded response body is read
	// before it is closed, so that its connection goes back to the pool; a
	// body announced as longer is closed at once (its connection is lost).
	// Default 64 KiB. Negative: never drain.
	MaxDrainBytes int64
}

// DefaultPolicyConfig returns the configuration of the policy a Transport
// uses when Config.Policy is nil:
//
//   - Name "http";
//   - MaxAttempts 3 (the first and two retries);
//   - Strategy RetryAfterOr(DecorrelatedJitter(100ms, 5s)): the server's
//     Retry-After (already capped by Config.MaxRetryAfter) when it gives
//     one, decorrelated jitter otherwise;
//   - a fresh core.Budget with core's defaults, the one default of the
//     project: adaptive, retries may add up to 50% to the traffic of the
//     last 10s while at least 70% of the recent attempts succeed, scaled
//     down to none (only a floor of 10 retries per second) when 40% or
//     fewer do, so that a partial failure is retried away and a dead
//     downstream gets about one attempt per request;
//   - no breaker (the transport adds one per host), no attempt timeout (the
//     caller's context and http.Client.Timeout bound the whole call).
//
// Change what you need and build the policy with core.NewPolicy.
func DefaultPolicyConfig() core.PolicyConfig {
	budget, err := core.NewBudget(core.BudgetConfig{})
	if err != nil {
		panic(err) // unreachable: the configuration is constant and valid
	}
	return core.PolicyConfig{
		Name: "http",
		Retry: core.RetryConfig{
			MaxAttempts: 3,
			Strategy:    core.RetryAfterOr(core.DecorrelatedJitter(100*time.Millisecond, 5*time.Second), 0),
		},
		Budget: budget,
	}
}

// DefaultBreakerConfig returns the template of the per-host breakers a
// Transport uses when Config.Breaker is nil. A breaker opens after 20
// failures in a row, or when at least half of the last 2s of calls to its
// host, and at least 10 of them, failed, counting transient faults and
// server errors (5xx but 501, timeouts, refused or reset connections): a
// recent rate, so that it opens within a few failures of a hard outage
// whatever the healthy traffic before it. After 250ms it lets 3 probes
// through and ramps the admitted share up over 500ms, closing on the first
// success after the ramp: traffic is back within about a second of the
// host healing. Rate limits (429) and client errors (4xx) do not trip it:
// the server answered (a Retry-After hint holds it instead). While closed,
// it throttles client-side (core.Throttler, K 2 over 2s): a host that
// refuses most requests with 429 and no hint is sent about twice what it
// accepts, the rest failing fast with a *core.ThrottledError.
func DefaultBreakerConfig() core.BreakerConfig {
	return core.DownstreamBreakerConfig()
}

// common returns the fields cfg shares with the other wrappers' Configs.
func (cfg *Config) common() wrapper.Config {
	return wrapper.Config{Policy: cfg.Policy, Bus: cfg.Bus, Classifier: cfg.Classifier, Breaker: cfg.Breaker, DisableBreakers: cfg.DisableBreakers, HasBreakerKey: cfg.BreakerKey != nil}
}

// validate checks the HTTP fields of cfg and fills in their defaults (the
// common fields are wrapper.Resolve's).
func (cfg *Config) validate() error {
	if cfg.MaxRetryAfter < 0 {
		return &core.ConfigError{Field: "Config.MaxRetryAfter", Reason: "must not be negative"}
	}
	if cfg.MaxRetryAfter == 0 {
		cfg.MaxRetryAfter = DefaultMaxRetryAfter
	}
	if cfg.MaxDrainBytes == 0 {
		cfg.MaxDrainBytes = DefaultMaxDrainBytes
	}
	if cfg.IdempotencyKeyHeader == "" {
		cfg.IdempotencyKeyHeader = DefaultIdempotencyKeyHeader
	}
	if !validHeaderName(cfg.IdempotencyKeyHeader) {
		return &core.ConfigError{Field: "Config.IdempotencyKeyHeader", Reason: "is not a valid header name"}
	}
	cfg.IdempotencyKeyHeader = http.CanonicalHeaderKey(cfg.IdempotencyKeyHeader)
	return nil
}

// validHeaderName reports whether s is an RFC 9110 token.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '!' || c == '#' || c == '$' || c == '%' || c == '&' || c == '\'' || c == '*' ||
			c == '+' || c == '-' || c == '.' || c == '^' || c == '_' || c == '`' || c == '|' || c == '~':
		default:
			return false
		}
	}
	return true
}
