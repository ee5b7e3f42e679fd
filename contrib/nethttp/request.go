package redresshttp

import (
	"context"
	"net/http"
	"strconv"

	"github.com/redress-go/redress/core"
)

// reqOptions are the per-request options carried by a request's context.
type reqOptions struct {
	route string
	retry int8 // 0: transport's rule, 1: allowed, -1: forbidden
}

type optionsKey struct{}

func optionsFrom(ctx context.Context) reqOptions {
	if o, ok := ctx.Value(optionsKey{}).(*reqOptions); ok {
		return *o
	}
	return reqOptions{}
}

// WithRoute returns a copy of ctx that tells the Transport the route
// template of the request made with it ("/users/{id}"): the operation label
// becomes "METHOD route" and events carry it as http.route. The template
// must be low-cardinality: never a raw path with identifiers in it.
func WithRoute(ctx context.Context, route string) context.Context {
	o := optionsFrom(ctx)
	o.route = route
	return context.WithValue(ctx, optionsKey{}, &o)
}

// WithRetry returns a copy of ctx that overrides, for the requests made with
// it, the Transport's rule for what is safe to resend: true allows retries
// whatever the method (for a POST the server deduplicates by other means),
// false forbids them (the request still goes through the breaker and is
// still published on the bus). A body that cannot be replayed (no GetBody)
// is never resent either way.
func WithRetry(ctx context.Context, allow bool) context.Context {
	o := optionsFrom(ctx)
	o.retry = -1
	if allow {
		o.retry = 1
	}
	return context.WithValue(ctx, optionsKey{}, &o)
}

// idempotent reports whether m is an idempotent method (RFC 9110 9.2.2).
func idempotent(m string) bool {
	switch m {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}

// replayable reports whether the request's body can be sent again.
func replayable(req *http.Request) bool {
	return req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
}

// resendable reports whether req may be sent more than once.
func (t *Transport) resendable(req *http.Request, o reqOptions) bool {
	if !replayable(req) {
		return false
	}
	switch o.retry {
	case 1:
		return true
	case -1:
		return false
	}
	if t.retryAll || idempotent(req.Method) {
		return true
	}
	_, ok := req.Header[t.idemHeader]
	return ok
}

// methodLabel returns the request method for telemetry: a known method as
// is, anything else as "_OTHER" (OTel semantic conventions), so a client
// cannot blow up the label's cardinality.
func methodLabel(m string) string {
	switch m {
	case "":
		return http.MethodGet
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace:
		return m
	}
	return "_OTHER"
}

// hostPort splits the URL's host into host and port, the port defaulting
// to the scheme's. It does not allocate.
func hostPort(req *http.Request) (host string, port int, explicit bool) {
	u := req.URL
	if u == nil {
		return "", 0, false
	}
	host = u.Hostname()
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err == nil {
			return host, n, true
		}
	}
	switch u.Scheme {
	case "http", "ws":
		return host, 80, false
	case "https", "wss":
		return host, 443, false
	}
	return host, 0, false
}

// defaultBreakerKey is the URL's host[:port], the port left out when it is
// the scheme's default.
func defaultBreakerKey(req *http.Request) string {
	if req.URL == nil {
		return ""
	}
	h := req.URL.Host
	p := req.URL.Port()
	switch {
	case p == "":
		return h
	case p == "80" && req.URL.Scheme == "http", p == "443" && req.URL.Scheme == "https":
		return h[:len(h)-len(p)-1]
	}
	return h
}

// labels fills the call's operation and labels for req.
func (t *Transport) labels(req *http.Request, o reqOptions, c *core.Call) {
	method := methodLabel(req.Method)
	host, port, _ := hostPort(req)
	c.Labels = core.Labels{HTTPMethod: method, HTTPRoute: o.route, ServerAddress: host, ServerPort: port}
	if op := core.OperationFromContext(req.Context()); op != "" {
		c.Operation = op // the caller's own name for this request wins
		return
	}
	if t.opName != nil {
		if op := t.opName(req); op != "" {
			c.Operation = op
			return
		}
	}
	if o.route != "" {
		c.Operation = method + " " + o.route
	} else {
		c.Operation = method + " " + host
	}
}
