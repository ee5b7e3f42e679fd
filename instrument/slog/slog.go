package redressslog

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/redress-go/redress/internal/typednil"

	slogmulti "github.com/samber/slog-multi"
	"go.opentelemetry.io/otel/trace"

	"github.com/redress-go/redress/core"
	"github.com/redress-go/redress/internal/telemetry"
)

// Record keys that are not in the telemetry name table.
const (
	// KeyError is the key of the (redacted) error message.
	KeyError = "error"
	// KeyReason is the key of the classification's low-cardinality reason.
	KeyReason = "redress.reason"
	// KeyAttemptDuration is the key of an attempt's duration (attempt_end).
	KeyAttemptDuration = "redress.attempt.duration"
	// KeyOperationDuration is the key of an operation's duration (terminal events).
	KeyOperationDuration = "redress.operation.duration"
	// KeyRetryDelay is the key of the chosen delay (retry, scheduled).
	KeyRetryDelay = "redress.retry.delay"
	// KeyBudgetRemaining is the key of the retries the budget still allows.
	KeyBudgetRemaining = "redress.budget.remaining"
	// KeyWait is the key of a rate limiter's wait (rate_limit_wait) and of
	// an injected latency (fault_injected).
	KeyWait = "redress.wait"
	// KeyFault is the key of the fault injected (fault_injected): latency,
	// error or result.
	KeyFault = "redress.fault"
	// KeyHedge is the key of a hedge's number (hedge, hedge_won).
	KeyHedge = "redress.hedge"
	// KeyPrevState is the key of the breaker's state before a transition.
	KeyPrevState = "redress.circuit_breaker.previous_state"
	// KeyTraceID and KeySpanID are the keys of the ids of the span in the
	// event's context, if any.
	KeyTraceID = "trace_id"
	KeySpanID  = "span_id"
)

// DefaultEvents is the set of events logged by default.
const DefaultEvents = telemetry.DefaultEvents

const maxKinds = 32

// Subscriber is a core.Subscriber that writes each event as one slog record
// whose message is "redress <event>" (for example "redress retry") and whose
// attribute keys are those of the telemetry name table (redress.policy,
// redress.operation, error.type, ...). A Subscriber is safe for concurrent use.
type Subscriber struct {
	h      slog.Handler
	com    telemetry.Common
	levels [maxKinds]slog.Level
	msgs   [maxKinds]string
}

// DefaultLevel returns the level an event is logged at by default.
func DefaultLevel(k core.EventKind) slog.Level {
	switch k {
	case core.EventRetry, core.EventCircuitHalfOpen, core.EventSharedStateDegraded, core.EventFallback, core.EventFaultInjected:
		return slog.LevelWarn
	case core.EventCircuitOpened:
		return slog.LevelError
	case core.EventCircuitClosed, core.EventCanceled, core.EventScheduled:
		return slog.LevelInfo
	case core.EventSuccess, core.EventOperationStart, core.EventAttemptStart, core.EventAttemptEnd, core.EventRateLimitWait, core.EventHedge:
		return slog.LevelDebug
	}
	if k.Terminal() {
		return slog.LevelError
	}
	return slog.LevelInfo
}

