package redressotel_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/redress-go/redress/core"
	"github.com/redress-go/redress/core/coretest"
	redressotel "github.com/redress-go/redress/instrument/otel"
	"github.com/redress-go/redress/internal/telemetry"
)

type pipeline struct {
	spans  *tracetest.SpanRecorder
	tp     *sdktrace.TracerProvider
	reader *sdkmetric.ManualReader
	mp     *sdkmetric.MeterProvider
	sub    *redressotel.Subscriber
}

func newPipeline(t *testing.T, cfg redressotel.Config) *pipeline {
	t.Helper()
	p := &pipeline{spans: tracetest.NewSpanRecorder(), reader: sdkmetric.NewManualReader()}
	p.tp = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(p.spans))
	p.mp = sdkmetric.NewMeterProvider(sdkmetric.WithReader(p.reader))
	cfg.TracerProvider, cfg.MeterProvider = p.tp, p.mp
	sub, err := redressotel.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p.sub = sub
	t.Cleanup(func() {
		_ = sub.Close()
		_ = p.tp.Shutdown(context.Background())
		_ = p.mp.Shutdown(context.Background())
	})
	return p
}

func attrsOf(kvs []attribute.KeyValue) map[string]string {
	m := map[string]string{}
	for _, kv := range kvs {
		m[string(kv.Key)] = kv.Value.Emit()
	}
	return m
}

