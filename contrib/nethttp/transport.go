package redresshttp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/redress-go/redress/contrib/internal/wrapper"
	"github.com/redress-go/redress/internal/typednil"

	"github.com/redress-go/redress/core"
)

// Transport is an http.RoundTripper that runs every request under a redress
// policy: failures are classified, retried when that is safe, cut short by
// a circuit breaker per host and a retry budget, and every decision is
// published on the policy's bus. When nothing fails it behaves exactly like
// its base transport.
//
// A Transport is safe for concurrent use; build it once with NewTransport
// and share it, as you would an http.Transport.
type Transport struct {
	base       http.RoundTripper
	policy     *core.Policy
	breakers   *core.BreakerGroup // nil: per-host breakers disabled
	key        func(*http.Request) string
	opName     func(*http.Request) string
	classify   core.Classifier // Config.Classifier, or nil
	idemHeader string          // canonical
	retryAll   bool
	maxRA      time.Duration
	maxDrain   int64
	marker     bool // send AttemptHeader on requests it may retry
}

var _ http.RoundTripper = (*Transport)(nil)

// NewTransport returns a Transport that sends requests through base (nil
// means http.DefaultTransport), or a *core.ConfigError naming the first
// invalid field of cfg, or "base" for a typed nil (a nil *http.Transport,
// or any nil pointer or function in a non-nil base), which would panic at
// the first request.
func NewTransport(base http.RoundTripper, cfg Config) (*Transport, error) {
	if typednil.Is(base) {
		return nil, &core.ConfigError{Field: "base", Reason: fmt.Sprintf("is a nil %T (a typed nil, which would panic at the first request): pass nil for http.DefaultTransport", base)}
	}
	r, err := wrapper.Resolve(cfg.common(), wrapperSpec)
	if err != nil {
		return nil, err
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if base == nil {
		base = http.DefaultTransport
	}
	t := &Transport{
		base:       base,
		key:        cfg.BreakerKey,
		opName:     cfg.Operation,
		idemHeader: cfg.IdempotencyKeyHeader,
		retryAll:   cfg.RetryNonIdempotent,
		maxRA:      cfg.MaxRetryAfter,
		maxDrain:   cfg.MaxDrainBytes,
		marker:     true,
	}
	t.policy, t.breakers, t.classify = r.Policy, r.Breakers, r.Classifier
	if t.breakers != nil && t.key == nil {
		t.key = defaultBreakerKey
	}
	return t, nil
}

// wrapperSpec is what the transport's common fields default to.
var wrapperSpec = wrapper.Spec{Per: "per-host", DefaultPolicy: DefaultPolicyConfig, DefaultBreaker: DefaultBreakerConfig}

// Policy returns the policy the transport runs requests under.
func (t *Transport) Policy() *core.Policy { return t.policy }

// Breaker returns the per-host breaker of the given key (see
// Config.BreakerKey), or nil when no request has used that key yet or
// per-host breakers are disabled. Use it for health checks and dashboards;
// do not record outcomes on it.
func (t *Transport) Breaker(key string) *core.Breaker {
	if t.breakers == nil {
		return nil
	}
	return t.breakers.Lookup(key)
}

// CloseIdleConnections closes the idle connections of the base transport,
// if it has that method (http.Client.CloseIdleConnections calls it).
func (t *Transport) CloseIdleConnections() {
	if c, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// roundTrip is the state of one RoundTrip call.
type roundTrip struct {
	t    *Transport
	req  *http.Request
	ctx  context.Context // the caller's
	call core.Call       // the request's options, copied by step
	step core.Step
	// kept is the response of the latest attempt that the policy may still
	// give back to the caller (a failing status); it is discarded when the
	// policy decides to retry.
	kept   *http.Response
	sent   bool        // the base transport took ownership of req.Body
	deco   bool        // the bus may decorate attempt contexts
	marker bool        // send AttemptHeader
	header http.Header // the request's headers with AttemptHeader, once made
	hedge  bool        // the policy hedges, and the request is safe to resend (hedge.go)
}

// hostFailing reports whether the request's breaker (the host's, else the
// policy's) says its downstream is failing; with no breaker, it is taken
// to be.
func (rt *roundTrip) hostFailing() bool {
	b := rt.call.Breaker
	if b == nil {
		b = rt.t.policy.Breaker()
	}
	return b == nil || b.Failing()
}

// markedHeader returns the request's headers with AttemptHeader set to
// attempt: a copy made once per request (the caller's are never
// modified), updated per attempt (the previous attempt's response is
// closed by then, so the transport is done with it).
func (rt *roundTrip) markedHeader(attempt int) http.Header {
	if rt.header == nil {
		rt.header = maps.Clone(rt.req.Header) // the values are shared, never written
		if rt.header == nil {
			rt.header = make(http.Header, 1)
		}
	}
	v := strconv.Itoa(attempt)
	if attempt < len(attemptValues) {
		v = attemptValues[attempt]
	}
	rt.header[AttemptHeader] = []string{v}
	return rt.header
}

var attemptValues = [...]string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}

// RoundTrip implements http.RoundTripper. It sends req through the base
// transport, once or, when the request is safe to resend and the failure is
// retryable, several times; it never modifies req.
//
// It returns the response of the last attempt; when the policy gives up on
// a failing status (say a 503 after the last attempt, or a retry refused by
// a breaker that the failures just opened), that response is returned
// intact with a nil error, as a plain transport would return it.
// It returns an error when the last attempt failed without a response (the
// base transport's error, wrapped in a *core.RetryError: errors.Is and
// errors.As reach it), when a breaker refused the request before it was
// sent (a *core.CircuitOpenError, errors.Is(err, core.ErrCircuitOpen)), or
// when the caller's context ended (or an attempt failed with the caller's
// deadline at most core.DeadlineSlack away: the failure is the caller's,
// and the error matches context.DeadlineExceeded).
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	rt := rtPool.Get().(*roundTrip)
	resp, err := rt.run(t, req)
	*rt = roundTrip{}
	rtPool.Put(rt)
	return resp, err
}