// New returns a subscriber, or a *core.ConfigError naming the invalid field.
func New(cfg Config) (*Subscriber, error) {
	com, err := telemetry.NewCommon(telemetry.Common{Events: cfg.Events, Policy: cfg.Policy, RedactError: cfg.RedactError, OnError: cfg.OnError})
	if err != nil {
		return nil, err
	}
	if typednil.Is(cfg.Handler) {
		return nil, &core.ConfigError{Field: "Config.Handler", Reason: fmt.Sprintf("is a nil %T (a typed nil, which would panic at the first record): leave it nil for slog.Default", cfg.Handler)}
	}
	s := &Subscriber{com: com}
	for _, k := range core.EventKinds() {
		s.levels[k] = DefaultLevel(k)
		s.msgs[k] = "redress " + k.String()
	}
	for k, l := range cfg.Levels {
		if int(k) >= len(core.EventKinds()) {
			return nil, &core.ConfigError{Field: "Config.Levels", Reason: fmt.Sprintf("has an invalid event kind %d", k)}
		}
		s.levels[k] = l
	}
	var hs []slog.Handler
	if cfg.Handler != nil {
		hs = append(hs, cfg.Handler)
	}
	for i, h := range cfg.Handlers {
		if h == nil || typednil.Is(h) {
			return nil, &core.ConfigError{Field: fmt.Sprintf("Config.Handlers[%d]", i), Reason: "must not be nil"}
		}
		hs = append(hs, h)
	}
	if len(cfg.Routes) > 0 {
		r := slogmulti.Router()
		for i, rt := range cfg.Routes {
			if rt.Handler == nil || typednil.Is(rt.Handler) {
				return nil, &core.ConfigError{Field: fmt.Sprintf("Config.Routes[%d].Handler", i), Reason: "must not be nil"}
			}
			if rt.Events == 0 {
				return nil, &core.ConfigError{Field: fmt.Sprintf("Config.Routes[%d].Events", i), Reason: "must not be empty"}
			}
			if rt.Events&^core.AllEvents != 0 {
				return nil, &core.ConfigError{Field: fmt.Sprintf("Config.Routes[%d].Events", i), Reason: fmt.Sprintf("has bits %#x that are no event kind", uint32(rt.Events&^core.AllEvents))}
			}
			r = r.Add(rt.Handler, MatchEvents(rt.Events))
		}
		hs = append(hs, r.Handler())
	}
	switch len(hs) {
	case 0:
		s.h = slog.Default().Handler()
	case 1:
		s.h = hs[0]
	default:
		s.h = slogmulti.Fanout(hs...)
	}
	return s, nil
}

// MatchEvents returns a slog-multi router predicate that matches the records
// of a redress Subscriber whose event is in set.
func MatchEvents(set core.EventSet) func(ctx context.Context, r slog.Record) bool {
	return func(_ context.Context, r slog.Record) bool {
		found := false
		r.Attrs(func(a slog.Attr) bool {
			if a.Key != telemetry.AttrEvent {
				return true
			}
			if k, ok := core.ParseEventKind(a.Value.String()); ok && set.Has(k) {
				found = true
			}
			return false
		})
		return found
	}
}

// Close releases nothing (the subscriber holds no resources beyond its
// handler, which it does not own) and returns nil; it is the Close every
// redress subscriber has.
func (s *Subscriber) Close() error { return nil }

// Events implements core.Subscriber.
func (s *Subscriber) Events() core.EventSet { return s.com.Events }

