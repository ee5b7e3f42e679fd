package redressslog_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/redress-go/redress/core"
	"github.com/redress-go/redress/core/coretest"
	redressslog "github.com/redress-go/redress/instrument/slog"
)

// capture is a handler that keeps records as maps, at a minimum level.
type capture struct {
	min     slog.Level
	mu      sync.Mutex
	records []map[string]any
	handled int
}

func (c *capture) Enabled(_ context.Context, l slog.Level) bool { return l >= c.min }
func (c *capture) Handle(_ context.Context, r slog.Record) error {
	m := map[string]any{"msg": r.Message, "level": r.Level.String()}
	r.Attrs(func(a slog.Attr) bool { m[a.Key] = a.Value.Any(); return true })
	c.mu.Lock()
	c.records = append(c.records, m)
	c.handled++
	c.mu.Unlock()
	return nil
}
func (c *capture) WithAttrs([]slog.Attr) slog.Handler { return c }
func (c *capture) WithGroup(string) slog.Handler      { return c }
func (c *capture) msgs() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, r := range c.records {
		out = append(out, r["level"].(string)+" "+r["msg"].(string))
	}
	return out
}

type panicky struct{ capture }

func (p *panicky) Handle(context.Context, slog.Record) error { panic("handler exploded") }

type failing struct{ capture }

func (f *failing) Handle(context.Context, slog.Record) error { return errors.New("disk full") }

func TestDefaultLevels(t *testing.T) {
	for _, tc := range []struct {
		kind core.EventKind
		want slog.Level
	}{
		{core.EventSuccess, slog.LevelDebug},
		{core.EventAttemptEnd, slog.LevelDebug},
		{core.EventRetry, slog.LevelWarn},
		{core.EventPermanentFail, slog.LevelError},
		{core.EventMaxAttemptsExceeded, slog.LevelError},
		{core.EventBudgetExhausted, slog.LevelError},
		{core.EventCircuitRejected, slog.LevelError},
		{core.EventDeadlineExceeded, slog.LevelError},
		{core.EventCanceled, slog.LevelInfo},
		{core.EventScheduled, slog.LevelInfo},
		{core.EventCircuitOpened, slog.LevelError},
		{core.EventCircuitHalfOpen, slog.LevelWarn},
		{core.EventCircuitClosed, slog.LevelInfo},
		{core.EventFallback, slog.LevelWarn},
		{core.EventFaultInjected, slog.LevelWarn},
		{core.EventRateLimitWait, slog.LevelDebug},
		{core.EventHedge, slog.LevelDebug},
		{core.EventHedgeWon, slog.LevelInfo},
		{core.EventConcurrencyLimited, slog.LevelError},
	} {
		t.Run(tc.kind.String(), func(t *testing.T) {
			if got := redressslog.DefaultLevel(tc.kind); got != tc.want {
				t.Fatalf("DefaultLevel(%s) = %s, want %s", tc.kind, got, tc.want)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	h := &capture{}
	for _, tc := range []struct {
		name  string
		cfg   redressslog.Config
		field string
	}{
		{"nil fan-out handler", redressslog.Config{Handlers: []slog.Handler{h, nil}}, "Config.Handlers[1]"},
		{"route without handler", redressslog.Config{Routes: []redressslog.Route{{Events: core.CircuitEvents}}}, "Config.Routes[0].Handler"},
		{"route without events", redressslog.Config{Routes: []redressslog.Route{{Handler: h}}}, "Config.Routes[0].Events"},
		{"invalid level kind", redressslog.Config{Levels: map[core.EventKind]slog.Level{200: slog.LevelInfo}}, "Config.Levels"},
		{"unknown event bits", redressslog.Config{Events: 1 << 31}, "Config.Events"},
		{"route with unknown event bits", redressslog.Config{Routes: []redressslog.Route{{Handler: h, Events: core.CircuitEvents | 1<<31}}}, "Config.Routes[0].Events"},
		{"typed-nil handler", redressslog.Config{Handler: (*slog.JSONHandler)(nil)}, "Config.Handler"},
		{"typed-nil fan-out handler", redressslog.Config{Handlers: []slog.Handler{(*capture)(nil)}}, "Config.Handlers[0]"},
		{"typed-nil route handler", redressslog.Config{Routes: []redressslog.Route{{Handler: (*slog.TextHandler)(nil), Events: core.CircuitEvents}}}, "Config.Routes[0].Handler"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := redressslog.New(tc.cfg)
			var ce *core.ConfigError
			if !errors.As(err, &ce) || ce.Field != tc.field {
				t.Fatalf("err = %v, want ConfigError on %s", err, tc.field)
			}
		})
	}
}

// A call that fails twice and then succeeds, logged as JSON at debug.
func TestJSONRecordsOfARetriedCall(t *testing.T) {
	var buf bytes.Buffer
	sub, err := redressslog.New(redressslog.Config{Handler: slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})})
	if err != nil {
		t.Fatal(err)
	}
	clk := coretest.NewFakeClock(coretest.StartTime)
	br, _ := core.NewBreaker(core.BreakerConfig{Name: "stock", Clock: clk})
	p, _ := core.NewPolicy(core.PolicyConfig{Name: "inventory", Breaker: br, Bus: core.NewBus(sub), Clock: clk, Sleeper: clk,
		Retry: core.RetryConfig{Strategy: coretest.Delays(0)}})
	err = coretest.RunCall(p, context.Background(), &core.Call{Operation: "GetStock", Labels: core.Labels{HTTPMethod: "GET", ServerAddress: "stock.internal", ServerPort: 8080}},
		coretest.FailTimes(2, core.Transient(errors.New("reset"))).Op())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	var last map[string]any
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not JSON: %q", line)
		}
		got = append(got, m["level"].(string)+" "+m["msg"].(string))
		last = m
		for _, k := range []string{"redress.event", "redress.policy", "redress.operation", "http.request.method", "server.address", "server.port", "redress.circuit_breaker.name"} {
			if _, ok := m[k]; !ok {
				t.Errorf("record %q lacks %s", line, k)
			}
		}
	}
	want := []string{
		"DEBUG redress attempt_end", "WARN redress retry",
		"DEBUG redress attempt_end", "WARN redress retry",
		"DEBUG redress attempt_end", "DEBUG redress success",
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("records:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if last["redress.outcome"] != "success_after_retry" || last["redress.attempts"] != float64(3) || last["redress.operation"] != "GetStock" {
		t.Fatalf("success record: %v", last)
	}
}

