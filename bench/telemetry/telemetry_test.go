package telemetrybench

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/redress-go/redress/core"
	redressdebug "github.com/redress-go/redress/instrument/debugpage"
	redressotel "github.com/redress-go/redress/instrument/otel"
	redressprom "github.com/redress-go/redress/instrument/prometheus"
)

func succeed(context.Context) error { return nil }

func policy(tb testing.TB, bus *core.Bus) *core.Policy {
	tb.Helper()
	p, err := core.NewPolicy(core.PolicyConfig{Name: "bench", Operation: "Get", Bus: bus})
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

func loop(b *testing.B, p *core.Policy, after func(ctx context.Context)) {
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := p.Run(ctx, succeed); err != nil {
			b.Fatal(err)
		}
		if after != nil {
			after(ctx)
		}
	}
}

func BenchmarkPrometheus(b *testing.B) {
	b.Run("baseline", func(b *testing.B) { loop(b, policy(b, nil), nil) })
	b.Run("clock_floor", func(b *testing.B) {
		// The bare call between the two monotonic clock reads that any
		// duration (start, end) needs: the least a subscriber that records
		// durations can cost, whatever it does with them.
		p := policy(b, nil)
		ctx := context.Background()
		epoch := time.Now()
		var total time.Duration
		b.ReportAllocs()
		for b.Loop() {
			start := time.Since(epoch)
			if err := p.Run(ctx, succeed); err != nil {
				b.Fatal(err)
			}
			total += time.Since(epoch) - start
		}
		if total < 0 {
			b.Fatal("the monotonic clock went backwards")
		}
	})
	b.Run("nop_subscriber", func(b *testing.B) {
		// The engine's own cost of publishing the same events (clock reads,
		// event building, dispatch) to a subscriber that does nothing.
		loop(b, policy(b, core.NewBus(nop{redressprom.DefaultEvents})), nil)
	})
	b.Run("redress", func(b *testing.B) {
		sub, err := redressprom.New(redressprom.Config{Registerer: prometheus.NewRegistry()})
		if err != nil {
			b.Fatal(err)
		}
		loop(b, policy(b, core.NewBus(sub)), nil)
	})
	b.Run("handwritten", func(b *testing.B) {
		// What a hand-instrumented call site does: resolve the children per
		// call and update a counter and a histogram.
		reg := prometheus.NewRegistry()
		c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "calls_total", Help: "h"}, []string{"policy", "operation", "outcome"})
		h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "call_seconds", Help: "h"}, []string{"policy", "operation", "outcome"})
		reg.MustRegister(c, h)
		p := policy(b, nil)
		loop(b, p, func(context.Context) {
			start := time.Now()
			c.WithLabelValues("bench", "Get", "success").Inc()
			h.WithLabelValues("bench", "Get", "success").Observe(time.Since(start).Seconds())
		})
	})
}

func BenchmarkOTelMetrics(b *testing.B) {
	b.Run("baseline", func(b *testing.B) {
		// The policy plus, made directly, the SDK calls the subscriber makes
		// on the success path: two event counts and two duration records.
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
		m := mp.Meter("direct")
		evs, _ := m.Int64Counter("redress.events")
		att, _ := m.Float64Histogram("redress.attempt.duration", metric.WithExplicitBucketBoundaries(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
		op, _ := m.Float64Histogram("redress.operation.duration", metric.WithExplicitBucketBoundaries(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
		pa := []attribute.KeyValue{attribute.String("redress.policy", "bench"), attribute.String("redress.operation", "Get")}
		aEnd := metric.WithAttributeSet(attribute.NewSet(append(pa, attribute.String("redress.event", "attempt_end"))...))
		aOK := metric.WithAttributeSet(attribute.NewSet(append(pa, attribute.String("redress.event", "success"))...))
		aAtt := metric.WithAttributeSet(attribute.NewSet(pa...))
		aOp := metric.WithAttributeSet(attribute.NewSet(append(pa, attribute.String("redress.outcome", "success"))...))
		p := policy(b, nil)
		loop(b, p, func(ctx context.Context) {
			start := time.Now()
			evs.Add(ctx, 1, aEnd)
			att.Record(ctx, time.Since(start).Seconds(), aAtt)
			evs.Add(ctx, 1, aOK)
			op.Record(ctx, time.Since(start).Seconds(), aOp)
		})
	})
	b.Run("redress", func(b *testing.B) {
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
		sub, err := redressotel.New(redressotel.Config{MeterProvider: mp, DisableSpans: true})
		if err != nil {
			b.Fatal(err)
		}
		loop(b, policy(b, core.NewBus(sub)), nil)
	})
}

func BenchmarkOTelSpans(b *testing.B) {
	newTP := func() *sdktrace.TracerProvider {
		return sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))
	}
	b.Run("baseline", func(b *testing.B) {
		// The policy plus two bare SDK span start/end pairs (the operation
		// span and its attempt child).
		tr := newTP().Tracer("direct")
		p := policy(b, nil)
		loop(b, p, func(ctx context.Context) {
			ctx, op := tr.Start(ctx, "Get", trace.WithSpanKind(trace.SpanKindInternal))
			_, at := tr.Start(ctx, "attempt")
			at.End()
			op.End()
		})
	})
	b.Run("sdk_same_attributes", func(b *testing.B) {
		// For reference, not a target: the policy plus, made directly, the
		// SDK calls the subscriber makes on the success path: the two spans
		// with the attributes redressotel sets, each span's set in one
		// call from a prebuilt slice. The cost of those attributes.
		tr := newTP().Tracer("direct")
		kind := []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindInternal)}
		opAttrs := []attribute.KeyValue{attribute.String("redress.policy", "bench"), attribute.String("redress.operation", "Get"),
			attribute.String("redress.outcome", "success"), attribute.Int("redress.attempts", 1)}
		attAttrs := []attribute.KeyValue{attribute.Int("redress.attempts", 1)}
		p := policy(b, nil)
		loop(b, p, func(ctx context.Context) {
			ctx, op := tr.Start(ctx, "Get", kind...)
			_, at := tr.Start(ctx, "attempt", kind...)
			at.SetAttributes(attAttrs...)
			at.End()
			op.SetAttributes(opAttrs...)
			op.End()
		})
	})
	b.Run("nop_decorator", func(b *testing.B) {
		// For reference, not a target: the engine's cost of publishing the
		// events the span subscriber wants (operation and attempt start
		// with their context decoration, attempt end, success) to a
		// subscriber that does nothing with them.
		loop(b, policy(b, core.NewBus(nopDecorator{})), nil)
	})
	b.Run("redress", func(b *testing.B) {
		sub, err := redressotel.New(redressotel.Config{TracerProvider: newTP(), DisableMetrics: true})
		if err != nil {
			b.Fatal(err)
		}
		loop(b, policy(b, core.NewBus(sub)), nil)
	})
}

