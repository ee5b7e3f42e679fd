package redressgrpc

import (
	"github.com/redress-go/redress/core"
	"google.golang.org/grpc"
)

// CallOption changes how redress handles one call. It is a grpc.CallOption:
// pass it to the generated client's method with the others. grpc ignores it.
// When several are given, later ones win: Bypass, WithPolicy and
// WithPolicy(nil) each replace the choice of policy made before them.
type CallOption struct {
	grpc.EmptyCallOption
	policy      *core.Policy
	setPolicy   bool
	bypass      bool
	maxAttempts int
	idempotent  bool
}

// WithPolicy runs the call under p instead of the policy Config chose for
// its method. A nil p is the same as Bypass.
func WithPolicy(p *core.Policy) CallOption {
	return CallOption{policy: p, setPolicy: true, bypass: p == nil}
}

// Bypass sends the call straight to grpc: no retry, no breaker, no events.
func Bypass() CallOption { return CallOption{bypass: true} }

// WithMaxAttempts lowers the policy's MaxAttempts for the call; 1 runs it
// once, still guarded by the breaker and observed (for a call that is not
// safe to repeat). n < 1 is ignored.
func WithMaxAttempts(n int) CallOption { return CallOption{maxAttempts: n} }

// WithIdempotent declares the call safe to repeat: it is retried, within
// its policy, on every retryable failure (DEADLINE_EXCEEDED, INTERNAL,
// DATA_LOSS, unknown codes the policy allows), not only on UNAVAILABLE and
// RESOURCE_EXHAUSTED, as if its method were in Config.Idempotent. A
// stream's own rule still holds: once committed, it is not retried.
func WithIdempotent() CallOption { return CallOption{idempotent: true} }

// callOpts is the merge of the CallOptions of one call.
type callOpts struct {
	policy      *core.Policy
	setPolicy   bool
	bypass      bool
	maxAttempts int
	idempotent  bool
}

// parseCallOpts merges the redress options among opts, later ones winning:
// Bypass, WithPolicy and WithPolicy(nil) override one another, and
// WithMaxAttempts overrides an earlier WithMaxAttempts; WithIdempotent
// anywhere among them declares the call idempotent.
func parseCallOpts(opts []grpc.CallOption) (o callOpts) {
	for _, op := range opts {
		c, ok := op.(CallOption)
		if !ok {
			continue
		}
		// Bypass, WithPolicy and WithPolicy(nil) all choose the policy of
		// the call: the last of them wins.
		switch {
		case c.bypass:
			o.bypass, o.policy, o.setPolicy = true, nil, false
		case c.setPolicy:
			o.bypass, o.policy, o.setPolicy = false, c.policy, true
		}
		if c.maxAttempts > 0 {
			o.maxAttempts = c.maxAttempts
		}
		o.idempotent = o.idempotent || c.idempotent
	}
	return o
}

// policyFor returns the policy of a call, or nil when it bypasses redress.
func (ic *Interceptors) policyFor(method string, o *callOpts) *core.Policy {
	if o.bypass {
		return nil
	}
	if o.setPolicy {
		return o.policy
	}
	return ic.Policy(method)
}
