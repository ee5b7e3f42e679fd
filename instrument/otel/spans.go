package redressotel

import (
	"context"
	"fmt"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/redress-go/redress/core"
	"github.com/redress-go/redress/internal/cowmap"
	"github.com/redress-go/redress/internal/telemetry"
)

// The span path is shaped by what the SDK allocates: each span, the context
// that holds it, and one attribute slice per SetAttributes call that adds to
// a span's attributes (start attributes cost a second slice, the SDK's copy
// of the start options). So each span gets all of its attributes in one
// SetAttributes call, from a cached slice (attribute.KeyValue is immutable
// and the SDK copies it), and the subscriber's own state of an operation,
// with the context of its first attempt, is one allocation.

// internalKind is the start option of every span the subscriber makes.
var internalKind = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindInternal)}

// maxCache bounds each attribute cache; past it, attributes are built per
// call.
const maxCache = 4096

// maxEnds bounds the terminal attribute sets cached per operation entry.
const maxEnds = 64

type opCtxKey struct{ s *Subscriber }
type attemptCtxKey struct{ s *Subscriber }

// opCtx is the context an operation runs with: the context the tracer
// returned, which holds the operation span, plus the subscriber's state of
// the operation. It is allocated with the context of the operation's first
// attempt, in 64 bytes: the span is read back from the tracer's context
// rather than stored twice.
type opCtx struct {
	context.Context
	key   opCtxKey
	ent   *spanEntry
	first attemptCtx  // the first attempt's context
	taken atomic.Bool // first is in use
}

// The first attempt to find an operation's state claims its first slot; any
// later one gets a context of its own. The claim is atomic because an
// attempt of another operation can find this state too, through its
// context, when this subscriber did not decorate that operation's start (it
// was subscribed in between), possibly on another goroutine.

// span returns the operation span: the tracer's context holds it.
func (c *opCtx) span() trace.Span { return trace.SpanFromContext(c.Context) }

func (c *opCtx) Value(k any) any {
	if k, ok := k.(opCtxKey); ok && k == c.key {
		return c
	}
	return c.Context.Value(k)
}

// attemptCtx is the context an attempt runs with: the context the tracer
// returned, which holds the attempt span (and above it the operation span),
// marked as the subscriber's.
type attemptCtx struct {
	context.Context
	key attemptCtxKey
}

// span returns the attempt span: the tracer's context holds it.
func (c *attemptCtx) span() trace.Span { return trace.SpanFromContext(c.Context) }

func (c *attemptCtx) Value(k any) any {
	if k, ok := k.(attemptCtxKey); ok && k == c.key {
		return c
	}
	return c.Context.Value(k)
}

func (c *opCtx) String() string {
	return contextName(c.Context) + ".WithValue(redressotel operation)"
}

func (c *attemptCtx) String() string {
	return contextName(c.Context) + ".WithValue(redressotel attempt)"
}

// contextName names c as the context package does in its String methods.
func contextName(c context.Context) string {
	if s, ok := c.(fmt.Stringer); ok {
		return s.String()
	}
	return fmt.Sprintf("%T", c)
}

// op returns the subscriber's state of the operation ctx belongs to.
func (s *Subscriber) op(ctx context.Context) *opCtx {
	if c, ok := ctx.(*opCtx); ok && c.key.s == s {
		return c
	}
	c, _ := ctx.Value(opCtxKey{s}).(*opCtx)
	return c
}

// attempt returns the subscriber's state of the attempt ctx belongs to.
func (s *Subscriber) attempt(ctx context.Context) *attemptCtx {
	if c, ok := ctx.(*attemptCtx); ok && c.key.s == s {
		return c
	}
	c, _ := ctx.Value(attemptCtxKey{s}).(*attemptCtx)
	return c
}

