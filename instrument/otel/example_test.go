package redressotel_test

import (
	"context"
	"errors"
	"fmt"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/redress-go/redress/core"
	"github.com/redress-go/redress/core/coretest"
	redressotel "github.com/redress-go/redress/instrument/otel"
)

func Example() {
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))

	sub, err := redressotel.New(redressotel.Config{TracerProvider: tp, MeterProvider: mp})
	if err != nil {
		panic(err)
	}
	policy, _ := core.NewPolicy(core.PolicyConfig{Name: "inventory", Bus: core.NewBus(sub), Sleeper: coretest.InstantSleeper{}})
	_ = policy.Run(context.Background(), coretest.FailTimes(1, core.Transient(errors.New("reset"))).Op())

	for _, s := range spans.Ended() {
		fmt.Println("span:", s.Name(), "parent:", s.Parent().IsValid())
	}
	var rm metricdata.ResourceMetrics
	_ = reader.Collect(context.Background(), &rm)
	for _, m := range rm.ScopeMetrics[0].Metrics {
		if m.Name == "redress.retries" {
			fmt.Println(m.Name, m.Data.(metricdata.Sum[int64]).DataPoints[0].Value)
		}
	}
	// Output:
	// span: attempt parent: true
	// span: attempt parent: true
	// span: inventory parent: false
	// redress.retries 1
}

// Metrics only, attempts recorded as events: the cheapest configuration.
func ExampleConfig_metricsOnly() {
	mp := sdkmetric.NewMeterProvider()
	sub, err := redressotel.New(redressotel.Config{MeterProvider: mp, DisableSpans: true})
	if err != nil {
		panic(err)
	}
	defer sub.Close()
	fmt.Println(sub.Events().Has(core.EventRetry), sub.Events().Has(core.EventOperationStart))
	// Output:
	// true false
}
