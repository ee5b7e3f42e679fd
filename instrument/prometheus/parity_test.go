package redressprom_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/redress-go/redress/core"
	"github.com/redress-go/redress/core/coretest"
	redressotel "github.com/redress-go/redress/instrument/otel"
	redressprom "github.com/redress-go/redress/instrument/prometheus"
	"github.com/redress-go/redress/internal/telemetry"
)

// series flattens a gather into "family TYPE {labels} value" lines. Labels
// with an empty value are dropped: Prometheus treats them as absent (the
// OTel pipeline omits error.type on success, client_golang writes "").
func series(t *testing.T, g prometheus.Gatherer) (map[string]string, []string) {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	var families []string
	for _, mf := range mfs {
		families = append(families, mf.GetName()+" "+mf.GetType().String())
		for _, m := range mf.GetMetric() {
			var ls []string
			for _, l := range m.GetLabel() {
				if l.GetValue() != "" {
					ls = append(ls, l.GetName()+"="+l.GetValue())
				}
			}
			sort.Strings(ls)
			k := mf.GetName() + " " + mf.GetType().String() + " {" + strings.Join(ls, ",") + "}"
			out[k] = value(mf.GetType(), m)
		}
	}
	sort.Strings(families)
	return out, families
}

func value(typ dto.MetricType, m *dto.Metric) string {
	switch typ {
	case dto.MetricType_COUNTER:
		return fmt.Sprint(m.GetCounter().GetValue())
	case dto.MetricType_GAUGE:
		return fmt.Sprint(m.GetGauge().GetValue())
	case dto.MetricType_HISTOGRAM:
		h := m.GetHistogram()
		var b []string
		for _, bk := range h.GetBucket() {
			b = append(b, fmt.Sprintf("%g:%d", bk.GetUpperBound(), bk.GetCumulativeCount()))
		}
		return fmt.Sprintf("count=%d sum=%.6f buckets=%s", h.GetSampleCount(), h.GetSampleSum(), strings.Join(b, " "))
	}
	return "?"
}

