package redressgrpc

import (
	"strconv"
	"strings"
	"time"

	"github.com/redress-go/redress/contrib/internal/wrapper"
	"github.com/redress-go/redress/core"
)

// DefaultMaxPushback is the default cap on a server's grpc-retry-pushback-ms.
const DefaultMaxPushback = 30 * time.Second

// DefaultStreamBufferBytes is the default bound on the messages a stream
// keeps for replay: 256 KiB, grpc-go's own per-RPC retry buffer.
const DefaultStreamBufferBytes = 256 << 10

// Config configures New. The zero value is all defaults: the default policy
// (DefaultPolicyConfig) for every method, no method idempotent (only
// UNAVAILABLE and RESOURCE_EXHAUSTED are retried), a circuit breaker per
// target (DefaultBreakerConfig), pushback honoured up to 30s, streams
// replayable while their sent messages fit in 256 KiB.
type Config struct {
	// Policy runs every call whose method has no entry in Methods. Default:
	// a policy built from DefaultPolicyConfig with Bus as its bus. A policy
	// with a Breaker of its own requires DisableBreakers (per-target
	// breakers would replace it).
	//
	// The interceptors classify each failure themselves (with Classifier)
	// and hand the policy an error marked with that classification
	// (core.Classify), and with core.NoRetry when it must not be retried.
	// The engine still calls the policy's own classifier on that error:
	// core.DefaultClassifier and Classifier honour the mark (any
	// core.Classified in the chain), so with them the policy's classifier
	// does not matter; a custom one must honour core.Classified marks too
	// (check errors.As(err, &c) for a core.Classified first), or it
	// overrides the interceptors' class, reason and pushback. Only the
	// NoRetry mark is honoured by the engine whatever the classifier. The
	// server's pushback travels as the classification's RetryAfter hint:
	// it is honoured only by a policy whose strategy is core.RetryAfterOr
	// (as the default policy's is).
	Policy *core.Policy
	// Methods maps a full method name ("/pkg.Service/Method") or a service
	// name ("pkg.Service") to the policy of its calls; a method's entry
	// wins over its service's. A nil policy in the map means no redress for
	// those calls (they go straight to grpc). A key that is neither (in
	// protobuf syntax: dotted identifiers, "/" and an identifier) is a
	// *core.ConfigError. Default: none.
	Methods map[string]*core.Policy
	// Idempotent lists the methods that are safe to repeat even when an
	// attempt may have been applied, by full method name
	// ("/pkg.Service/Method") or service name ("pkg.Service", every method
	// of the service); an entry that is neither ("not a method") is a
	// *core.ConfigError. Default: none.
	//
	// Every method is retried on UNAVAILABLE and RESOURCE_EXHAUSTED (the
	// server did not process the call, or asked the caller to slow down).
	// The other retryable failures (DEADLINE_EXCEEDED, INTERNAL, DATA_LOSS,
	// and codes of class unknown when the policy allows their retries) may
	// come after the server applied the call, so they are retried only for
	// the methods listed here or a call made with WithIdempotent; for any
	// other method the attempt is marked core.NoRetry (reason
	// grpc_not_idempotent) and the call stops with
	// core.StopNonRetryableClass, keeping the code's class for the breaker
	// and telemetry. An error without a gRPC status (from an interceptor
	// chained after redress) keeps its own classification. New copies the
	// list.
	Idempotent []string
	// Bus receives the events of the default policy. Nil: no events, no
	// cost. Only with a nil Policy: a policy publishes on its own bus.
	Bus *core.Bus
	// Breaker is the template of the per-target circuit breakers: each
	// breaker key (the target, grpc.ClientConn.Target(), by default) gets
	// its own breaker, created on first use from this template and named
	// "<Name>:<key>" (or just "<key>" when Name is empty). Nil:
	// DefaultBreakerConfig(). The template's Bus is not used: the policy
	// publishes the breaker's transitions and rejections on its bus, with
	// the call's labels; a template Bus other than the policy's is a
	// *core.ConfigError. Setting it together with DisableBreakers is a
	// *core.ConfigError.
	Breaker *core.BreakerConfig
	// DisableBreakers turns per-target breakers off: the policy's own
	// breaker, if it has one, then guards every call. Default false.
	DisableBreakers bool
	// BreakerKey maps a call to the key of its breaker: say
	// info.Target + " " + service, for a breaker per service of each
	// target. Keys are never forgotten: return a bounded set. Default: the
	// target. A function returning "" leaves that call unguarded. Setting
	// it together with DisableBreakers is a *core.ConfigError.
	BreakerKey func(info CallInfo) string
	// Operation names a call's operation (the redress.operation label,
	// which must stay low-cardinality). The context's name
	// (core.ContextWithOperation) wins over it. Default: the full method
	// name ("/pkg.Service/Method"). An empty result means the default.
	Operation func(info CallInfo) string
	// Classifier maps a failed attempt's error (a gRPC status error, or a
	// client-side error) to its classification, for every attempt; its
	// result is marked on the error (see Policy). Default Classifier. The
	// interceptors add the server's pushback to what it returns, and mark
	// a retryable failure of a method not declared idempotent (see
	// Idempotent) or of a committed stream as not resendable.
	Classifier core.Classifier
	// MaxPushback caps the delay a server's grpc-retry-pushback-ms trailer
	// asks for: a larger value, even one too large for an int64, is
	// capped, not refused. Default 30s. Must not be negative.
	MaxPushback time.Duration
	// StreamBufferBytes bounds the messages a stream keeps to replay on a
	// new attempt (their protobuf size). Once the messages sent so far no
	// longer fit, the stream is committed: it is not retried any more and
	// the buffer is dropped. Default 256 KiB. Negative: streams are never
	// retried (they are still guarded by the breaker and observed).
	StreamBufferBytes int
}

