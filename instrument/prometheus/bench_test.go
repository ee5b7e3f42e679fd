package redressprom_test

import (
	"context"
	"testing"
	"time"

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

// BenchmarkExemplars is the success path's two events (attempt_end,
// success) in a context without a span, with a span not sampled, and with
// a sampled span (each observation then records an exemplar).
func BenchmarkExemplars(b *testing.B) {
	evs := []core.Event{
		{Kind: core.EventAttemptEnd, Policy: "bench", Operation: "Get", Attempt: 1, AttemptDuration: time.Millisecond},
		{Kind: core.EventSuccess, Policy: "bench", Operation: "Get", Attempt: 1, Outcome: core.OutcomeSuccess, Elapsed: time.Millisecond},
	}
	for name, ctx := range map[string]context.Context{
		"no_span":     context.Background(),
		"not_sampled": spanContext(false),
		"sampled":     spanContext(true),
	} {
		b.Run(name, func(b *testing.B) {
			s, err := redressprom.New(redressprom.Config{Registerer: prometheus.NewRegistry()})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				for _, e := range evs {
					s.Handle(ctx, e)
				}
			}
		})
	}
}
