package redressprom_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/redress-go/redress/core"
	redressprom "github.com/redress-go/redress/instrument/prometheus"
	"github.com/redress-go/redress/internal/telemetry/telemetrytest"
)

// BenchmarkHandle is the subscriber alone on a call's success path (its
// attempt_end and success events), and on a retried call's.
func BenchmarkHandle(b *testing.B) {
	telemetrytest.BenchmarkHandle(b, func(b *testing.B) core.Subscriber {
		s, err := redressprom.New(redressprom.Config{Registerer: prometheus.NewRegistry()})
		if err != nil {
			b.Fatal(err)
		}
		return s
	})
}