// The exact span tree of a call that fails twice, then succeeds: one
// INTERNAL operation span, three attempt children, the retries as events, and
// a client span made inside the last attempt as the attempt span's child.
func TestSpanTreeFailTwiceThenSucceed(t *testing.T) {
	p := newPipeline(t, redressotel.Config{DisableMetrics: true})
	clk := coretest.NewFakeClock(coretest.StartTime)
	pol, _ := core.NewPolicy(core.PolicyConfig{Name: "inventory", Bus: core.NewBus(p.sub), Clock: clk, Sleeper: clk,
		Retry: core.RetryConfig{Strategy: coretest.Delays(100*time.Millisecond, 200*time.Millisecond)}})
	n := 0
	call := &core.Call{Operation: "GET /stock/{id}", Labels: core.Labels{HTTPMethod: "GET", ServerAddress: "stock", ServerPort: 80}}
	err := coretest.RunCall(pol, context.Background(), call, func(ctx context.Context) error {
		n++
		if n <= 2 {
			call.Labels.StatusCode = 503
			return &core.StatusError{Code: 503}
		}
		call.Labels.StatusCode = 200
		_, client := p.tp.Tracer("client").Start(ctx, "HTTP GET", trace.WithSpanKind(trace.SpanKindClient))
		client.End()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ended := p.spans.Ended()
	if len(ended) != 5 {
		t.Fatalf("%d spans, want 5 (operation, 3 attempts, client)", len(ended))
	}
	var op sdktrace.ReadOnlySpan
	var attempts []sdktrace.ReadOnlySpan
	var client sdktrace.ReadOnlySpan
	for _, s := range ended {
		switch s.Name() {
		case "GET /stock/{id}":
			op = s
		case "attempt":
			attempts = append(attempts, s)
		case "HTTP GET":
			client = s
		default:
			t.Fatalf("unexpected span %q", s.Name())
		}
	}
	if op == nil || len(attempts) != 3 || client == nil {
		t.Fatalf("span tree: op=%v attempts=%d client=%v", op != nil, len(attempts), client != nil)
	}
	if op.SpanKind() != trace.SpanKindInternal || op.Parent().IsValid() {
		t.Errorf("operation span: kind %v, parent %v", op.SpanKind(), op.Parent())
	}
	oa := attrsOf(op.Attributes())
	for k, want := range map[string]string{
		"redress.policy": "inventory", "redress.operation": "GET /stock/{id}", "redress.outcome": "success_after_retry",
		"redress.attempts": "3", "http.request.method": "GET", "server.address": "stock", "server.port": "80",
	} {
		if oa[k] != want {
			t.Errorf("operation span %s = %q, want %q", k, oa[k], want)
		}
	}
	if _, ok := oa["error.type"]; ok {
		t.Errorf("successful operation span has error.type")
	}
	if op.Status().Code.String() != "Unset" {
		t.Errorf("operation status = %v", op.Status())
	}
	var evs []string
	for _, e := range op.Events() {
		a := attrsOf(e.Attributes)
		evs = append(evs, fmt.Sprintf("%s attempt=%s class=%s delay=%s", e.Name, a["redress.attempts"], a["error.type"], a["redress.retry.delay"]))
	}
	if want := "retry attempt=1 class=server_error delay=0.1|retry attempt=2 class=server_error delay=0.2"; strings.Join(evs, "|") != want {
		t.Errorf("operation events = %q, want %q", strings.Join(evs, "|"), want)
	}
	sort.Slice(attempts, func(i, j int) bool { return attempts[i].StartTime().Before(attempts[j].StartTime()) })
	for i, a := range attempts {
		if a.Parent().SpanID() != op.SpanContext().SpanID() {
			t.Errorf("attempt %d is not a child of the operation span", i+1)
		}
		aa := attrsOf(a.Attributes())
		if aa["redress.attempts"] != fmt.Sprint(i+1) {
			t.Errorf("attempt %d: redress.attempts = %q", i+1, aa["redress.attempts"])
		}
		wantResend := ""
		if i > 0 {
			wantResend = fmt.Sprint(i)
		}
		if aa["http.request.resend_count"] != wantResend {
			t.Errorf("attempt %d: resend_count = %q, want %q", i+1, aa["http.request.resend_count"], wantResend)
		}
		wantStatus, wantCode, wantClass := "Error", "503", "server_error"
		if i == 2 {
			wantStatus, wantCode, wantClass = "Unset", "200", ""
		}
		if a.Status().Code.String() != wantStatus || aa["http.response.status_code"] != wantCode || aa["error.type"] != wantClass {
			t.Errorf("attempt %d: status %v, code %q, class %q", i+1, a.Status(), aa["http.response.status_code"], aa["error.type"])
		}
	}
	if client.Parent().SpanID() != attempts[2].SpanContext().SpanID() {
		t.Errorf("client span's parent is not the last attempt span")
	}
}

func TestAttemptsAsEvents(t *testing.T) {
	p := newPipeline(t, redressotel.Config{DisableMetrics: true, AttemptsAsEvents: true})
	pol, _ := core.NewPolicy(core.PolicyConfig{Name: "p", Bus: core.NewBus(p.sub), Sleeper: coretest.InstantSleeper{},
		Retry: core.RetryConfig{Strategy: coretest.Delays(0), MaxAttempts: 2}})
	err := pol.Run(context.Background(), func(ctx context.Context) error {
		_, client := p.tp.Tracer("client").Start(ctx, "db query")
		client.End()
		return core.Transient(errors.New("reset"))
	})
	if err == nil {
		t.Fatal("want an error")
	}
	ended := p.spans.Ended()
	if len(ended) != 3 {
		t.Fatalf("%d spans, want the operation and two client spans", len(ended))
	}
	op := ended[len(ended)-1]
	if op.Name() != "p" || op.Status().Code.String() != "Error" {
		t.Fatalf("operation span %q status %v", op.Name(), op.Status())
	}
	for _, c := range ended[:2] {
		if c.Parent().SpanID() != op.SpanContext().SpanID() {
			t.Errorf("client span is not a child of the operation span")
		}
	}
	var names []string
	for _, e := range op.Events() {
		names = append(names, e.Name)
	}
	if want := "attempt|retry|attempt|exception"; strings.Join(names, "|") != want {
		t.Errorf("events = %v, want %s", names, want)
	}
	oa := attrsOf(op.Attributes())
	if oa["redress.stop_reason"] != "max_attempts" || oa["error.type"] != "transient" || oa["redress.outcome"] != "failure" {
		t.Errorf("operation attributes = %v", oa)
	}
}

// point flattens one data point to "name{k=v,...}".
func key(name string, set attribute.Set) string {
	var parts []string
	for _, kv := range set.ToSlice() {
		parts = append(parts, string(kv.Key)+"="+kv.Value.Emit())
	}
	return name + "{" + strings.Join(parts, ",") + "}"
}

// normalize sorts the attributes of each key, as attribute.Set does.
func normalize(m map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		i := strings.IndexByte(k, '{')
		parts := strings.Split(strings.TrimSuffix(k[i+1:], "}"), ",")
		sort.Strings(parts)
		out[k[:i]+"{"+strings.Join(parts, ",")+"}"] = v
	}
	return out
}

func collect(t *testing.T, r *sdkmetric.ManualReader) (map[string]string, map[string]metricdata.Metrics) {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	points := map[string]string{}
	metrics := map[string]metricdata.Metrics{}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != telemetry.Scope {
			t.Errorf("scope %q", sm.Scope.Name)
		}
		for _, m := range sm.Metrics {
			metrics[m.Name] = m
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, dp := range d.DataPoints {
					points[key(m.Name, dp.Attributes)] = fmt.Sprint(dp.Value)
				}
			case metricdata.Gauge[int64]:
				for _, dp := range d.DataPoints {
					points[key(m.Name, dp.Attributes)] = fmt.Sprint(dp.Value)
				}
			case metricdata.Gauge[float64]:
				for _, dp := range d.DataPoints {
					points[key(m.Name, dp.Attributes)] = fmt.Sprint(dp.Value)
				}
			case metricdata.Histogram[float64]:
				for _, dp := range d.DataPoints {
					if fmt.Sprint(dp.Bounds) != fmt.Sprint(telemetry.Buckets) {
						t.Errorf("%s bounds = %v, want %v", m.Name, dp.Bounds, telemetry.Buckets)
					}
					points[key(m.Name, dp.Attributes)] = fmt.Sprintf("count=%d sum=%g", dp.Count, math.Round(dp.Sum*1e6)/1e6)
				}
			default:
				t.Errorf("%s: unexpected data %T", m.Name, m.Data)
			}
		}
	}
	return points, metrics
}

