package redressotel_test

import (
	"context"
	"errors"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/redress-go/redress/core"
	redressotel "github.com/redress-go/redress/instrument/otel"
)

var errBench = errors.New("bench")

// BenchmarkHandle is the subscriber alone, metrics only, on a call's success path (its
// attempt_end and success events), and on a retried call's.
func BenchmarkHandle(b *testing.B) {
	ok := []core.Event{
		{Kind: core.EventAttemptEnd, Policy: "bench", Operation: "Get", Attempt: 1, AttemptDuration: time.Millisecond},
		{Kind: core.EventSuccess, Policy: "bench", Operation: "Get", Attempt: 1, Outcome: core.OutcomeSuccess, Elapsed: time.Millisecond},
	}
	retried := []core.Event{
		{Kind: core.EventAttemptEnd, Policy: "bench", Operation: "Get", Attempt: 1, Err: errBench, Class: core.ClassTransient, AttemptDuration: time.Millisecond},
		{Kind: core.EventRetry, Policy: "bench", Operation: "Get", Attempt: 1, Class: core.ClassTransient, Sleep: time.Millisecond},
		ok[0],
		{Kind: core.EventSuccess, Policy: "bench", Operation: "Get", Attempt: 2, Outcome: core.OutcomeSuccessAfterRetry, Elapsed: time.Millisecond},
	}
	for _, bc := range []struct {
		name string
		evs  []core.Event
	}{{"success", ok}, {"retried", retried}} {
		b.Run(bc.name, func(b *testing.B) {
			mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
			s, err := redressotel.New(redressotel.Config{MeterProvider: mp, DisableSpans: true})
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				for _, e := range bc.evs {
					s.Handle(ctx, e)
				}
			}
		})
	}
}