func BenchmarkDebugPage(b *testing.B) {
	b.Run("baseline", func(b *testing.B) { loop(b, policy(b, nil), nil) })
	b.Run("nop_subscriber", func(b *testing.B) {
		// The engine's own cost of publishing the events the page wants
		// (the terminal event, here success) to a duration-free subscriber
		// that does nothing with them.
		loop(b, policy(b, core.NewBus(nopDurationFree{redressdebug.Events})), nil)
	})
	b.Run("prometheus", func(b *testing.B) {
		// For comparison: the Prometheus subscriber on the same path.
		sub, err := redressprom.New(redressprom.Config{Registerer: prometheus.NewRegistry()})
		if err != nil {
			b.Fatal(err)
		}
		loop(b, policy(b, core.NewBus(sub)), nil)
	})
	b.Run("redress", func(b *testing.B) {
		page, err := redressdebug.New(redressdebug.Config{})
		if err != nil {
			b.Fatal(err)
		}
		loop(b, policy(b, core.NewBus(page)), nil)
	})
}

// The introspection page adds no allocation to the success path.
func TestDebugPageSuccessPathAllocatesNothing(t *testing.T) {
	page, err := redressdebug.New(redressdebug.Config{})
	if err != nil {
		t.Fatal(err)
	}
	bare, with := policy(t, nil), policy(t, core.NewBus(page))
	ctx := context.Background()
	_ = with.Run(ctx, succeed) // the operation's entry
	a0 := testing.AllocsPerRun(50, func() { _ = bare.Run(ctx, succeed) })
	a1 := testing.AllocsPerRun(50, func() { _ = with.Run(ctx, succeed) })
	if a1 != a0 {
		t.Fatalf("allocs per call: %v with the page, %v without", a1, a0)
	}
}

// nopDurationFree wants events, reads no duration and does nothing.
type nopDurationFree struct{ set core.EventSet }

func (n nopDurationFree) Events() core.EventSet            { return n.set }
func (nopDurationFree) Handle(context.Context, core.Event) {}
func (nopDurationFree) DurationFree() bool                 { return true }

// nopDecorator wants every event, decorates no context and does nothing.
type nopDecorator struct{}

func (nopDecorator) Events() core.EventSet                                      { return core.AllEvents }
func (nopDecorator) Handle(context.Context, core.Event)                         {}
func (nopDecorator) Decorate(ctx context.Context, _ core.Event) context.Context { return ctx }

// nop wants events and does nothing with them.
type nop struct{ set core.EventSet }

func (n nop) Events() core.EventSet            { return n.set }
func (nop) Handle(context.Context, core.Event) {}

// slow takes 1 ms per event.
type slow struct{}

func (slow) Events() core.EventSet              { return core.AllEvents }
func (slow) Handle(context.Context, core.Event) { time.Sleep(time.Millisecond) }

func BenchmarkSlowSubscriberAsync(b *testing.B) {
	work := func(context.Context) error {
		deadline := time.Now().Add(50 * time.Microsecond)
		for time.Now().Before(deadline) {
		}
		return nil
	}
	run := func(b *testing.B, bus *core.Bus) {
		p := policy(b, bus)
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			if err := p.Run(ctx, work); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("baseline", func(b *testing.B) { run(b, nil) })
	b.Run("redress", func(b *testing.B) {
		a, err := core.NewAsync(slow{}, core.AsyncConfig{})
		if err != nil {
			b.Fatal(err)
		}
		defer func() {
			ctx, cancel := context.WithTimeout(context.Background(), 0)
			defer cancel()
			_ = a.Close(ctx) // do not wait for the backlog
		}()
		run(b, core.NewBus(a))
	})
}

// The Prometheus subscriber adds no allocation to the success path.
func TestPrometheusSuccessPathAllocatesNothing(t *testing.T) {
	sub, err := redressprom.New(redressprom.Config{Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	bare, with := policy(t, nil), policy(t, core.NewBus(sub))
	ctx := context.Background()
	_ = with.Run(ctx, succeed) // resolve the label children
	a0 := testing.AllocsPerRun(50, func() { _ = bare.Run(ctx, succeed) })
	a1 := testing.AllocsPerRun(50, func() { _ = with.Run(ctx, succeed) })
	if a1 != a0 {
		t.Fatalf("allocs per call: %v with the subscriber, %v without", a1, a0)
	}
}