// CallInfo describes one call to Config.BreakerKey and Config.Operation.
type CallInfo struct {
	// Target is the target of the call's grpc.ClientConn (its Target():
	// "dns:///api.example.com:443", "127.0.0.1:50051").
	Target string
	// Method is the call's full method name ("/pkg.Service/Method").
	Method string
}

// DefaultPolicyConfig returns the configuration of the policy the
// interceptors use when Config.Policy is nil:
//
//   - Name "grpc";
//   - MaxAttempts 3 (the first and two retries);
//   - MaxUnknownAttempts 1: a code the Classifier cannot place (UNKNOWN,
//     ALREADY_EXISTS, ABORTED, UNIMPLEMENTED) is not retried, since
//     nothing says another attempt would fare better or be harmless (stop
//     reason max_unknown_attempts);
//   - Classifier Classifier;
//   - Strategy RetryAfterOr(DecorrelatedJitter(100ms, 5s)): the server's
//     pushback (already capped by Config.MaxPushback) when it gives one,
//     decorrelated jitter otherwise;
//   - a fresh core.Budget with core's defaults, the one default of the
//     project: adaptive, retries may add up to 50% to the traffic of the
//     last 10s while at least 70% of the recent attempts succeed, scaled
//     down to none (only a floor of 10 retries per second) when 40% or
//     fewer do;
//   - no breaker (the interceptors add one per target), no attempt timeout
//     (the caller's context deadline bounds the whole call).
//
// Change what you need and build the policy with core.NewPolicy.
func DefaultPolicyConfig() core.PolicyConfig {
	budget, err := core.NewBudget(core.BudgetConfig{})
	if err != nil {
		panic(err) // unreachable: the configuration is constant and valid
	}
	return core.PolicyConfig{
		Name: "grpc",
		Retry: core.RetryConfig{
			MaxAttempts:        3,
			MaxUnknownAttempts: 1,
			Classifier:         Classifier,
			Strategy:           core.RetryAfterOr(core.DecorrelatedJitter(100*time.Millisecond, 5*time.Second), 0),
		},
		Budget: budget,
	}
}

// DefaultBreakerConfig returns the template of the per-target breakers the
// interceptors use when Config.Breaker is nil. A breaker opens after 20
// failures in a row, or when at least half of the last 2s of calls to its
// target, and at least 10 of them, failed with a transient fault or a
// server error (UNAVAILABLE, DEADLINE_EXCEEDED, INTERNAL, DATA_LOSS); after
// 250ms it lets 3 probes through and ramps the admitted share up over
// 500ms. RESOURCE_EXHAUSTED and the caller's mistakes (INVALID_ARGUMENT,
// NOT_FOUND, ...) do not trip it: the server answered (pushback holds it
// instead). While closed, it throttles client-side (core.Throttler, K 2
// over 2s): a target that refuses most calls with RESOURCE_EXHAUSTED and
// no pushback is sent about twice what it accepts, the rest failing fast
// with a *core.ThrottledError.
func DefaultBreakerConfig() core.BreakerConfig {
	return core.DownstreamBreakerConfig()
}

// validMethodKey reports whether k is a full method name
// ("/pkg.Service/Method") or a service name ("pkg.Service"), in protobuf's
// syntax: a service name is identifiers joined by dots, a method name an
// identifier.
func validMethodKey(k string) bool {
	if rest, ok := strings.CutPrefix(k, "/"); ok {
		svc, method, ok := strings.Cut(rest, "/")
		return ok && validServiceName(svc) && validIdent(method)
	}
	return validServiceName(k)
}

// validServiceName reports whether s is a protobuf full name
// ("grpc.health.v1.Health").
func validServiceName(s string) bool {
	for part := range strings.SplitSeq(s, ".") {
		if !validIdent(part) {
			return false
		}
	}
	return true
}

// validIdent reports whether s is a protobuf identifier: a letter or '_',
// then letters, digits and '_'.
func validIdent(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// common returns the fields cfg shares with the other wrappers' Configs.
func (cfg *Config) common() wrapper.Config {
	return wrapper.Config{Policy: cfg.Policy, Bus: cfg.Bus, Classifier: cfg.Classifier, Breaker: cfg.Breaker, DisableBreakers: cfg.DisableBreakers, HasBreakerKey: cfg.BreakerKey != nil}
}

// validate checks the gRPC fields of cfg and fills in their defaults (the
// common fields are wrapper.Resolve's).
func (cfg *Config) validate() error {
	for k, p := range cfg.Methods {
		if err := wrapper.CheckPolicy("Config.Methods["+k+"]", p, cfg.DisableBreakers, "per-target"); err != nil {
			return err
		}
	}
	for k := range cfg.Methods {
		if !validMethodKey(k) {
			return &core.ConfigError{Field: "Config.Methods[" + k + "]", Reason: `is neither a full method name ("/pkg.Service/Method") nor a service name ("pkg.Service") in protobuf syntax`}
		}
	}
	for i, k := range cfg.Idempotent {
		if !validMethodKey(k) {
			return &core.ConfigError{Field: "Config.Idempotent[" + strconv.Itoa(i) + "]", Reason: strconv.Quote(k) + ` is neither a full method name ("/pkg.Service/Method") nor a service name ("pkg.Service") in protobuf syntax`}
		}
	}
	if cfg.MaxPushback < 0 {
		return &core.ConfigError{Field: "Config.MaxPushback", Reason: "must not be negative"}
	}
	if cfg.MaxPushback == 0 {
		cfg.MaxPushback = DefaultMaxPushback
	}
	if cfg.StreamBufferBytes == 0 {
		cfg.StreamBufferBytes = DefaultStreamBufferBytes
	}
	return nil
}