// The exact metric points of a scripted event sequence.
func TestMetricPointsOfScriptedEvents(t *testing.T) {
	p := newPipeline(t, redressotel.Config{DisableSpans: true})
	clk := coretest.NewFakeClock(coretest.StartTime)
	br, _ := core.NewBreaker(core.BreakerConfig{Name: "stock", FailureThreshold: 10, Clock: clk})
	bud, _ := core.NewBudget(core.BudgetConfig{MaxRetries: 4, Clock: clk})
	ctx := context.Background()
	base := core.Event{Policy: "inv", Operation: "Get", Breaker: br, Budget: bud}
	ev := func(k core.EventKind, f func(e *core.Event)) {
		e := base
		e.Kind = k
		f(&e)
		p.sub.Handle(ctx, e)
	}
	fail := errors.New("reset")
	ev(core.EventAttemptEnd, func(e *core.Event) {
		e.Attempt, e.Err, e.Class, e.AttemptDuration = 1, fail, core.ClassTransient, 30*time.Millisecond
	})
	ev(core.EventRetry, func(e *core.Event) {
		e.Attempt, e.Err, e.Class, e.Sleep = 1, fail, core.ClassTransient, 200*time.Millisecond
	})
	ev(core.EventAttemptEnd, func(e *core.Event) { e.Attempt, e.AttemptDuration = 2, 20*time.Millisecond })
	ev(core.EventSuccess, func(e *core.Event) {
		e.Attempt, e.Outcome, e.Elapsed = 2, core.OutcomeSuccessAfterRetry, 250*time.Millisecond
	})
	ev(core.EventBudgetExhausted, func(e *core.Event) {
		e.Attempt, e.Outcome, e.StopReason, e.Class, e.Elapsed = 1, core.OutcomeFailure, core.StopBudgetExhausted, core.ClassRateLimit, 2*time.Second
	})
	ev(core.EventCircuitOpened, func(e *core.Event) { e.BreakerState, e.PrevBreakerState = core.StateOpen, core.StateClosed })
	ev(core.EventCircuitRejected, func(e *core.Event) {
		e.Outcome, e.StopReason, e.BreakerState = core.OutcomeRejected, core.StopCircuitOpen, core.StateOpen
	})

	points, metrics := collect(t, p.reader)
	// Breakers and budgets seen only in events are held weakly: keep them
	// alive past the collection, or a GC before it drops their gauges.
	runtime.KeepAlive(br)
	runtime.KeepAlive(bud)
	const pl = "redress.operation=Get,redress.policy=inv"
	want := map[string]string{
		"redress.attempt.duration{error.type=transient," + pl + "}":                                                                     "count=1 sum=0.03",
		"redress.attempt.duration{" + pl + "}":                                                                                          "count=1 sum=0.02",
		"redress.retries{error.type=transient," + pl + "}":                                                                              "1",
		"redress.retry.delay{error.type=transient," + pl + "}":                                                                          "count=1 sum=0.2",
		"redress.operation.duration{" + pl + ",redress.outcome=success_after_retry}":                                                    "count=1 sum=0.25",
		"redress.operation.duration{error.type=rate_limit," + pl + ",redress.outcome=failure,redress.stop_reason=budget_exhausted}":     "count=1 sum=2",
		"redress.operation.duration{" + pl + ",redress.outcome=rejected,redress.stop_reason=circuit_open}":                              "count=1 sum=0",
		"redress.events{error.type=transient," + pl + ",redress.event=attempt_end}":                                                     "1",
		"redress.events{error.type=transient," + pl + ",redress.event=retry}":                                                           "1",
		"redress.events{" + pl + ",redress.event=attempt_end}":                                                                          "1",
		"redress.events{" + pl + ",redress.event=success}":                                                                              "1",
		"redress.events{error.type=rate_limit," + pl + ",redress.event=budget_exhausted}":                                               "1",
		"redress.events{" + pl + ",redress.event=circuit_opened}":                                                                       "1",
		"redress.events{" + pl + ",redress.event=circuit_rejected}":                                                                     "1",
		"redress.budget.rejections{" + pl + "}":                                                                                         "1",
		"redress.circuit_breaker.transitions{redress.circuit_breaker.name=stock,redress.circuit_breaker.state=open,redress.policy=inv}": "1",
		"redress.circuit_breaker.rejections{redress.circuit_breaker.name=stock," + pl + "}":                                             "1",
		"redress.circuit_breaker.state{redress.circuit_breaker.name=stock,redress.circuit_breaker.state=closed,redress.policy=inv}":     "1",
		"redress.circuit_breaker.state{redress.circuit_breaker.name=stock,redress.circuit_breaker.state=open,redress.policy=inv}":       "0",
		"redress.circuit_breaker.state{redress.circuit_breaker.name=stock,redress.circuit_breaker.state=half_open,redress.policy=inv}":  "0",
		"redress.budget.utilization{redress.policy=inv}":                                                                                "0",
	}
	want = normalize(want)
	for k, v := range want {
		if points[k] != v {
			t.Errorf("%s = %q, want %q", k, points[k], v)
		}
	}
	for k, v := range points {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected point %s = %s", k, v)
		}
	}
	for _, m := range telemetry.Metrics {
		got, ok := metrics[m.Name]
		if !ok {
			t.Errorf("instrument %s missing", m.Name)
			continue
		}
		if got.Unit != m.Unit || got.Description != m.Description {
			t.Errorf("%s: unit %q description %q, want %q %q", m.Name, got.Unit, got.Description, m.Unit, m.Description)
		}
	}
}