// The same events through the OTel SDK + the OTel Prometheus exporter and
// through redressprom scrape to identical families, types, label sets and
// values.
func TestParityWithOTelPrometheusExporter(t *testing.T) {
	otelReg := prometheus.NewRegistry()
	exp, err := otelprom.New(otelprom.WithRegisterer(otelReg), otelprom.WithoutScopeInfo(), otelprom.WithoutTargetInfo())
	if err != nil {
		t.Fatal(err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp))
	defer func() { _ = mp.Shutdown(context.Background()) }()
	otelSub, err := redressotel.New(redressotel.Config{MeterProvider: mp, DisableSpans: true})
	if err != nil {
		t.Fatal(err)
	}
	defer otelSub.Close()
	promSub, promReg := newSub(t, redressprom.Config{})

	// A real event sequence from policies with a breaker and a budget.
	clk := coretest.NewFakeClock(coretest.StartTime)
	br, _ := core.NewBreaker(core.BreakerConfig{Name: "stock", FailureThreshold: 3, RecoveryTimeout: time.Second, Clock: clk})
	bud, _ := core.NewBudget(core.BudgetConfig{MaxRetries: 3, Clock: clk})
	declared, _ := core.NewPolicy(core.PolicyConfig{Name: "declared", Breaker: br})
	otelSub.Declare(declared, "Other")
	promSub.Declare(declared, "Other")
	rec := &coretest.Recorder{}
	p, _ := core.NewPolicy(core.PolicyConfig{Name: "inventory", Breaker: br, Budget: bud, Bus: core.NewBus(rec), Clock: clk, Sleeper: clk,
		Retry: core.RetryConfig{MaxAttempts: 3, Strategy: coretest.Delays(10*time.Millisecond, 700*time.Millisecond, 3*time.Second)}})
	ctx := context.Background()
	script := []error{
		nil,
		core.Transient(errors.New("reset")), nil,
		&core.StatusError{Code: 503}, &core.StatusError{Code: 503}, &core.StatusError{Code: 503},
		&core.StatusError{Code: 404},
	}
	i := 0
	for range 6 {
		// Wrapper labels as contrib/nethttp sets them: the status code of
		// each attempt; the port is not emitted.
		c := &core.Call{Operation: "GetStock", Labels: core.Labels{HTTPMethod: "GET", HTTPRoute: "/stock/{id}", ServerAddress: "stock.internal", ServerPort: 8443}}
		_ = coretest.RunCall(p, ctx, c, func(context.Context) error {
			clk.Advance(15 * time.Millisecond)
			var err error
			if i < len(script) {
				err = script[i]
			}
			i++
			c.Labels.StatusCode = 200
			var se *core.StatusError
			if errors.As(err, &se) {
				c.Labels.StatusCode = se.Code
			} else if err != nil {
				c.Labels.StatusCode = 0 // no response
			}
			return err
		})
	}
	// gRPC and database/sql labels, without a breaker.
	rpc, _ := core.NewPolicy(core.PolicyConfig{Name: "rpc", Bus: core.NewBus(rec), Clock: clk, Sleeper: clk,
		Retry: core.RetryConfig{MaxAttempts: 2, Strategy: coretest.Delays(0)}})
	for _, code := range []string{"UNAVAILABLE", "OK"} {
		c := &core.Call{Operation: "/shop.Cart/Get", Labels: core.Labels{RPCSystem: "grpc", RPCMethod: "/shop.Cart/Get", ServerAddress: "cart", ServerPort: 50051}}
		_ = coretest.RunCall(rpc, ctx, c, func(context.Context) error {
			clk.Advance(5 * time.Millisecond)
			c.Labels.RPCStatusCode = code
			if code != "OK" {
				return core.Transient(errors.New("unavailable"))
			}
			return nil
		})
	}
	_ = coretest.RunCall(rpc, ctx, &core.Call{Operation: "SELECT items", Labels: core.Labels{DBSystem: "sqlite", DBOperation: "SELECT items"}},
		func(context.Context) error { clk.Advance(time.Millisecond); return nil })
	clk.Advance(2 * time.Second)
	_ = p.Run(ctx, func(context.Context) error { return nil }) // half-open probe closes
	// A second policy named "inventory" with its own breaker "stock" and its
	// own budget (two clients built from the same defaults): both pipelines
	// fold them into one series, the worst state and the highest utilization.
	br2, _ := core.NewBreaker(core.BreakerConfig{Name: "stock", FailureThreshold: 1, RecoveryTimeout: time.Minute, Clock: clk})
	bud2, _ := core.NewBudget(core.BudgetConfig{MaxRetries: 2, Clock: clk})
	p2, _ := core.NewPolicy(core.PolicyConfig{Name: "inventory", Breaker: br2, Budget: bud2, Bus: core.NewBus(rec), Clock: clk, Sleeper: clk,
		Retry: core.RetryConfig{MaxAttempts: 2, Strategy: coretest.Delays(0)}})
	_ = coretest.RunCall(p2, ctx, &core.Call{Operation: "GetStock"}, coretest.FailTimes(1, core.Transient(errors.New("reset"))).Op())
	if br.State() != core.StateClosed || br2.State() != core.StateOpen || bud2.Utilization() >= bud.Utilization() {
		t.Fatalf("script: breakers %v %v, budgets %v %v; want closed, open, and the last event's budget the emptier",
			br.State(), br2.State(), bud.Utilization(), bud2.Utilization())
	}
	small, _ := core.NewBudget(core.BudgetConfig{MaxRetries: 1, Clock: clk})
	batch, _ := core.NewPolicy(core.PolicyConfig{Name: "batch", Budget: small, Bus: core.NewBus(rec), Clock: clk, Sleeper: clk,
		Retry: core.RetryConfig{MaxAttempts: 5, Strategy: coretest.Delays(0)}})
	_ = batch.Run(ctx, func(context.Context) error { return core.RateLimited(errors.New("slow down"), 0) })
	if rec.Count(core.EventBudgetExhausted) == 0 || rec.Count(core.EventCircuitRejected) == 0 || rec.Count(core.EventCircuitOpened) == 0 {
		t.Fatalf("the script did not exercise the breaker: %v", rec.Names())
	}
	for _, e := range rec.All() {
		if otelSub.Events().Has(e.Kind) {
			otelSub.Handle(ctx, e)
		}
		if promSub.Events().Has(e.Kind) {
			promSub.Handle(ctx, e)
		}
	}

	got, gotFam := series(t, promReg)
	want, wantFam := series(t, otelReg)
	// Breakers and budgets seen only in events are held weakly: keep them
	// alive past both gathers, or a GC between them drops one side's gauges.
	runtime.KeepAlive([]any{br, bud, br2, bud2, small})
	if strings.Join(gotFam, "\n") != strings.Join(wantFam, "\n") {
		t.Errorf("families differ:\nredressprom:\n%s\nOTel exporter:\n%s", strings.Join(gotFam, "\n"), strings.Join(wantFam, "\n"))
	}
	if len(wantFam) != len(telemetry.Metrics) {
		t.Errorf("%d families, want %d (one per instrument)", len(wantFam), len(telemetry.Metrics))
	}
	for _, m := range telemetry.Metrics {
		found := false
		for _, f := range wantFam {
			found = found || strings.HasPrefix(f, m.Prom+" ")
		}
		if !found {
			t.Errorf("the OTel exporter produced no family %s for %s: fix internal/telemetry", m.Prom, m.Name)
		}
	}
	// The wrapper labels are there, and only where they belong.
	for _, w := range []string{
		"redress_attempt_duration_seconds HISTOGRAM {error_type=server_error,http_request_method=GET,http_response_status_code=503,http_route=/stock/{id},redress_operation=GetStock,redress_policy=inventory,server_address=stock.internal}",
		"redress_events_total COUNTER {http_request_method=GET,http_response_status_code=200,http_route=/stock/{id},redress_event=success,redress_operation=GetStock,redress_policy=inventory,server_address=stock.internal}",
		"redress_attempt_duration_seconds HISTOGRAM {error_type=transient,redress_operation=/shop.Cart/Get,redress_policy=rpc,rpc_method=shop.Cart/Get,rpc_response_status_code=UNAVAILABLE,server_address=cart}",
		"redress_events_total COUNTER {db_query_summary=SELECT items,db_system_name=sqlite,redress_event=attempt_end,redress_operation=SELECT items,redress_policy=rpc}",
	} {
		if _, ok := want[w]; !ok {
			t.Errorf("the OTel pipeline has no series %s", w)
		}
	}
	for k := range want {
		if strings.HasPrefix(k, "redress_operation_duration_seconds ") && strings.Contains(k, "server_address") {
			t.Errorf("an operation-level series carries wrapper labels: %s", k)
		}
	}
	for k, v := range map[string]string{
		"redress_budget_utilization_ratio GAUGE {redress_policy=inventory}":                                                                      fmt.Sprint(bud.Utilization()),
		"redress_circuit_breaker_state GAUGE {redress_circuit_breaker_name=stock,redress_circuit_breaker_state=open,redress_policy=inventory}":   "1",
		"redress_circuit_breaker_state GAUGE {redress_circuit_breaker_name=stock,redress_circuit_breaker_state=closed,redress_policy=inventory}": "0",
	} {
		if want[k] != v {
			t.Errorf("OTel pipeline: %s = %q, want %q (folded: highest utilization, worst state)", k, want[k], v)
		}
	}
	if len(want) < 30 {
		t.Errorf("only %d series compared: the script exercises too little", len(want))
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s\n  redressprom:   %q\n  OTel exporter: %q", k, got[k], v)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("only redressprom has %s", k)
		}
	}
}
