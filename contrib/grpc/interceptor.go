package redressgrpc

import (
	"context"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redress-go/redress/contrib/internal/wrapper"
	"github.com/redress-go/redress/core"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
)

// Interceptors holds the unary and stream client interceptors built from
// one Config, and the per-target breakers they share. Build it once with
// New and give its DialOptions to every grpc.NewClient that should use it.
// It is safe for concurrent use.
type Interceptors struct {
	cfg      Config
	policy   *core.Policy
	methods  map[string]*core.Policy
	idem     map[string]struct{} // Config.Idempotent
	breakers *core.BreakerGroup  // nil: per-target breakers disabled
	classify core.Classifier     // Config.Classifier, or Classifier
	targets  sync.Map            // target string -> *target
}

// wrapperSpec is what the interceptors' common fields default to.
var wrapperSpec = wrapper.Spec{Per: "per-target", DefaultPolicy: DefaultPolicyConfig, DefaultBreaker: DefaultBreakerConfig, DefaultClassifier: Classifier}

// target is what the interceptors know of one grpc.ClientConn target.
type target struct {
	breaker *core.Breaker // the target's, when Config.BreakerKey is nil
	addr    string
	port    int
}

// New returns the interceptors for cfg, or a *core.ConfigError naming the
// first invalid field.
//
// New copies cfg, Methods and Idempotent included: changing them afterwards
// does not change the interceptors.
func New(cfg Config) (*Interceptors, error) {
	cfg.Methods = maps.Clone(cfg.Methods)
	cfg.Idempotent = slices.Clone(cfg.Idempotent)
	r, err := wrapper.Resolve(cfg.common(), wrapperSpec)
	if err != nil {
		return nil, err
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	ic := &Interceptors{cfg: cfg, policy: r.Policy, methods: cfg.Methods, breakers: r.Breakers, classify: r.Classifier}
	if len(cfg.Idempotent) > 0 {
		ic.idem = make(map[string]struct{}, len(cfg.Idempotent))
		for _, k := range cfg.Idempotent {
			ic.idem[k] = struct{}{}
		}
	}
	return ic, nil
}

// DialOptions returns the two dial options that install the interceptors:
//
//	conn, err := grpc.NewClient(addr, append(ic.DialOptions(), creds)...)
//
// They are chained (grpc.WithChainUnaryInterceptor): interceptors given
// before them run outside redress (once per call), those given after run
// inside it (once per attempt).
func (ic *Interceptors) DialOptions() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithChainUnaryInterceptor(ic.Unary()),
		grpc.WithChainStreamInterceptor(ic.Stream()),
	}
}

// Policy returns the policy of calls to method (a full method name), as
// Config.Methods and Config.Policy decide, or nil when the method opts out.
func (ic *Interceptors) Policy(method string) *core.Policy {
	if len(ic.methods) > 0 {
		if p, ok := ic.methods[method]; ok {
			return p
		}
		if i := strings.LastIndexByte(method, '/'); i > 0 {
			if p, ok := ic.methods[method[1:i]]; ok {
				return p
			}
		}
	}
	return ic.policy
}

// Idempotent reports whether Config.Idempotent declares method (a full
// method name) idempotent, by its own name or its service's: whether its
// calls are retried on failures that may come after the server applied
// them (DEADLINE_EXCEEDED, INTERNAL, DATA_LOSS, unknown codes).
// WithIdempotent declares one call idempotent whatever this says.
func (ic *Interceptors) Idempotent(method string) bool {
	if len(ic.idem) == 0 || !strings.HasPrefix(method, "/") {
		return false
	}
	if _, ok := ic.idem[method]; ok {
		return true
	}
	if i := strings.LastIndexByte(method, '/'); i > 0 {
		_, ok := ic.idem[method[1:i]]
		return ok
	}
	return false
}

// Breaker returns the breaker of key k (see Config.BreakerKey: by default
// a grpc.ClientConn's Target()), or nil when no call has used that key yet
// or per-target breakers are disabled. It only looks the breaker up: the
// first call with a key creates it. Use it for health checks and
// dashboards; do not record outcomes on it.
func (ic *Interceptors) Breaker(k string) *core.Breaker {
	if ic.breakers == nil {
		return nil
	}
	return ic.breakers.Lookup(k)
}

func (ic *Interceptors) target(t string) *target {
	if v, ok := ic.targets.Load(t); ok {
		return v.(*target)
	}
	tg := &target{}
	tg.addr, tg.port = splitTarget(t)
	if ic.breakers != nil && ic.cfg.BreakerKey == nil {
		tg.breaker = ic.breakers.Get(t)
	}
	v, _ := ic.targets.LoadOrStore(t, tg)
	return v.(*target)
}

// splitTarget turns a gRPC target ("dns:///api.example.com:443",
// "127.0.0.1:50051", "passthrough:///h:1") into server.address and
// server.port.
func splitTarget(t string) (string, int) {
	if strings.HasPrefix(t, "unix:") {
		return strings.TrimPrefix(strings.TrimPrefix(t, "unix://"), "unix:"), 0
	}
	if i := strings.Index(t, ":///"); i >= 0 {
		t = t[i+4:]
	} else if i := strings.Index(t, "://"); i >= 0 {
		t = t[i+3:]
		if j := strings.IndexByte(t, '/'); j >= 0 {
			t = t[j+1:]
		}
	}
	if h, p, err := net.SplitHostPort(t); err == nil {
		n, _ := strconv.Atoi(p)
		return h, n
	}
	return t, 0
}