// Exemplars link the latency histograms to the spans when the SDK records
// them (its default trace-based filter: sampled spans only).
func TestExemplarsCarryTheTrace(t *testing.T) {
	p := newPipeline(t, redressotel.Config{})
	pol, _ := core.NewPolicy(core.PolicyConfig{Name: "p", Bus: core.NewBus(p.sub)})
	var traceID trace.TraceID
	_ = pol.Run(context.Background(), func(ctx context.Context) error {
		traceID = trace.SpanContextFromContext(ctx).TraceID()
		return nil
	})
	var rm metricdata.ResourceMetrics
	if err := p.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			h, ok := m.Data.(metricdata.Histogram[float64])
			if !ok {
				continue
			}
			for _, dp := range h.DataPoints {
				for _, ex := range dp.Exemplars {
					if trace.TraceID(ex.TraceID) == traceID {
						found++
					}
				}
			}
		}
	}
	if !traceID.IsValid() || found < 2 {
		t.Fatalf("exemplars with the call's trace id: %d, want the operation and attempt durations", found)
	}
}

func TestDeclareStartsSeriesAtZero(t *testing.T) {
	p := newPipeline(t, redressotel.Config{DisableSpans: true})
	br, _ := core.NewBreaker(core.BreakerConfig{Name: "b"})
	bud, _ := core.NewBudget(core.BudgetConfig{})
	pol, _ := core.NewPolicy(core.PolicyConfig{Name: "pay", Breaker: br, Budget: bud})
	p.sub.Declare(pol, "Charge")
	p.sub.Declare(nil)
	points, _ := collect(t, p.reader)
	counts := map[string]int{}
	for k, v := range points {
		name := k[:strings.IndexByte(k, '{')]
		counts[name]++
		if strings.HasPrefix(name, "redress.retries") && v != "0" {
			t.Errorf("%s = %s, want 0", k, v)
		}
	}
	for name, want := range map[string]int{
		"redress.retries": 10, "redress.budget.rejections": 2, "redress.circuit_breaker.rejections": 2,
		"redress.circuit_breaker.transitions": 3, "redress.circuit_breaker.state": 3, "redress.budget.utilization": 1,
	} {
		if counts[name] != want {
			t.Errorf("%s: %d points, want %d", name, counts[name], want)
		}
	}
}

