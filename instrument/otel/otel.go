package redressotel

import (
	"context"
	"fmt"
	"sync/atomic"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/redress-go/redress/core"
	"github.com/redress-go/redress/internal/cowmap"
	"github.com/redress-go/redress/internal/telemetry"
)

// Version is the instrumentation scope version.
const Version = "0.1.0"

// Subscriber is a core.Subscriber and core.ContextDecorator that records
// redress events as OpenTelemetry spans and metrics, through the OTel API.
// It is safe for concurrent use.
type Subscriber struct {
	tracer   trace.Tracer
	in       *instruments
	events   core.EventSet
	spans    bool
	asEvents bool
	redact   func(error) string

	starts    cowmap.Map[startKey, []trace.SpanStartOption]
	attStarts [2][9]atomic.Pointer[[]trace.SpanStartOption]
}

// Events the subscriber wants: all of them with spans (the start markers
// open the spans), all but the start markers without.
const metricEvents = core.AllEvents &^ (1<<core.EventOperationStart | 1<<core.EventAttemptStart)

type spanKey struct{ s *Subscriber }    // the operation span
type attemptKey struct{ s *Subscriber } // the attempt span

// New returns a subscriber, or the error of the meter that refused an
// instrument.
func New(cfg Config) (*Subscriber, error) {
	s := &Subscriber{spans: !cfg.DisableSpans, asEvents: cfg.AttemptsAsEvents, redact: cfg.RedactError}
	if s.redact == nil {
		s.redact = func(err error) string { return err.Error() }
	}
	if s.spans {
		tp := cfg.TracerProvider
		if tp == nil {
			tp = otel.GetTracerProvider()
		}
		s.tracer = tp.Tracer(telemetry.Scope, trace.WithInstrumentationVersion(Version))
		s.events = core.AllEvents
	}
	if !cfg.DisableMetrics {
		mp := cfg.MeterProvider
		if mp == nil {
			mp = otel.GetMeterProvider()
		}
		in, err := newInstruments(mp.Meter(telemetry.Scope, metric.WithInstrumentationVersion(Version)))
		if err != nil {
			return nil, fmt.Errorf("redressotel: creating instruments: %w", err)
		}
		s.in = in
		s.events |= metricEvents
	}
	for _, p := range cfg.Policies {
		s.Declare(p)
	}
	return s, nil
}

// Close unregisters the callback that observes breakers and budgets.
func (s *Subscriber) Close() error {
	if s.in == nil || s.in.reg == nil {
		return nil
	}
	return s.in.reg.Unregister()
}

// Events implements core.Subscriber.
func (s *Subscriber) Events() core.EventSet { return s.events }

// Declare makes the series of policy p exist before its first event: the
// state of its breaker and the utilization of its budget are observed, and,
// for its default operation and each of operations, the retry counters (one
// per retryable class), the budget and breaker rejection counters and the
// breaker transition counters start at zero. A nil p is ignored.
func (s *Subscriber) Declare(p *core.Policy, operations ...string) {
	if p == nil || s.in == nil {
		return
	}
	s.in.declare(p, operations)
}

// DeclareBreaker adds b, under policy, to the breakers whose state is
// observed, with zero-valued transition counters. Breakers are tracked by
// identity: several distinct breakers with the same policy and name are
// observed as one attribute set, which reports the worst of their states
// (open, then half_open, then closed). The subscriber holds a declared
// breaker; one only seen in events drops out once the program no longer
// references it.
func (s *Subscriber) DeclareBreaker(policy string, b *core.Breaker) {
	if b == nil || s.in == nil {
		return
	}
	s.in.declareBreaker(policy, b)
}

// DeclareBudget adds b, under policy, to the budgets whose utilization is
// observed. Budgets are tracked by identity: several distinct budgets under
// the same policy name are observed as one attribute set, which reports the
// highest of their utilizations. The subscriber holds a declared budget;
// one only seen in events drops out once the program no longer references
// it.
func (s *Subscriber) DeclareBudget(policy string, b *core.Budget) {
	if b == nil || s.in == nil {
		return
	}
	s.in.set.DeclareBudget(policy, b)
}