// Decorate implements core.ContextDecorator: operation_start starts the
// operation span, attempt_start the attempt span, and each is put into the
// context the operation or attempt then runs with, so that client spans
// made inside an attempt are their children. With Config.OnError set, a
// panic in Decorate is recovered and reported there (ctx is returned).
func (s *Subscriber) Decorate(ctx context.Context, e core.Event) (out context.Context) {
	if !s.spans {
		return ctx
	}
	if s.com.OnError != nil {
		out = ctx
		defer s.com.Recover("redressotel")
	}
	if !s.com.Wants(e.Policy) {
		return ctx
	}
	switch e.Kind {
	case core.EventOperationStart:
		ent := s.entry(&e)
		opts := internalKind
		if s.startAttrs {
			opts = ent.startOpts
		}
		ctx, _ := s.tracer.Start(ctx, ent.name, opts...)
		return &opCtx{Context: ctx, key: opCtxKey{s}, ent: ent}
	case core.EventAttemptStart:
		if s.asEvents {
			return ctx
		}
		o := s.op(ctx)
		ctx, _ := s.tracer.Start(ctx, "attempt", internalKind...)
		if o != nil && o.taken.CompareAndSwap(false, true) {
			a := &o.first
			a.Context, a.key = ctx, attemptCtxKey{s}
			return a
		}
		return &attemptCtx{Context: ctx, key: attemptCtxKey{s}}
	}
	return ctx
}

func (s *Subscriber) span(ctx context.Context, e *core.Event) {
	switch {
	case e.Kind == core.EventAttemptEnd:
		ei := telemetry.ErrIndex(e)
		if s.asEvents {
			o := s.op(ctx)
			if o == nil {
				return
			}
			attrs := []attribute.KeyValue{attribute.Int(telemetry.AttrAttempts, e.Attempt)}
			if ei != 0 {
				attrs = append(attrs, attribute.String(telemetry.AttrErrorType, telemetry.ErrorType(ei)))
			}
			attrs = appendStatus(attrs, &e.Labels)
			o.span().AddEvent("attempt", trace.WithAttributes(attrs...))
			return
		}
		a := s.attempt(ctx)
		if a == nil {
			return
		}
		sp := a.span()
		sp.SetAttributes(s.attemptAttrs(e, ei)...)
		if ei != 0 {
			s.fail(sp, e.Err)
		}
		sp.End()
	case e.Kind == core.EventRetry:
		if o := s.op(ctx); o != nil {
			o.span().AddEvent("retry", trace.WithAttributes(
				attribute.Int(telemetry.AttrAttempts, e.Attempt),
				attribute.String(telemetry.AttrErrorType, e.Class.String()),
				attribute.Float64("redress.retry.delay", e.Sleep.Seconds())))
		}
	case e.Kind == core.EventRateLimitWait || e.Kind == core.EventFaultInjected || e.Kind == core.EventFallback ||
		e.Kind == core.EventHedge || e.Kind == core.EventHedgeWon:
		if o := s.op(ctx); o != nil {
			o.span().AddEvent(e.Kind.String(), trace.WithAttributes(componentAttrs(e)...))
		}
	case e.Kind == core.EventCircuitOpened || e.Kind == core.EventCircuitHalfOpen || e.Kind == core.EventCircuitClosed:
		if o := s.op(ctx); o != nil {
			o.span().AddEvent(e.Kind.String(), trace.WithAttributes(
				attribute.String(telemetry.AttrBreaker, telemetry.BreakerName(e)),
				attribute.String(telemetry.AttrState, e.BreakerState.String())))
		}
	case e.Kind.Terminal():
		o := s.op(ctx)
		if o == nil {
			return
		}
		sp := o.span()
		sp.SetAttributes(o.ent.endAttrs(e)...)
		if e.Outcome == core.OutcomeFailure || e.Outcome == core.OutcomeRejected {
			s.fail(sp, e.Err)
		}
		sp.End()
	}
}

// spanKey identifies the entry of an operation span.
type spanKey struct {
	policy, op string
	labels     core.Labels // without the response status
}