// rtPool recycles the per-request state: nothing refers to it once
// RoundTrip has returned.
var rtPool = sync.Pool{New: func() any { return new(roundTrip) }}

func (rt *roundTrip) run(t *Transport, req *http.Request) (resp *http.Response, err error) {
	ctx := req.Context()
	rt.t, rt.req, rt.ctx = t, req, ctx
	o := optionsFrom(ctx)
	t.labels(req, o, &rt.call)
	resendable := t.resendable(req, o)
	// The server may retry nothing of its own while this transport may
	// still retry the request: tell it (AttemptHeader).
	rt.marker = resendable && t.marker && t.policy.MaxAttempts() != 1
	rt.hedge = resendable && t.policy.Hedging()
	if t.breakers != nil {
		if k := t.key(req); k != "" {
			rt.call.Breaker = t.breakers.Get(k)
		}
	}
	if bus := t.policy.Bus(); bus != nil {
		rt.deco = bus.Wants(core.EventOperationStart) || bus.Wants(core.EventAttemptStart)
	}
	s := &rt.step
	s.Begin(ctx, t.policy, &rt.call)
	defer s.Close()
	for s.Next() {
		if rt.hedge {
			resp, err = rt.hedgedAttempt(s)
		} else {
			resp, err = rt.attempt(s)
		}
		if err != nil && !resendable {
			err = core.NotResendable(err)
		}
		s.End(err)
		if s.Retrying() {
			rt.release()
		}
	}
	if err = s.Err(); err == nil {
		if v, ok := s.Fallback(); ok {
			return rt.fallback(v, resp)
		}
		return resp, nil
	}
	if kept := rt.kept; kept != nil {
		rt.kept = nil
		if r, _ := core.StopReasonOf(err); r != core.StopCanceled {
			// The policy gave up on a failing status: the caller gets the
			// server's answer, as from a plain transport.
			return kept, nil
		}
		_ = kept.Body.Close()
	}
	if !rt.sent && req.Body != nil {
		_ = req.Body.Close() // RoundTrip must close the body, even unsent
	}
	return nil, err
}

// fallback returns v, the response the policy's Fallback supplied, in place
// of resp, the last attempt's (closed, with the kept one).
func (rt *roundTrip) fallback(v any, resp *http.Response) (*http.Response, error) {
	if resp != nil {
		rt.t.discard(resp)
	}
	if kept := rt.kept; kept != nil && kept != resp {
		rt.t.discard(kept)
	}
	rt.kept = nil
	if !rt.sent && rt.req.Body != nil {
		_ = rt.req.Body.Close()
	}
	fr, ok := v.(*http.Response)
	if !ok || fr == nil {
		return nil, fmt.Errorf("redresshttp: the policy's Fallback supplied %T, not an *http.Response", v)
	}
	if fr.Body == nil {
		fr.Body = http.NoBody
	}
	if fr.Request == nil {
		fr.Request = rt.req
	}
	return fr, nil
}