// Handle implements core.Subscriber. Nothing is built when the handler is
// not enabled for the event's level. With Config.OnError set, a panic in
// Handle is recovered and reported there; a handler's panic is recovered
// either way.
func (s *Subscriber) Handle(ctx context.Context, e core.Event) {
	if !s.com.Events.Has(e.Kind) || int(e.Kind) >= maxKinds {
		return
	}
	if s.com.OnError != nil {
		defer s.com.Recover("redressslog")
	}
	if !s.com.Wants(e.Policy) {
		return
	}
	lvl := s.levels[e.Kind]
	if !s.h.Enabled(ctx, lvl) {
		return
	}
	r := slog.NewRecord(time.Now(), lvl, s.msgs[e.Kind], 0)
	r.AddAttrs(
		slog.String(telemetry.AttrEvent, e.Kind.String()),
		slog.String(telemetry.AttrPolicy, e.Policy),
		slog.String(telemetry.AttrOperation, cutQuery(e.Operation)),
	)
	if e.Attempt > 0 {
		r.AddAttrs(slog.Int(telemetry.AttrAttempts, e.Attempt))
	}
	if et := errorType(&e); et != "" {
		r.AddAttrs(slog.String(telemetry.AttrErrorType, et))
		if e.Reason != "" {
			r.AddAttrs(slog.String(KeyReason, e.Reason))
		}
	}
	if e.Err != nil {
		if msg := s.com.RedactError(e.Err); msg != "" {
			r.AddAttrs(slog.String(KeyError, msg))
		}
	}
	switch {
	case e.Kind == core.EventAttemptEnd:
		r.AddAttrs(slog.Duration(KeyAttemptDuration, e.AttemptDuration))
	case e.Kind == core.EventRateLimitWait:
		r.AddAttrs(slog.Duration(KeyWait, e.Sleep))
	case e.Kind == core.EventFaultInjected:
		r.AddAttrs(slog.String(KeyFault, e.Reason))
		if e.Sleep > 0 {
			r.AddAttrs(slog.Duration(KeyWait, e.Sleep))
		}
	case e.Kind == core.EventFallback:
		r.AddAttrs(slog.String(telemetry.AttrStopReason, e.StopReason.String()))
	case e.Kind == core.EventHedge || e.Kind == core.EventHedgeWon:
		r.AddAttrs(slog.Int(KeyHedge, e.Hedge))
	case e.Kind == core.EventRetry:
		r.AddAttrs(slog.Duration(KeyRetryDelay, e.Sleep))
		if e.Budget != nil {
			r.AddAttrs(slog.Float64(KeyBudgetRemaining, e.BudgetRemaining))
		}
	case e.Kind.Terminal():
		r.AddAttrs(
			slog.String(telemetry.AttrOutcome, e.Outcome.String()),
			slog.Duration(KeyOperationDuration, e.Elapsed),
		)
		if e.StopReason != core.StopNone {
			r.AddAttrs(slog.String(telemetry.AttrStopReason, e.StopReason.String()))
		}
		if e.Kind == core.EventScheduled {
			r.AddAttrs(slog.Duration(KeyRetryDelay, e.Sleep))
		}
		if e.Kind == core.EventBudgetExhausted && e.Budget != nil {
			r.AddAttrs(slog.Float64(KeyBudgetRemaining, e.BudgetRemaining))
		}
	}
	if e.Breaker != nil {
		r.AddAttrs(
			slog.String(telemetry.AttrBreaker, e.Breaker.Name()),
			slog.String(telemetry.AttrState, e.BreakerState.String()),
		)
		if e.Kind == core.EventCircuitOpened || e.Kind == core.EventCircuitHalfOpen || e.Kind == core.EventCircuitClosed {
			r.AddAttrs(slog.String(KeyPrevState, e.PrevBreakerState.String()))
		}
	}
	addLabels(&r, &e.Labels)
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r.AddAttrs(
			slog.String(KeyTraceID, sc.TraceID().String()),
			slog.String(KeySpanID, sc.SpanID().String()),
		)
	}
	s.emit(ctx, r)
}

func (s *Subscriber) emit(ctx context.Context, r slog.Record) {
	defer s.com.Recover("redressslog")
	if err := s.h.Handle(ctx, r); err != nil && s.com.OnError != nil {
		s.com.OnError(err)
	}
}

func addLabels(r *slog.Record, l *core.Labels) {
	str := func(k, v string) {
		if v != "" {
			r.AddAttrs(slog.String(k, v))
		}
	}
	str(telemetry.AttrHTTPMethod, l.HTTPMethod)
	str(telemetry.AttrHTTPRoute, cutQuery(l.HTTPRoute))
	str(telemetry.AttrServerAddress, l.ServerAddress)
	if l.ServerPort != 0 {
		r.AddAttrs(slog.Int(telemetry.AttrServerPort, l.ServerPort))
	}
	if l.StatusCode != 0 {
		r.AddAttrs(slog.Int(telemetry.AttrHTTPStatusCode, l.StatusCode))
	}
	str(telemetry.AttrDBSystem, l.DBSystem)
	str(telemetry.AttrDBOperation, l.DBOperation)
	str(telemetry.AttrRPCSystem, l.RPCSystem)
	str(telemetry.AttrRPCMethod, telemetry.RPCMethod(l.RPCMethod))
	str(telemetry.AttrRPCStatusCode, l.RPCStatusCode)
}

// cutQuery drops a query string or fragment from a label that should be a
// route template, in case a wrapper passed a raw URL.
func cutQuery(s string) string {
	if i := strings.IndexAny(s, "?#"); i >= 0 {
		return s[:i]
	}
	return s
}

// errorType is the error.type of e: the class of a failed attempt, of a
// retried failure, or of the last failure of an operation that failed after
// at least one attempt; "" otherwise.
func errorType(e *core.Event) string {
	switch {
	case e.Kind == core.EventAttemptEnd:
		if e.Err == nil {
			return ""
		}
	case e.Kind == core.EventRetry:
	case e.Kind.Terminal():
		if e.Outcome != core.OutcomeFailure || e.Attempt == 0 {
			return ""
		}
	default:
		return ""
	}
	return e.Class.String()
}