// run is what every redress call shares: the policy, the breaker, the
// labels, the classification of each attempt.
type run struct {
	ic     *Interceptors
	policy *core.Policy
	call   core.Call       // the call's options, copied by its Step
	caller context.Context // the caller's context
	idem   bool            // WithIdempotent: the call is safe to repeat
}

// start prepares r for a call of method on cc with options o.
//
// The caller's deadline needs nothing here: the engine refuses a retry
// whose delay would reach it (core.StopDeadline), before any retry event,
// budget token or sleep, and stops a call whose context is done.
func (r *run) start(ctx context.Context, ic *Interceptors, p *core.Policy, method string, cc *grpc.ClientConn, o *callOpts) {
	r.ic, r.policy, r.caller, r.idem = ic, p, ctx, o.idempotent
	tg := ic.target(cc.Target())
	b := tg.breaker
	if ic.breakers != nil && ic.cfg.BreakerKey != nil {
		if k := ic.cfg.BreakerKey(CallInfo{Target: cc.Target(), Method: method}); k != "" {
			b = ic.breakers.Get(k)
		}
	}
	op := core.OperationFromContext(ctx) // the caller's own name wins
	if op == "" && ic.cfg.Operation != nil {
		op = ic.cfg.Operation(CallInfo{Target: cc.Target(), Method: method})
	}
	if op == "" {
		op = method
	}
	r.call = core.Call{
		Operation: op,
		Labels: core.Labels{
			RPCSystem:     "grpc",
			RPCMethod:     method,
			ServerAddress: tg.addr,
			ServerPort:    tg.port,
		},
		Breaker:     b,
		MaxAttempts: o.maxAttempts,
	}
}

// attemptContext returns the context of the attempt st admitted, with the
// previous-attempts metadata of a retry, or, on a first attempt when mark,
// AttemptMetadataKey.
func attemptContext(st *core.Step, mark bool) context.Context {
	ctx := st.Context()
	if n := st.Attempt(); n > 1 {
		return metadata.AppendToOutgoingContext(ctx, PreviousAttemptsKey, strconv.Itoa(n-1))
	}
	if mark {
		return metadata.AppendToOutgoingContext(ctx, AttemptMetadataKey, "1")
	}
	return ctx
}

// markFirst reports whether the call's first attempt carries
// AttemptMetadataKey: the policy may retry it and its target is failing
// (its breaker says so; with no breaker it is taken to be), when the
// server's own retries would multiply this call's. Adding metadata costs
// an allocation, which a healthy target's calls are spared.
func (r *run) markFirst() bool {
	if r.policy.MaxAttempts() == 1 {
		return false
	}
	b := r.call.Breaker
	if b == nil {
		b = r.policy.Breaker()
	}
	return b == nil || b.Failing()
}

// failed classifies the error of a failed attempt, with the server's
// trailer, and returns what the engine must see.
func (r *run) failed(step *core.Step, err error, trailer metadata.MD) error {
	st, isStatus := statusOf(err)
	code := codes.Unknown
	if isStatus {
		code = st.Code()
	}
	step.SetRPCStatusCode(CodeName(code))
	if r.caller.Err() != nil || atCallerDeadline(r.caller) {
		// The caller gave up, or its deadline has passed or is within
		// core.DeadlineSlack (a DEADLINE_EXCEEDED from the server often
		// beats the context's own timer): the failure is the caller's, and
		// the engine stops with StopCanceled, whatever the classification.
		return err
	}
	cl := r.ic.classify(err)
	if pb := parsePushback(trailer); pb.set && cl.Class.Retryable() {
		if pb.stop {
			// The server asked us not to retry: stop after this attempt,
			// keeping the code's class for the breaker and telemetry.
			cl.NoRetry, cl.Reason = true, "grpc_pushback_stop"
		} else {
			// HasRetryAfter: pushback 0 is a hint too ("retry now").
			cl.RetryAfter, cl.HasRetryAfter = min(pb.delay, r.ic.cfg.MaxPushback), true
		}
	}
	if cl.Class.Retryable() && !cl.NoRetry && isStatus && !resendable(code) && !r.idempotent() {
		// The server may have applied the call: resend it only if the
		// method is declared safe to repeat. Keep the class for the breaker
		// and telemetry. An error without a status did not come from grpc
		// (which gives every failure of a call a status) but from an
		// interceptor chained after redress, on the caller's side: its own
		// classification decides.
		cl.Reason = "grpc_not_idempotent"
		return core.NotResendable(wrapper.Mark(err, cl))
	}
	return wrapper.Mark(err, cl)
}

// resendable reports whether a failure with status code c is safe to
// resend whatever the method: UNAVAILABLE (the server did not process the
// call) and RESOURCE_EXHAUSTED (the server refused it, asking the caller to
// slow down), the codes go-grpc-middleware's retry retries by default.
func resendable(c codes.Code) bool {
	return c == codes.Unavailable || c == codes.ResourceExhausted
}

// atCallerDeadline reports whether ctx has a deadline that has passed or is
// at most core.DeadlineSlack away (its timer may not have fired yet): the
// engine's rule for a failure that is the caller's.
func atCallerDeadline(ctx context.Context) bool {
	dl, ok := ctx.Deadline()
	return ok && time.Until(dl) <= core.DeadlineSlack
}

// idempotent reports whether the call may be repeated after any retryable
// failure: WithIdempotent, or its method declared in Config.Idempotent.
func (r *run) idempotent() bool {
	return r.idem || r.ic.Idempotent(r.call.Labels.RPCMethod)
}

// finish turns the engine's error into what the caller gets.
func (r *run) finish(err error) error {
	if err == nil {
		return nil
	}
	return newCallError(err, r.caller)
}
