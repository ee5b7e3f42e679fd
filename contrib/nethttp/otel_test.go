package redresshttp

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/redress-go/redress/core"
)

// spanSubscriber is the smallest OTel subscriber: one INTERNAL span per
// operation, put in the operation's context so that what runs inside an
// attempt is its child. (contrib never imports instrument/: the real one
// lives there.)
type spanSubscriber struct{ tracer trace.Tracer }

func (spanSubscriber) Events() core.EventSet {
	return core.EventsOf(core.EventOperationStart) | core.TerminalEvents
}

func (s spanSubscriber) Decorate(ctx context.Context, e core.Event) context.Context {
	ctx, _ = s.tracer.Start(ctx, e.Operation, trace.WithSpanKind(trace.SpanKindInternal))
	return ctx
}

func (spanSubscriber) Handle(ctx context.Context, e core.Event) {
	if e.Kind.Terminal() {
		trace.SpanFromContext(ctx).End()
	}
}

// With redresshttp outside otelhttp, each attempt is one CLIENT span, child
// of the operation's span, and its trace context reaches the server.
func TestComposesWithOtelhttp(t *testing.T) {
	for _, tc := range []struct {
		name    string
		timeout time.Duration
	}{{"attempt on the caller's context", 0}, {"attempt with its own timeout", time.Second}} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newFaultServer(t, statuses(503, 200))
			sr := tracetest.NewSpanRecorder()
			tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
			t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
			p, _, _ := testPolicy(t, func(pc *core.PolicyConfig) {
				pc.Bus = core.NewBus(spanSubscriber{tracer: tp.Tracer("test")})
				pc.Timeout.Attempt = tc.timeout
			})
			inner := otelhttp.NewTransport(newBase(t), otelhttp.WithTracerProvider(tp), otelhttp.WithPropagators(propagation.TraceContext{}))
			client, _ := newTestClient(t, inner, Config{Policy: p})
			resp, err := client.Get(srv.URL + "/stock")
			if err != nil {
				t.Fatal(err)
			}
			if readBody(t, resp) != "attempt 2" {
				t.Fatal("want the second attempt's response")
			}

			spans := sr.Ended()
			var op sdktrace.ReadOnlySpan
			var clients []sdktrace.ReadOnlySpan
			for _, s := range spans {
				switch s.SpanKind() {
				case trace.SpanKindInternal:
					op = s
				case trace.SpanKindClient:
					clients = append(clients, s)
				}
			}
			if op == nil || op.Name() != "GET 127.0.0.1" || len(clients) != 2 || len(spans) != 3 {
				t.Fatalf("spans: %d (op %v, %d client); want the operation span and 2 client spans", len(spans), op, len(clients))
			}
			hits := srv.Hits()
			for i, c := range clients {
				if c.Parent().SpanID() != op.SpanContext().SpanID() || c.SpanContext().TraceID() != op.SpanContext().TraceID() {
					t.Errorf("client span %d: parent %s, want the operation span %s", i, c.Parent().SpanID(), op.SpanContext().SpanID())
				}
				if tp := hits[i].Header.Get("Traceparent"); !strings.Contains(tp, c.SpanContext().SpanID().String()) {
					t.Errorf("hit %d carried traceparent %q, want client span %s", i, tp, c.SpanContext().SpanID())
				}
				want := []int64{503, 200}[i]
				if got := attr(c, "http.response.status_code"); got.AsInt64() != want {
					t.Errorf("client span %d status %v, want %d", i, got.Emit(), want)
				}
			}
		})
	}
}

func attr(s sdktrace.ReadOnlySpan, key string) attribute.Value {
	for _, kv := range s.Attributes() {
		if string(kv.Key) == key {
			return kv.Value
		}
	}
	return attribute.Value{}
}