// release discards the kept response as soon as the policy decides to
// retry, so that its connection serves the next attempt, unless the breaker
// is open: then the retry will most likely be refused, and the response is
// what the caller gets (it is released when the next attempt starts, if it
// does).
func (rt *roundTrip) release() {
	if rt.kept == nil {
		return
	}
	b := rt.call.Breaker
	if b == nil {
		b = rt.t.policy.Breaker()
	}
	if b != nil && b.State() == core.StateOpen {
		return
	}
	rt.t.discard(rt.kept)
	rt.kept = nil
}

// attempt sends attempt s.Attempt() of the request.
func (rt *roundTrip) attempt(s *core.Step) (*http.Response, error) {
	if rt.kept != nil {
		rt.t.discard(rt.kept)
		rt.kept = nil
	}
	actx := s.Context()
	s.SetStatusCode(0)
	req := rt.req
	// The marker costs a copy of the headers: it is sent on retries, and
	// on first attempts while the host is failing (its breaker says so),
	// when the server's own retries would multiply ours.
	mark := rt.marker && (s.Attempt() > 1 || rt.hostFailing())
	if s.Attempt() > 1 || mark {
		r := *req // a shallow copy: the caller's headers are never modified
		if s.Attempt() > 1 {
			body, err := replayBody(req)
			if err != nil {
				return nil, core.Classify(fmt.Errorf("redresshttp: cannot replay the request body: %w", err),
					core.Classification{Class: core.ClassPermanent, Reason: reasonBodyReplay})
			}
			r.Body = body
		}
		if mark {
			r.Header = rt.markedHeader(s.Attempt())
		}
		req = &r
	}
	rt.sent = true

	var resp *http.Response
	var err error
	if actx.Done() == rt.ctx.Done() {
		// No attempt deadline: the request runs on the caller's context,
		// decorated by the bus if it may have been.
		if rt.deco {
			req = req.WithContext(actx)
		}
		resp, err = rt.t.base.RoundTrip(req)
	} else {
		resp, err = rt.roundTripDetached(req, actx)
	}
	if err != nil {
		if rt.t.classify != nil {
			return nil, wrapper.Mark(err, rt.t.classify(err))
		}
		return nil, markTransportError(err)
	}
	rt.kept = resp
	s.SetStatusCode(resp.StatusCode)
	if serr := rt.statusErr(resp); serr != nil {
		return nil, serr
	}
	return resp, nil
}

// statusErr is the error of a response whose status is a failure (nil
// for any other): a *core.StatusError with its Retry-After hint, marked
// by the configured classifier, and NoRetry when the server said not to
// retry (OverloadedHeader).
func (rt *roundTrip) statusErr(resp *http.Response) error {
	code := resp.StatusCode
	if !failing(code) {
		return nil
	}
	var serr error = &core.StatusError{Code: code, Hint: retryAfter(resp, time.Now, rt.t.maxRA)}
	if rt.t.classify != nil {
		serr = wrapper.Mark(serr, rt.t.classify(serr))
	}
	if _, ok := resp.Header[OverloadedHeader]; ok {
		return core.NoRetry(serr) // the server said: do not retry
	}
	return serr
}

// roundTripDetached sends req on a context that carries actx's values and
// obeys actx's cancellation (the attempt timeout) until the response headers
// arrive, and then only the caller's, until the response body is closed: an
// attempt timeout never cuts a body the caller is reading.
func (rt *roundTrip) roundTripDetached(req *http.Request, actx context.Context) (*http.Response, error) {
	ctx, cancel := context.WithCancelCause(context.WithoutCancel(actx))
	stopAttempt := context.AfterFunc(actx, func() { cancel(context.Cause(actx)) })
	resp, err := rt.t.base.RoundTrip(req.WithContext(ctx))
	if !stopAttempt() {
		// The attempt ended (timeout or caller) while the headers came in.
		if err == nil {
			_ = resp.Body.Close()
			err = context.Cause(ctx)
		}
		cancel(nil)
		return nil, err
	}
	if err != nil {
		cancel(nil)
		return nil, err
	}
	caller := rt.ctx
	stopCaller := context.AfterFunc(caller, func() { cancel(context.Cause(caller)) })
	resp.Body = wrapBody(resp.Body, func() {
		stopCaller()
		cancel(nil)
	})
	return resp, nil
}

// errNoGetBody is returned when a body must be replayed but cannot be.
var errNoGetBody = errors.New("redresshttp: request has a body and no GetBody")

// replayBody returns a fresh copy of the request's body.
func replayBody(req *http.Request) (io.ReadCloser, error) {
	switch {
	case req.Body == nil || req.Body == http.NoBody:
		return req.Body, nil
	case req.GetBody == nil:
		return nil, errNoGetBody
	}
	return req.GetBody()
}
