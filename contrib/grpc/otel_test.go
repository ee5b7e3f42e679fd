package redressgrpc_test

import (
	"context"
	"testing"
	"time"

	"github.com/redress-go/redress/contrib/grpc"
	"github.com/redress-go/redress/core"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testpb "google.golang.org/grpc/interop/grpc_testing"
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