// spanEntry is an operation span's name and start attributes (policy,
// operation, request labels), with its full attribute sets (start plus
// terminal attributes) cached per terminal outcome.
type spanEntry struct {
	key   spanKey // as the event carried it
	plain bool    // no request labels
	name  string
	attrs []attribute.KeyValue
	// startOpts start the span with attrs (Config.StartAttributes).
	startOpts []trace.SpanStartOption
	succ      [2][9]atomic.Pointer[[]attribute.KeyValue] // success, success_after_retry by attempts
	ends      cowmap.Map[endKey, []attribute.KeyValue]
}

// endKey identifies the terminal attributes of an operation span.
type endKey struct {
	outcome  core.OutcomeKind
	stop     core.StopReason
	ei       uint8
	attempts int
}

// entry returns the span entry of an operation_start event. A
// direct-mapped front, indexed by the addresses of the policy and operation
// strings, answers most lookups with one atomic load and comparisons that
// stop at the pointers: the names usually come from a Policy or a wrapper's
// label cache, so the same pair arrives in the same memory. A miss falls
// back to the map and takes the slot over.
func (s *Subscriber) entry(e *core.Event) *spanEntry {
	slot := &s.front[telemetry.FrontIndex(e.Policy, e.Operation)%telemetry.FrontSize]
	if ent := slot.Load(); ent != nil && ent.key.policy == e.Policy && ent.key.op == e.Operation {
		if ent.plain {
			if noSpanLabels(&e.Labels) {
				return ent
			}
		} else if ent.key.labels == spanLabels(&e.Labels) {
			return ent
		}
	}
	k := spanKey{policy: e.Policy, op: e.Operation, labels: spanLabels(&e.Labels)}
	ent, ok := s.spanOps.Load(k)
	if !ok {
		if s.spanOps.Len() >= maxCache {
			ent = newSpanEntry(k)
		} else {
			ent = s.spanOps.LoadOrStore(k, func() *spanEntry { return newSpanEntry(k) })
		}
	}
	slot.Store(ent)
	return ent
}

// spanLabels returns the request labels of l, the ones of the operation
// span: all but the response status.
func spanLabels(l *core.Labels) core.Labels {
	c := *l
	c.StatusCode, c.RPCStatusCode = 0, ""
	return c
}

// noSpanLabels reports whether spanLabels(l) is empty; it reads the fields
// one by one, which is cheaper than comparing the whole struct.
func noSpanLabels(l *core.Labels) bool {
	return l.HTTPMethod == "" && l.HTTPRoute == "" && l.ServerAddress == "" && l.ServerPort == 0 &&
		l.DBSystem == "" && l.DBOperation == "" && l.RPCSystem == "" && l.RPCMethod == ""
}

func newSpanEntry(k spanKey) *spanEntry {
	op := telemetry.CutQuery(k.op)
	attrs := make([]attribute.KeyValue, 0, 8)
	attrs = append(attrs,
		attribute.String(telemetry.AttrPolicy, k.policy),
		attribute.String(telemetry.AttrOperation, op))
	attrs = appendLabels(attrs, &k.labels)
	attrs = attrs[:len(attrs):len(attrs)]
	return &spanEntry{key: k, plain: k.labels == core.Labels{}, name: op, attrs: attrs,
		startOpts: []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindInternal), trace.WithAttributes(attrs...)}}
}