// Decorate implements core.ContextDecorator: operation_start starts the
// operation span, attempt_start the attempt span, and each is put into the
// context the operation or attempt then runs with, so that client spans
// made inside an attempt are their children.
func (s *Subscriber) Decorate(ctx context.Context, e core.Event) context.Context {
	if !s.spans {
		return ctx
	}
	switch e.Kind {
	case core.EventOperationStart:
		ctx, sp := s.tracer.Start(ctx, telemetry.CutQuery(e.Operation), s.opStart(&e)...)
		return context.WithValue(ctx, spanKey{s}, sp)
	case core.EventAttemptStart:
		if s.asEvents {
			return ctx
		}
		ctx, sp := s.tracer.Start(ctx, "attempt", s.attemptStart(&e)...)
		return context.WithValue(ctx, attemptKey{s}, sp)
	}
	return ctx
}

// maxStartCache bounds the cache of span start options.
const maxStartCache = 4096

type startKey struct {
	policy, op string
	labels     core.Labels
}

// opStart returns the start options of an operation span, cached per
// (policy, operation, request labels).
func (s *Subscriber) opStart(e *core.Event) []trace.SpanStartOption {
	k := startKey{policy: e.Policy, op: e.Operation, labels: e.Labels}
	k.labels.StatusCode, k.labels.RPCStatusCode = 0, ""
	if o, ok := s.starts.Load(k); ok {
		return o
	}
	attrs := make([]attribute.KeyValue, 0, 8)
	attrs = append(attrs,
		attribute.String(telemetry.AttrPolicy, e.Policy),
		attribute.String(telemetry.AttrOperation, telemetry.CutQuery(e.Operation)))
	attrs = appendLabels(attrs, &e.Labels)
	o := []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindInternal), trace.WithAttributes(attrs...)}
	if len(s.starts.Snapshot()) >= maxStartCache {
		return o
	}
	return s.starts.LoadOrStore(k, func() []trace.SpanStartOption { return o })
}

// attemptStart returns the start options of an attempt span, cached per
// attempt number (up to 8) and HTTP-ness.
func (s *Subscriber) attemptStart(e *core.Event) []trace.SpanStartOption {
	http := 0
	if e.Labels.HTTPMethod != "" {
		http = 1
	}
	cacheable := e.Attempt >= 0 && e.Attempt < len(s.attStarts[0])
	if cacheable {
		if o := s.attStarts[http][e.Attempt].Load(); o != nil {
			return *o
		}
	}
	attrs := make([]attribute.KeyValue, 0, 2)
	attrs = append(attrs, attribute.Int(telemetry.AttrAttempts, e.Attempt))
	if http == 1 && e.Attempt > 1 {
		attrs = append(attrs, attribute.Int(telemetry.AttrResendCount, e.Attempt-1))
	}
	o := []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindInternal), trace.WithAttributes(attrs...)}
	if cacheable {
		s.attStarts[http][e.Attempt].Store(&o)
	}
	return o
}

// Handle implements core.Subscriber.
func (s *Subscriber) Handle(ctx context.Context, e core.Event) {
	if s.in != nil {
		s.in.record(ctx, &e)
	}
	if s.spans {
		s.span(ctx, &e)
	}
}