// The secret in the error and in raw-URL labels appears only in the error
// message (status description, exception.message), and not at all with a
// redaction hook.
func TestPrivacy(t *testing.T) {
	const secret = "sk_live_SECRET123"
	for _, tc := range []struct {
		name    string
		redact  func(error) string
		allowed map[string]bool
	}{
		{"default", nil, map[string]bool{"exception.message": true, "status": true}},
		{"redacted", func(err error) string { return strings.ReplaceAll(err.Error(), secret, "***") }, map[string]bool{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPipeline(t, redressotel.Config{RedactError: tc.redact})
			pol, _ := core.NewPolicy(core.PolicyConfig{Name: "api", Bus: core.NewBus(p.sub), Sleeper: coretest.InstantSleeper{}})
			_ = coretest.RunCall(pol, context.Background(), &core.Call{
				Operation: "GET /items?token=" + secret,
				Labels:    core.Labels{HTTPMethod: "GET", HTTPRoute: "/items?token=" + secret},
			}, func(context.Context) error { return core.Transient(errors.New("bad token " + secret)) })
			check := func(where, v string) {
				if strings.Contains(v, secret) && !tc.allowed[where] {
					t.Errorf("secret in %s: %q", where, v)
				}
			}
			for _, s := range p.spans.Ended() {
				check("span name", s.Name())
				check("status", s.Status().Description)
				for _, kv := range s.Attributes() {
					check(string(kv.Key), kv.Value.Emit())
				}
				for _, e := range s.Events() {
					for _, kv := range e.Attributes {
						check(string(kv.Key), kv.Value.Emit())
					}
				}
			}
			points, _ := collect(t, p.reader)
			for k := range points {
				check("metric attributes", k)
			}
		})
	}
}