// endAttrs returns the attributes of the operation span of terminal event e:
// the start attributes, then outcome, attempts, stop reason and error type.
func (o *spanEntry) endAttrs(e *core.Event) []attribute.KeyValue {
	// A success has no error type: the fast slots need no ErrIndex.
	var fast *atomic.Pointer[[]attribute.KeyValue]
	if (e.Outcome == core.OutcomeSuccess || e.Outcome == core.OutcomeSuccessAfterRetry) &&
		e.StopReason == core.StopNone && uint(e.Attempt) < uint(len(o.succ[0])) {
		fast = &o.succ[e.Outcome-core.OutcomeSuccess][e.Attempt]
		if a := fast.Load(); a != nil {
			return *a
		}
	}
	ei := telemetry.ErrIndex(e)
	k := endKey{outcome: e.Outcome, stop: e.StopReason, ei: uint8(ei), attempts: e.Attempt}
	if fast == nil {
		if a, ok := o.ends.Load(k); ok {
			return a
		}
	}
	a := make([]attribute.KeyValue, 0, len(o.attrs)+4)
	a = append(a, o.attrs...)
	a = append(a,
		attribute.String(telemetry.AttrOutcome, e.Outcome.String()),
		attribute.Int(telemetry.AttrAttempts, e.Attempt))
	if e.StopReason != core.StopNone {
		a = append(a, attribute.String(telemetry.AttrStopReason, e.StopReason.String()))
	}
	if ei != 0 {
		a = append(a, attribute.String(telemetry.AttrErrorType, telemetry.ErrorType(ei)))
	}
	switch {
	case fast != nil:
		fast.Store(&a)
	case o.ends.Len() < maxEnds:
		a = o.ends.LoadOrStore(k, func() []attribute.KeyValue { return a })
	}
	return a
}

// attemptKey identifies the attributes of an attempt span.
type attemptKey struct {
	attempt int
	http    bool
	ei      uint8
	status  int
	rpc     string
}

// attemptAttrs returns the attributes of the attempt span ended by
// attempt_end event e: the attempt number, the resend count of a retried
// HTTP attempt, the response status and the error type.
func (s *Subscriber) attemptAttrs(e *core.Event, ei int) []attribute.KeyValue {
	http := e.Labels.HTTPMethod != ""
	var fast *atomic.Pointer[[]attribute.KeyValue]
	if ei == 0 && e.Labels.StatusCode == 0 && e.Labels.RPCStatusCode == "" && uint(e.Attempt) < uint(len(s.attFast[0])) {
		h := 0
		if http {
			h = 1
		}
		fast = &s.attFast[h][e.Attempt]
		if a := fast.Load(); a != nil {
			return *a
		}
	}
	k := attemptKey{attempt: e.Attempt, http: http, ei: uint8(ei), status: e.Labels.StatusCode, rpc: e.Labels.RPCStatusCode}
	if fast == nil {
		if a, ok := s.attempts.Load(k); ok {
			return a
		}
	}
	a := make([]attribute.KeyValue, 0, 5)
	a = append(a, attribute.Int(telemetry.AttrAttempts, e.Attempt))
	if http && e.Attempt > 1 {
		a = append(a, attribute.Int(telemetry.AttrResendCount, e.Attempt-1))
	}
	a = appendStatus(a, &e.Labels)
	if ei != 0 {
		a = append(a, attribute.String(telemetry.AttrErrorType, telemetry.ErrorType(ei)))
	}
	switch {
	case fast != nil:
		fast.Store(&a)
	case s.attempts.Len() < maxCache:
		a = s.attempts.LoadOrStore(k, func() []attribute.KeyValue { return a })
	}
	return a
}

// componentAttrs are the attributes of a policy component's span event on
// the operation span: the attempt, and the wait (rate_limit_wait, an
// injected latency), the fault, the stop reason a fallback replaced or
// the hedge's number.
func componentAttrs(e *core.Event) []attribute.KeyValue {
	attrs := []attribute.KeyValue{attribute.Int(telemetry.AttrAttempts, e.Attempt)}
	switch e.Kind {
	case core.EventRateLimitWait:
		attrs = append(attrs, attribute.Float64("redress.wait", e.Sleep.Seconds()))
	case core.EventFaultInjected:
		attrs = append(attrs, attribute.String("redress.fault", e.Reason))
		if e.Sleep > 0 {
			attrs = append(attrs, attribute.Float64("redress.wait", e.Sleep.Seconds()))
		}
		if e.Err != nil {
			attrs = append(attrs, attribute.String(telemetry.AttrErrorType, e.Class.String()))
		}
	case core.EventFallback:
		attrs = append(attrs, attribute.String(telemetry.AttrStopReason, e.StopReason.String()))
	case core.EventHedge, core.EventHedgeWon:
		attrs = append(attrs, attribute.Int("redress.hedge", e.Hedge))
	}
	return attrs
}