func (s *Subscriber) span(ctx context.Context, e *core.Event) {
	op, _ := ctx.Value(spanKey{s}).(trace.Span)
	switch {
	case e.Kind == core.EventAttemptEnd:
		ei := telemetry.ErrIndex(e)
		if s.asEvents {
			if op == nil {
				return
			}
			attrs := []attribute.KeyValue{attribute.Int(telemetry.AttrAttempts, e.Attempt)}
			if ei != 0 {
				attrs = append(attrs, attribute.String(telemetry.AttrErrorType, telemetry.ErrorType(ei)))
			}
			attrs = appendStatus(attrs, &e.Labels)
			op.AddEvent("attempt", trace.WithAttributes(attrs...))
			return
		}
		sp, _ := ctx.Value(attemptKey{s}).(trace.Span)
		if sp == nil {
			return
		}
		if attrs := appendStatus(nil, &e.Labels); len(attrs) > 0 {
			sp.SetAttributes(attrs...)
		}
		if ei != 0 {
			sp.SetAttributes(attribute.String(telemetry.AttrErrorType, telemetry.ErrorType(ei)))
			s.fail(sp, e.Err)
		}
		sp.End()
	case e.Kind == core.EventRetry:
		if op != nil {
			op.AddEvent("retry", trace.WithAttributes(
				attribute.Int(telemetry.AttrAttempts, e.Attempt),
				attribute.String(telemetry.AttrErrorType, e.Class.String()),
				attribute.Float64("redress.retry.delay", e.Sleep.Seconds())))
		}
	case e.Kind == core.EventCircuitOpened || e.Kind == core.EventCircuitHalfOpen || e.Kind == core.EventCircuitClosed:
		if op != nil {
			op.AddEvent(e.Kind.String(), trace.WithAttributes(
				attribute.String(telemetry.AttrBreaker, telemetry.BreakerName(e)),
				attribute.String(telemetry.AttrState, e.BreakerState.String())))
		}
	case e.Kind.Terminal():
		if op == nil {
			return
		}
		attrs := make([]attribute.KeyValue, 0, 4)
		attrs = append(attrs,
			attribute.String(telemetry.AttrOutcome, e.Outcome.String()),
			attribute.Int(telemetry.AttrAttempts, e.Attempt))
		if e.StopReason != core.StopNone {
			attrs = append(attrs, attribute.String(telemetry.AttrStopReason, e.StopReason.String()))
		}
		if ei := telemetry.ErrIndex(e); ei != 0 {
			attrs = append(attrs, attribute.String(telemetry.AttrErrorType, telemetry.ErrorType(ei)))
		}
		op.SetAttributes(attrs...)
		if e.Outcome == core.OutcomeFailure || e.Outcome == core.OutcomeRejected {
			s.fail(op, e.Err)
		}
		op.End()
	}
}

// fail records err on sp (redacted) and sets the error status.
func (s *Subscriber) fail(sp trace.Span, err error) {
	msg := ""
	if err != nil {
		msg = s.redact(err)
		if msg != "" {
			sp.AddEvent("exception", trace.WithAttributes(
				attribute.String("exception.type", fmt.Sprintf("%T", err)),
				attribute.String("exception.message", msg)))
		}
	}
	sp.SetStatus(codes.Error, msg)
}

// appendLabels adds the wrapper's request labels.
func appendLabels(a []attribute.KeyValue, l *core.Labels) []attribute.KeyValue {
	str := func(k, v string) {
		if v != "" {
			a = append(a, attribute.String(k, v))
		}
	}
	str(telemetry.AttrHTTPMethod, l.HTTPMethod)
	str(telemetry.AttrHTTPRoute, telemetry.CutQuery(l.HTTPRoute))
	str(telemetry.AttrServerAddress, l.ServerAddress)
	if l.ServerPort != 0 {
		a = append(a, attribute.Int(telemetry.AttrServerPort, l.ServerPort))
	}
	str(telemetry.AttrDBSystem, l.DBSystem)
	str(telemetry.AttrDBOperation, l.DBOperation)
	str(telemetry.AttrRPCSystem, l.RPCSystem)
	str(telemetry.AttrRPCMethod, l.RPCMethod)
	return a
}

// appendStatus adds the attempt's response status labels.
func appendStatus(a []attribute.KeyValue, l *core.Labels) []attribute.KeyValue {
	if l.StatusCode != 0 {
		a = append(a, attribute.Int(telemetry.AttrHTTPStatusCode, l.StatusCode))
	}
	if l.RPCStatusCode != "" {
		a = append(a, attribute.String(telemetry.AttrRPCStatusCode, l.RPCStatusCode))
	}
	return a
}