func TestEnabledIsAskedFirst(t *testing.T) {
	h := &capture{min: slog.LevelError}
	sub, _ := redressslog.New(redressslog.Config{Handler: h})
	p, _ := core.NewPolicy(core.PolicyConfig{Name: "p", Bus: core.NewBus(sub), Sleeper: coretest.InstantSleeper{}})
	_ = p.Run(context.Background(), coretest.FailTimes(1, core.Transient(errors.New("x"))).Op())
	if h.handled != 0 {
		t.Fatalf("handler got %d records below its level: %v", h.handled, h.msgs())
	}
	_ = p.Run(context.Background(), func(context.Context) error { return &core.StatusError{Code: 403} })
	if got := h.msgs(); len(got) != 1 || got[0] != "ERROR redress permanent_fail" {
		t.Fatalf("records = %v", got)
	}
}

func TestTraceAndSpanIDs(t *testing.T) {
	h := &capture{min: slog.LevelDebug}
	sub, _ := redressslog.New(redressslog.Config{Handler: h})
	tp := sdktrace.NewTracerProvider()
	defer func() { _ = tp.Shutdown(context.Background()) }()
	ctx, span := tp.Tracer("test").Start(context.Background(), "parent")
	defer span.End()
	p, _ := core.NewPolicy(core.PolicyConfig{Name: "p", Bus: core.NewBus(sub)})
	_ = p.Run(ctx, func(context.Context) error { return nil })
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.records) == 0 {
		t.Fatal("no records")
	}
	for _, r := range h.records {
		if r["trace_id"] != span.SpanContext().TraceID().String() || r["span_id"] != span.SpanContext().SpanID().String() {
			t.Fatalf("record %v lacks the span's ids", r)
		}
	}
}

