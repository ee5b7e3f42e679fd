package redressotel_test

import (
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/redress-go/redress/core"
	redressotel "github.com/redress-go/redress/instrument/otel"
	"github.com/redress-go/redress/internal/telemetry/telemetrytest"
)

// BenchmarkHandle is the subscriber alone, metrics only, on a call's
// success path (its attempt_end and success events), and on a retried
// call's.
func BenchmarkHandle(b *testing.B) {
	telemetrytest.BenchmarkHandle(b, func(b *testing.B) core.Subscriber {
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
		s, err := redressotel.New(redressotel.Config{MeterProvider: mp, DisableSpans: true})
		if err != nil {
			b.Fatal(err)
		}
		return s
	})
}
