package redressexport_test

import (
	"context"
	"fmt"
	"io"
	"net/http/httptest"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/redress-go/redress/core"
	redressexport "github.com/redress-go/redress/exporters"
	redressotel "github.com/redress-go/redress/instrument/otel"
	redressprom "github.com/redress-go/redress/instrument/prometheus"
)

// An OTel pipeline from the environment (here: no trace export, metrics for
// Prometheus), wired to a policy.
func Example() {
	ctx := context.Background()
	tel, err := redressexport.New(ctx, redressexport.Config{ServiceName: "checkout", Traces: "none", Metrics: "prometheus"})
	if err != nil {
		panic(err)
	}
	defer tel.Shutdown(ctx)
	sub, _ := redressotel.New(redressotel.Config{TracerProvider: tel.TracerProvider, MeterProvider: tel.MeterProvider})
	policy, _ := core.NewPolicy(core.PolicyConfig{Name: "payments", Bus: core.NewBus(sub)})
	_ = policy.Run(ctx, func(context.Context) error { return nil })

	rec := httptest.NewRecorder()
	tel.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	fmt.Println(strings.Contains(rec.Body.String(), `redress_operation_duration_seconds_count{`))
	// Output:
	// true
}

// A /metrics handler for the registry of a redressprom subscriber.
func ExamplePrometheusHandler() {
	reg := prometheus.NewRegistry()
	sub, _ := redressprom.New(redressprom.Config{Registerer: reg})
	policy, _ := core.NewPolicy(core.PolicyConfig{Name: "payments", Bus: core.NewBus(sub)})
	_ = policy.Run(context.Background(), func(context.Context) error { return nil })

	srv := httptest.NewServer(redressexport.PrometheusHandler(reg))
	defer srv.Close()
	resp, _ := srv.Client().Get(srv.URL)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, "redress_events_total{") && strings.Contains(line, `redress_event="success"`) {
			fmt.Println(line[strings.LastIndexByte(line, ' ')+1:], strings.Contains(line, `redress_policy="payments"`))
		}
	}
	// Output:
	// 1 true
}