// Fan-out and routing: every handler gets what it is enabled for, breaker
// events also reach their own handler, and a failing or panicking handler
// stops nobody.
func TestFanOutAndRouting(t *testing.T) {
	all := &capture{min: slog.LevelDebug}
	breakers := &capture{min: slog.LevelDebug}
	boom := &panicky{capture{min: slog.LevelDebug}}
	full := &failing{capture{min: slog.LevelDebug}}
	var mu sync.Mutex
	var handlerErrs []string
	sub, err := redressslog.New(redressslog.Config{
		Handlers: []slog.Handler{boom, full, all},
		Routes:   []redressslog.Route{{Events: core.CircuitEvents, Handler: breakers}},
		OnError: func(err error) {
			mu.Lock()
			handlerErrs = append(handlerErrs, err.Error())
			mu.Unlock()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	bus := core.NewBus(sub)
	br, _ := core.NewBreaker(core.BreakerConfig{Name: "db", FailureThreshold: 1})
	p, _ := core.NewPolicy(core.PolicyConfig{Name: "db", Breaker: br, Bus: bus, Retry: core.RetryConfig{MaxAttempts: 1}})
	_ = p.Run(context.Background(), func(context.Context) error { return core.Transient(errors.New("x")) })
	_ = p.Run(context.Background(), func(context.Context) error { return nil })

	wantAll := []string{"DEBUG redress attempt_end", "ERROR redress circuit_opened", "ERROR redress max_attempts_exceeded", "ERROR redress circuit_rejected"}
	if got := all.msgs(); strings.Join(got, "|") != strings.Join(wantAll, "|") {
		t.Errorf("fan-out handler got %v, want %v", got, wantAll)
	}
	if got := breakers.msgs(); len(got) != 1 || got[0] != "ERROR redress circuit_opened" {
		t.Errorf("breaker route got %v", got)
	}
	if bus.Panics() != 0 {
		t.Errorf("a handler panic reached the bus")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(handlerErrs) != len(wantAll) || !strings.Contains(handlerErrs[0], "handler exploded") || !strings.Contains(handlerErrs[0], "disk full") {
		t.Errorf("OnError got %q", handlerErrs)
	}
}

// The secret in the error appears only under "error", and the redaction
// hook removes it from there too; the one in a raw URL label never appears.
func TestPrivacyAndRedaction(t *testing.T) {
	const secret = "sk_live_SECRET123"
	run := func(redact func(error) string) []map[string]any {
		h := &capture{min: slog.LevelDebug}
		sub, _ := redressslog.New(redressslog.Config{Handler: h, RedactError: redact})
		p, _ := core.NewPolicy(core.PolicyConfig{Name: "api", Bus: core.NewBus(sub), Sleeper: coretest.InstantSleeper{}})
		_ = coretest.RunCall(p, context.Background(), &core.Call{
			Operation: "GET /items?token=" + secret,
			Labels:    core.Labels{HTTPMethod: "GET", HTTPRoute: "/items?token=" + secret},
		}, func(context.Context) error { return core.Transient(errors.New("401 for token " + secret)) })
		return h.records
	}
	for _, r := range run(nil) {
		for k, v := range r {
			if s, ok := v.(string); ok && strings.Contains(s, secret) && k != "error" {
				t.Errorf("secret under key %q: %v", k, r)
			}
		}
		if r["redress.operation"] != "GET /items" {
			t.Errorf("operation = %v, want the query string cut", r["redress.operation"])
		}
	}
	redacted := run(func(err error) string { return strings.ReplaceAll(err.Error(), secret, "[REDACTED]") })
	seen := false
	for _, r := range redacted {
		for k, v := range r {
			if s, ok := v.(string); ok && strings.Contains(s, secret) {
				t.Errorf("secret under key %q despite redaction", k)
			}
		}
		if e, ok := r["error"].(string); ok && strings.Contains(e, "[REDACTED]") {
			seen = true
		}
	}
	if !seen {
		t.Error("no redacted error message logged")
	}
}

// TestComponentRecords: the records of the policy components carry their
// own keys: a rate limiter's wait, the fault injected and its latency, the
// stop reason a fallback replaced.
func TestComponentRecords(t *testing.T) {
	h := &capture{}
	sub, err := redressslog.New(redressslog.Config{Handler: h, Levels: map[core.EventKind]slog.Level{core.EventRateLimitWait: slog.LevelInfo}})
	if err != nil {
		t.Fatal(err)
	}
	clk := coretest.NewFakeClock(coretest.StartTime)
	rl, err := core.NewRateLimiter(core.RateLimiterConfig{Rate: 0.1, Burst: 1, MaxWait: time.Minute, Clock: clk}) // the retry waits

	if err != nil {
		t.Fatal(err)
	}
	faults, err := core.NewFaultInjector(core.FaultConfig{Rules: []core.FaultRule{{Rate: 1, Latency: 5 * time.Millisecond, Err: core.InjectedError(core.ClassServerError)}}})
	if err != nil {
		t.Fatal(err)
	}
	faults.Enable()
	p, err := core.NewPolicy(core.PolicyConfig{Name: "p", Limiter: rl, Faults: faults, Fallback: core.FallbackValue(1),
		Retry: core.RetryConfig{MaxAttempts: 2}, Bus: core.NewBus(sub), Clock: clk, Sleeper: clk})
	if err != nil {
		t.Fatal(err)
	}
	_ = p.Run(context.Background(), func(context.Context) error { return nil })
	got := map[string]map[string]string{}
	h.mu.Lock()
	for _, r := range h.records {
		a := map[string]string{}
		for k, v := range r {
			a[k] = fmt.Sprint(v)
		}
		got[a["redress.event"]] = a
	}
	h.mu.Unlock()
	if w := got["rate_limit_wait"]; w["redress.wait"] == "" || w["redress.wait"] == "0s" {
		t.Errorf("rate_limit_wait record %v, want the wait in redress.wait", w)
	}
	if f := got["fault_injected"]; f["redress.fault"] != "error" || f["redress.wait"] != "5ms" || f["level"] != "WARN" || !strings.Contains(f["error"], "injected fault (server_error)") {
		t.Errorf("fault_injected record %v, want fault=error, wait=5ms, WARN, the injected error", f)
	}
	if f := got["fallback"]; f["redress.stop_reason"] != "max_attempts" || f["level"] != "WARN" {
		t.Errorf("fallback record %v, want stop_reason=max_attempts at WARN", f)
	}
}
