package redressgrpc_test

import (
	"context"
	"testing"
	"time"

	"github.com/redress-go/redress/contrib/grpc"
	"github.com/redress-go/redress/core"
	redressotel "github.com/redress-go/redress/instrument/otel"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/status"
)

// spanSubscriber is the smallest tracing subscriber: one span per
// operation, put in the operation's context, ended by the terminal event.
type spanSubscriber struct{ tracer trace.Tracer }

func (spanSubscriber) Events() core.EventSet {
	return core.EventsOf(core.EventOperationStart) | core.TerminalEvents
}

func (s spanSubscriber) Decorate(ctx context.Context, e core.Event) context.Context {
	ctx, _ = s.tracer.Start(ctx, e.Operation)
	return ctx
}

func (s spanSubscriber) Handle(ctx context.Context, e core.Event) {
	if e.Kind.Terminal() {
		trace.SpanFromContext(ctx).End()
	}
}

// TestOtelgrpcAttemptsAreChildrenOfTheOperation runs the otelgrpc stats
// handler beside the interceptors: each attempt's client span must be a
// child of the redress operation span.
func TestOtelgrpcAttemptsAreChildrenOfTheOperation(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })

	bus := core.NewBus(spanSubscriber{tracer: tp.Tracer("test")})
	p, err := core.NewPolicy(core.PolicyConfig{Bus: bus, Retry: core.RetryConfig{
		MaxAttempts: 3, Classifier: redressgrpc.Classifier, Strategy: core.Constant(time.Millisecond),
	}})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, redressgrpc.Config{Policy: p}, []fault{{code: codes.Unavailable}},
		grpc.WithStatsHandler(otelgrpc.NewClientHandler(otelgrpc.WithTracerProvider(tp))))
	if _, err := e.client.EmptyCall(ctxTimeout(t, 5*time.Second), &testpb.Empty{}); err != nil {
		t.Fatalf("EmptyCall: %v", err)
	}

	var op trace.SpanContext
	var attempts []tracetest.SpanStub
	for _, s := range exp.GetSpans() {
		switch {
		case s.Name == testpb.TestService_EmptyCall_FullMethodName && s.SpanKind == trace.SpanKindInternal:
			op = s.SpanContext
		case s.SpanKind == trace.SpanKindClient:
			attempts = append(attempts, s)
		}
	}
	if !op.IsValid() {
		t.Fatalf("no operation span among %d spans", len(exp.GetSpans()))
	}
	if len(attempts) != 2 {
		t.Fatalf("otelgrpc client spans = %d, want 2 (one per attempt)", len(attempts))
	}
	for i, a := range attempts {
		if a.Parent.SpanID() != op.SpanID() || a.SpanContext.TraceID() != op.TraceID() {
			t.Errorf("attempt %d span %q has parent %s, want the operation span %s", i+1, a.Name, a.Parent.SpanID(), op.SpanID())
		}
	}
}

// TestOtelErrorTypeOfCallsThatMustNotBeRetried: a call stopped by the
// server's "do not retry" pushback, by a failure of a committed stream, or
// by a DEADLINE_EXCEEDED on a method that is not idempotent,
// is recorded with its status code's class as error.type (transient for
// UNAVAILABLE), not as permanent.
func TestOtelErrorTypeOfCallsThatMustNotBeRetried(t *testing.T) {
	cases := []struct {
		name string
		call func(t *testing.T, c testpb.TestServiceClient)
		f    fault
		stop string // the pushback asks for no retry; the others are not safe to resend
	}{
		{"pushback -1", func(t *testing.T, c testpb.TestServiceClient) {
			if _, err := c.EmptyCall(ctxTimeout(t, 5*time.Second), &testpb.Empty{}); status.Code(err) != codes.Unavailable {
				t.Fatalf("EmptyCall = %v, want UNAVAILABLE", err)
			}
		}, fault{code: codes.Unavailable, pushback: "-1"}, "non_retryable_class"},
		{"committed stream", func(t *testing.T, c testpb.TestServiceClient) {
			st, err := c.StreamingOutputCall(ctxTimeout(t, 5*time.Second), outputRequest(1, 2))
			if err != nil {
				t.Fatalf("StreamingOutputCall: %v", err)
			}
			for {
				if _, err = st.Recv(); err != nil {
					break
				}
			}
			if status.Code(err) != codes.Unavailable {
				t.Fatalf("Recv = %v, want UNAVAILABLE", err)
			}
		}, fault{code: codes.Unavailable, after: 1}, "not_resendable"},
		{"not idempotent", func(t *testing.T, c testpb.TestServiceClient) {
			if _, err := c.UnaryCall(ctxTimeout(t, 5*time.Second), &testpb.SimpleRequest{}); status.Code(err) != codes.DeadlineExceeded {
				t.Fatalf("UnaryCall = %v, want DEADLINE_EXCEEDED", err)
			}
		}, fault{code: codes.DeadlineExceeded}, "not_resendable"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			reader := sdkmetric.NewManualReader()
			mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
			t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
			sub, err := redressotel.New(redressotel.Config{MeterProvider: mp, DisableSpans: true})
			if err != nil {
				t.Fatal(err)
			}
			p, err := core.NewPolicy(core.PolicyConfig{Bus: core.NewBus(sub), Retry: core.RetryConfig{
				MaxAttempts: 3, Classifier: redressgrpc.Classifier, Strategy: core.Constant(time.Millisecond),
			}})
			if err != nil {
				t.Fatal(err)
			}
			e := newEnv(t, redressgrpc.Config{Policy: p}, []fault{tc.f})
			tc.call(t, e.client)
			if got := e.srv.Calls(); got != 1 {
				t.Errorf("server calls = %d, want 1 (no retry)", got)
			}
			// A stream's operation ends on its own goroutine just after
			// the last Recv: wait for its data point.
			deadline := time.Now().Add(5 * time.Second)
			var attrs []attribute.Set
			for time.Now().Before(deadline) {
				if attrs = operationPoints(t, reader); len(attrs) > 0 {
					break
				}
				time.Sleep(time.Millisecond)
			}
			if len(attrs) != 1 {
				t.Fatalf("redress.operation.duration data points = %d, want 1", len(attrs))
			}
			for key, want := range map[attribute.Key]string{
				"error.type":          "transient",
				"redress.stop_reason": tc.stop,
			} {
				if v, _ := attrs[0].Value(key); v.AsString() != want {
					t.Errorf("%s = %q, want %q (attributes %v)", key, v.AsString(), want, attrs[0].ToSlice())
				}
			}
		})
	}
}

// operationPoints returns the attribute sets of the
// redress.operation.duration data points collected from r.
func operationPoints(t *testing.T, r *sdkmetric.ManualReader) []attribute.Set {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatalf("Collect: %v", err)
	}
	var out []attribute.Set
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if h, ok := m.Data.(metricdata.Histogram[float64]); ok && m.Name == "redress.operation.duration" {
				for _, dp := range h.DataPoints {
					out = append(out, dp.Attributes)
				}
			}
		}
	}
	return out
}
