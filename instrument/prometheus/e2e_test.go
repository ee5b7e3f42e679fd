package redressprom_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/redress-go/redress/dashboards"
	redressexport "github.com/redress-go/redress/exporters"
	redressprom "github.com/redress-go/redress/instrument/prometheus"
	"github.com/redress-go/redress/internal/promtest"
)

// A real Prometheus with exemplar storage scrapes the subscriber's registry
// through redressexport.PrometheusHandler (OpenMetrics) after calls made in
// a span of the OTel SDK: the exemplar query returns the span's trace id on
// the duration histograms and the failure counters, and for the p99 queries
// of the overview dashboard's latency panels.
func TestExemplarsReachPrometheus(t *testing.T) {
	sub, reg := newSub(t, redressprom.Config{})
	srv := httptest.NewServer(redressexport.PrometheusHandler(reg))
	defer srv.Close()

	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	ctx, span := tp.Tracer("redressprom_test").Start(context.Background(), "checkout")
	exemplarCalls(t, ctx, sub)
	span.End()
	traceID := span.SpanContext().TraceID().String()
	start := time.Now().Add(-time.Minute)

	prom := promtest.Start(t, promtest.Config{
		Targets:  []string{strings.TrimPrefix(srv.URL, "http://")},
		Features: []string{"exemplar-storage"},
	})
	qctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	want := map[string]bool{
		"redress_operation_duration_seconds_bucket":    false,
		"redress_attempt_duration_seconds_bucket":      false,
		"redress_retries_total":                        false,
		"redress_budget_rejections_total":              false,
		"redress_circuit_breaker_rejections_total":     false,
		`redress_events_total{error_type="transient"}`: false,
	}
	// And the p99 queries of the overview's latency panels, the ones whose
	// exemplars Grafana draws, as Grafana sends them.
	qs, err := dashboards.Queries(dashboards.Config{})
	if err != nil {
		t.Fatal(err)
	}
	panels := 0
	for _, q := range qs {
		if q.Kind == dashboards.PanelQuery && q.File == "grafana/redress-overview.json" && strings.HasPrefix(q.Expr, "histogram_quantile(0.99,") {
			want[q.Expand("1m")] = false
			panels++
		}
	}
	if panels != 3 {
		t.Fatalf("%d p99 latency queries on the overview, want 3 (operation, attempt, retry delay)", panels)
	}
	for {
		missing := 0
		for expr, found := range want {
			if found {
				continue
			}
			res, err := prom.QueryExemplars(qctx, expr, start, time.Now().Add(time.Minute))
			if err != nil {
				t.Fatalf("query_exemplars %s: %v\n%s", expr, err, prom.Log())
			}
			for _, s := range res {
				for _, ex := range s.Exemplars {
					if ex.Labels["trace_id"] == traceID && ex.Labels["span_id"] != "" {
						want[expr] = true
					}
				}
			}
			if !want[expr] {
				missing++
			}
		}
		if missing == 0 {
			return
		}
		select {
		case <-qctx.Done():
			t.Fatalf("after 30s, exemplars with trace id %s found: %v\n%s", traceID, want, prom.Log())
		case <-time.After(200 * time.Millisecond): // the next scrape of a real server
		}
	}
}
