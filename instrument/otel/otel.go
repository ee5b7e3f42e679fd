package redressotel

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/redress-go/redress/internal/typednil"

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
	tracer     trace.Tracer
	in         *instruments
	events     core.EventSet // the events received
	com        telemetry.Common
	spans      bool
	asEvents   bool
	startAttrs bool

	spanOps  cowmap.Map[spanKey, *spanEntry]                // operation span names and attributes
	front    [telemetry.FrontSize]atomic.Pointer[spanEntry] // see entry
	attempts cowmap.Map[attemptKey, []attribute.KeyValue]   // attempt span attributes
	attFast  [2][9]atomic.Pointer[[]attribute.KeyValue]     // attempt attributes without status or error, by HTTP-ness and attempt
}

// DurationFree implements core.DurationFree: without metrics the subscriber
// reads no event durations (the tracer times the spans itself), so the
// engine need not read the clock for it.
func (s *Subscriber) DurationFree() bool { return s.in == nil }

// DefaultEvents is the default Config.Events: every event but the
// operation_start and attempt_start markers.
const DefaultEvents = telemetry.DefaultEvents

// spanEvents are the events received with spans, whatever Config.Events
// says: the start markers open the spans, attempt_end and the terminal
// events end them.
var spanEvents = func() core.EventSet {
	set := core.EventSet(1<<core.EventOperationStart | 1<<core.EventAttemptStart | 1<<core.EventAttemptEnd)
	for _, k := range core.EventKinds() {
		if k.Terminal() {
			set |= 1 << k
		}
	}
	return set
}()

// New returns a subscriber, or the error of the meter that refused an
// instrument.
func New(cfg Config) (*Subscriber, error) {
	if cfg.DisableSpans && cfg.DisableMetrics {
		return nil, &core.ConfigError{Field: "Config.DisableMetrics", Reason: "must not be set together with DisableSpans (the subscriber would record nothing)"}
	}
	if typednil.Is(cfg.TracerProvider) {
		return nil, &core.ConfigError{Field: "Config.TracerProvider", Reason: fmt.Sprintf("is a nil %T (a typed nil, which would panic at the first span): leave it nil for the global provider", cfg.TracerProvider)}
	}
	if typednil.Is(cfg.MeterProvider) {
		return nil, &core.ConfigError{Field: "Config.MeterProvider", Reason: fmt.Sprintf("is a nil %T (a typed nil, which would panic at construction): leave it nil for the global provider", cfg.MeterProvider)}
	}
	com, err := telemetry.NewCommon(telemetry.Common{Events: cfg.Events, Policy: cfg.Policy, RedactError: cfg.RedactError, OnError: cfg.OnError})
	if err != nil {
		return nil, err
	}
	if err := telemetry.CheckDeclared(cfg.DeclarePolicies); err != nil {
		return nil, err
	}
	s := &Subscriber{com: com, spans: !cfg.DisableSpans, asEvents: cfg.AttemptsAsEvents, startAttrs: cfg.StartAttributes}
	if s.spans {
		tp := cfg.TracerProvider
		if tp == nil {
			tp = otel.GetTracerProvider()
		}
		s.tracer = tp.Tracer(telemetry.Scope, trace.WithInstrumentationVersion(Version))
		s.events = com.Events | spanEvents
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
		s.events |= com.Events
	}
	for _, p := range cfg.DeclarePolicies {
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

// Handle implements core.Subscriber. With Config.OnError set, a panic in
// Handle is recovered and reported there.
func (s *Subscriber) Handle(ctx context.Context, e core.Event) {
	if s.com.OnError != nil {
		defer s.com.Recover("redressotel")
	}
	if !s.com.Wants(e.Policy) {
		return
	}
	if s.in != nil && s.com.Events.Has(e.Kind) {
		s.in.record(ctx, &e)
	}
	if s.spans {
		s.span(ctx, &e)
	}
}

// fail records err on sp (redacted) and sets the error status.
func (s *Subscriber) fail(sp trace.Span, err error) {
	msg := ""
	if err != nil {
		msg = s.com.RedactError(err)
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
	str(telemetry.AttrRPCMethod, telemetry.RPCMethod(l.RPCMethod))
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