func TestSubscriberWithoutSpansWantsNoStartMarkers(t *testing.T) {
	sub, err := redressotel.New(redressotel.Config{DisableSpans: true, MeterProvider: sdkmetric.NewMeterProvider()})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if sub.Events().Has(core.EventOperationStart) || sub.Events().Has(core.EventAttemptStart) {
		t.Fatal("metrics-only subscriber wants the start markers")
	}
	ctx := context.Background()
	if got := sub.Decorate(ctx, core.Event{Kind: core.EventOperationStart}); got != ctx {
		t.Fatal("metrics-only subscriber decorated the context")
	}
}

// Two policies both named "http" (two redresshttp transports built from
// defaults), each with its own budget and breaker "api.example", observe as
// one attribute set each, with a well-defined value: the highest budget
// utilization and the worst breaker state, whatever the order of the
// events. The calls alternate and the last one comes from the policy whose
// budget is the emptier and whose breaker is closed.
func TestSameNamedPoliciesFoldIntoOnePoint(t *testing.T) {
	p := newPipeline(t, redressotel.Config{DisableSpans: true})
	clk := coretest.NewFakeClock(coretest.StartTime)
	mk := func(threshold int) *core.Policy {
		br, err := core.NewBreaker(core.BreakerConfig{Name: "api.example", FailureThreshold: threshold, RecoveryTimeout: time.Second, Clock: clk})
		if err != nil {
			t.Fatal(err)
		}
		bud, err := core.NewBudget(core.BudgetConfig{MaxRetries: 4, Clock: clk})
		if err != nil {
			t.Fatal(err)
		}
		pol, err := core.NewPolicy(core.PolicyConfig{Name: "http", Operation: "GET api.example", Breaker: br, Budget: bud, Bus: core.NewBus(p.sub), Clock: clk, Sleeper: clk,
			Retry: core.RetryConfig{MaxAttempts: 2, Strategy: coretest.Delays(0)}})
		if err != nil {
			t.Fatal(err)
		}
		return pol
	}
	pa, pb := mk(100), mk(4)
	ctx := context.Background()
	fail := core.Transient(errors.New("reset"))
	_ = pa.Run(ctx, coretest.FailTimes(1, fail).Op()) // a: 1 retry
	_ = pb.Run(ctx, coretest.FailTimes(5, fail).Op()) // b: 1 retry, 2 failures
	_ = pa.Run(ctx, coretest.FailTimes(0, fail).Op())
	_ = pb.Run(ctx, coretest.FailTimes(5, fail).Op()) // b: 1 retry, 4 failures: opens
	_ = pa.Run(ctx, coretest.FailTimes(0, fail).Op()) // the last event is a's
	if got := [2]float64{pa.Budget().Utilization(), pb.Budget().Utilization()}; got != [2]float64{0.25, 0.5} {
		t.Fatalf("budget utilizations %v, want [0.25 0.5]", got)
	}
	if pa.Breaker().State() != core.StateClosed || pb.Breaker().State() != core.StateOpen {
		t.Fatalf("breakers %v %v, want closed open", pa.Breaker().State(), pb.Breaker().State())
	}

	check := func(state string) {
		t.Helper()
		points, metrics := collect(t, p.reader)
		want := map[string]string{"redress.budget.utilization{redress.policy=http}": "0.5"}
		for _, s := range []string{"closed", "half_open", "open"} {
			v := "0"
			if s == state {
				v = "1"
			}
			want["redress.circuit_breaker.state{redress.circuit_breaker.name=api.example,redress.circuit_breaker.state="+s+",redress.policy=http}"] = v
		}
		for k, v := range want {
			if points[k] != v {
				t.Errorf("%s = %q, want %q", k, points[k], v)
			}
		}
		// One data point per attribute set: nothing observed twice.
		if n := len(metrics["redress.budget.utilization"].Data.(metricdata.Gauge[float64]).DataPoints); n != 1 {
			t.Errorf("redress.budget.utilization: %d points, want 1", n)
		}
		if n := len(metrics["redress.circuit_breaker.state"].Data.(metricdata.Gauge[int64]).DataPoints); n != 3 {
			t.Errorf("redress.circuit_breaker.state: %d points, want 3", n)
		}
	}
	for range 3 { // stable from collection to collection
		check("open")
	}
	// b's probe: half_open is now the worst, then both close.
	clk.Advance(2 * time.Second)
	_ = pb.Run(ctx, func(context.Context) error { check("half_open"); return nil })
	check("closed")
	runtime.KeepAlive(pa)
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cfg   redressotel.Config
		field string
	}{
		{"spans and metrics both disabled", redressotel.Config{DisableSpans: true, DisableMetrics: true}, "Config.DisableMetrics"},
		{"typed-nil tracer provider", redressotel.Config{TracerProvider: (*sdktrace.TracerProvider)(nil)}, "Config.TracerProvider"},
		{"typed-nil meter provider", redressotel.Config{MeterProvider: (*sdkmetric.MeterProvider)(nil)}, "Config.MeterProvider"},
		{"nil policy", redressotel.Config{DeclarePolicies: []*core.Policy{nil}}, "Config.DeclarePolicies[0]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := redressotel.New(tc.cfg)
			var ce *core.ConfigError
			if !errors.As(err, &ce) || ce.Field != tc.field {
				t.Fatalf("err = %v, want ConfigError on %s", err, tc.field)
			}
		})
	}
}

// TestComponentSpanEvents: the policy components' decisions are span
// events on the operation span: a rate limiter's wait, an injected fault
// (its kind, latency and class) and the fallback (the stop reason it
// replaced).
func TestComponentSpanEvents(t *testing.T) {
	p := newPipeline(t, redressotel.Config{DisableMetrics: true})
	clk := coretest.NewFakeClock(coretest.StartTime)
	rl, err := core.NewRateLimiter(core.RateLimiterConfig{Rate: 0.1, Burst: 1, MaxWait: time.Minute, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	faults, err := core.NewFaultInjector(core.FaultConfig{Rules: []core.FaultRule{{Rate: 1, Latency: 5 * time.Millisecond, Err: core.InjectedError(core.ClassServerError)}}})
	if err != nil {
		t.Fatal(err)
	}
	faults.Enable()
	pol, err := core.NewPolicy(core.PolicyConfig{Name: "inventory", Bus: core.NewBus(p.sub), Clock: clk, Sleeper: clk,
		Limiter: rl, Faults: faults, Fallback: core.FallbackValue(0), Retry: core.RetryConfig{MaxAttempts: 2}})
	if err != nil {
		t.Fatal(err)
	}
	_ = pol.Run(context.Background(), func(context.Context) error { return nil })
	spans := p.spans.Ended()
	var op sdktrace.ReadOnlySpan
	for _, s := range spans {
		if s.Name() != "attempt" {
			op = s
		}
	}
	if op == nil {
		t.Fatalf("no operation span among %d", len(spans))
	}
	got := map[string]map[string]string{}
	var names []string
	for _, ev := range op.Events() {
		names = append(names, ev.Name)
		got[ev.Name] = attrsOf(ev.Attributes)
	}
	if f := got["fault_injected"]; f["redress.fault"] != "error" || f["redress.wait"] != "0.005" || f["error.type"] != "server_error" {
		t.Errorf("fault_injected span event %v (events %v)", f, names)
	}
	if w := got["rate_limit_wait"]; w == nil || w["redress.wait"] == "" || w["redress.attempts"] != "2" {
		t.Errorf("rate_limit_wait span event %v (events %v), want the wait before attempt 2", w, names)
	}
	if f := got["fallback"]; f["redress.stop_reason"] != "max_attempts" {
		t.Errorf("fallback span event %v (events %v)", f, names)
	}
}
