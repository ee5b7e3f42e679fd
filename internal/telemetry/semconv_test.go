package telemetry_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"

	"github.com/redress-go/redress/core"
	"github.com/redress-go/redress/core/coretest"
	redressotel "github.com/redress-go/redress/instrument/otel"
	redressprom "github.com/redress-go/redress/instrument/prometheus"
	redressslog "github.com/redress-go/redress/instrument/slog"
	"github.com/redress-go/redress/internal/telemetry"
)

// conventions are the OTel semantic-convention attributes (semconv v1.43.0,
// the version the otel module in go.mod ships) that the subscribers emit,
// each with what redress means by it; any other attribute must be under
// the redress namespace (redress. for OTel attributes and slog keys,
// redress_ for Prometheus series and labels).
var conventions = map[attribute.Key]string{
	semconv.ErrorTypeKey:              "the failure's class",
	semconv.ExceptionTypeKey:          "the Go type of the error (span exception event)",
	semconv.ExceptionMessageKey:       "the redacted error text (span exception event)",
	semconv.HTTPRequestMethodKey:      "the HTTP request's method",
	semconv.HTTPRouteKey:              "the route template the caller gave",
	semconv.HTTPResponseStatusCodeKey: "the attempt's HTTP status",
	semconv.HTTPRequestResendCountKey: "attempt - 1 on an HTTP retry's attempt span",
	semconv.ServerAddressKey:          "the downstream's host",
	semconv.ServerPortKey:             "the downstream's port",
	semconv.DBSystemNameKey:           "the database system (postgresql, mysql, sqlite)",
	semconv.DBQuerySummaryKey:         "the low-cardinality summary of a statement: its verb and first table",
	semconv.RPCSystemNameKey:          "the RPC system (grpc)",
	semconv.RPCMethodKey:              "the full method name of the call",
	semconv.RPCResponseStatusCodeKey:  "the attempt's gRPC status code name",
}

// Names outside both that the subscribers emit by design: the trace
// context of a slog record and of an OpenMetrics exemplar (the OTel
// specification's field names for logs not in OTLP, and the labels
// Prometheus and Grafana link on), slog's own error key, the histogram
// bucket label.
var (
	slogExceptions = map[string]string{
		"trace_id": "the trace context of a record (OTel: trace context in non-OTLP log formats)",
		"span_id":  "the trace context of a record",
		"error":    "the redacted error text, under the key slog handlers and log pipelines expect",
	}
	promExceptions = map[string]string{
		"le":       "the histogram bucket bound",
		"trace_id": "exemplar label",
		"span_id":  "exemplar label",
	}
)

// allLabels fills every field of core.Labels, so that every wrapper
// attribute is emitted.
var allLabels = core.Labels{
	HTTPMethod: "GET", HTTPRoute: "/items/{id}", ServerAddress: "api.example", ServerPort: 443, StatusCode: 503,
	DBSystem: "postgresql", DBOperation: "SELECT items",
	RPCSystem: "grpc", RPCMethod: "/shop.Items/Get", RPCStatusCode: "UNAVAILABLE",
}

// calls runs, on bus, a call that fails twice and succeeds, one that fails
// for good, and one the open breaker refuses, with every label set.
func calls(t *testing.T, bus *core.Bus) {
	t.Helper()
	br, _ := core.NewBreaker(core.BreakerConfig{Name: "b", FailureThreshold: 3})
	p, err := core.NewPolicy(core.PolicyConfig{Name: "shop", Bus: bus, Breaker: br, Sleeper: coretest.InstantSleeper{},
		Retry: core.RetryConfig{MaxAttempts: 3, Strategy: coretest.Delays(time.Millisecond)}})
	if err != nil {
		t.Fatal(err)
	}
	call := &core.Call{Operation: "GetItem", Labels: allLabels}
	_ = coretest.RunCall(p, context.Background(), call, coretest.FailTimes(2, core.Transient(errors.New("reset"))).Op())
	_ = coretest.RunCall(p, context.Background(), call, func(context.Context) error { return core.Permanent(errors.New("bad")) })
	_ = coretest.RunCall(p, context.Background(), call, coretest.FailTimes(9, core.Transient(errors.New("reset"))).Op())
	_ = coretest.RunCall(p, context.Background(), call, func(context.Context) error { return nil })
}

func checkOTelKey(t *testing.T, where string, k attribute.Key) {
	t.Helper()
	if _, ok := conventions[k]; ok || strings.HasPrefix(string(k), "redress.") {
		return
	}
	t.Errorf("%s: attribute %q is neither a semantic convention nor under redress.", where, k)
}

// TestNamesFollowTheConventions runs every subscriber and checks every name
// it emits: an OTel semantic convention (conventions), or under the redress
// namespace; Prometheus names are the same with '.' made '_'.
func TestNamesFollowTheConventions(t *testing.T) {
	seen := map[string]bool{}

	// OTel: span, span event and metric attributes.
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer func() { _ = tp.Shutdown(context.Background()); _ = mp.Shutdown(context.Background()) }()
	otelSub, err := redressotel.New(redressotel.Config{TracerProvider: tp, MeterProvider: mp})
	if err != nil {
		t.Fatal(err)
	}
	defer otelSub.Close()
	calls(t, core.NewBus(otelSub))
	for _, s := range spans.Ended() {
		for _, kv := range s.Attributes() {
			checkOTelKey(t, "span "+s.Name(), kv.Key)
			seen[string(kv.Key)] = true
			if kv.Key == semconv.RPCMethodKey && kv.Value.AsString() != "shop.Items/Get" {
				t.Errorf("span %s: rpc.method %q, want the fully-qualified shop.Items/Get (no leading '/')", s.Name(), kv.Value.AsString())
			}
		}
		for _, ev := range s.Events() {
			for _, kv := range ev.Attributes {
				checkOTelKey(t, "span event "+ev.Name, kv.Key)
				seen[string(kv.Key)] = true
			}
		}
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if !strings.HasPrefix(m.Name, "redress.") {
				t.Errorf("metric %q is not under redress.", m.Name)
			}
			var sets []attribute.Set
			switch d := m.Data.(type) {
			case metricdata.Histogram[float64]:
				for _, dp := range d.DataPoints {
					sets = append(sets, dp.Attributes)
				}
			case metricdata.Sum[int64]:
				for _, dp := range d.DataPoints {
					sets = append(sets, dp.Attributes)
				}
			case metricdata.Gauge[float64]:
				for _, dp := range d.DataPoints {
					sets = append(sets, dp.Attributes)
				}
			case metricdata.Gauge[int64]:
				for _, dp := range d.DataPoints {
					sets = append(sets, dp.Attributes)
				}
			default:
				t.Errorf("metric %s: data %T not checked", m.Name, m.Data)
			}
			for _, set := range sets {
				for _, kv := range set.ToSlice() {
					checkOTelKey(t, "metric "+m.Name, kv.Key)
					seen[string(kv.Key)] = true
				}
			}
		}
	}

	// slog: every key of every record but slog's own.
	var buf bytes.Buffer
	slogSub, err := redressslog.New(redressslog.Config{Handler: slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})})
	if err != nil {
		t.Fatal(err)
	}
	calls(t, core.NewBus(slogSub))
	for _, line := range bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n")) {
		var rec map[string]any
		if err := json.Unmarshal(line, &rec); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		for k := range rec {
			switch {
			case k == slog.TimeKey || k == slog.LevelKey || k == slog.MessageKey:
			case slogExceptions[k] != "":
			default:
				checkOTelKey(t, "slog record", attribute.Key(k))
				seen[k] = true
			}
		}
	}

	// Prometheus: series and label names.
	reg := prometheus.NewRegistry()
	promSub, err := redressprom.New(redressprom.Config{Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	calls(t, core.NewBus(promSub))
	promNames := map[string]bool{}
	for k := range conventions {
		promNames[telemetry.PromLabel(string(k))] = true
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), "redress_") {
			t.Errorf("series %q is not under redress_", mf.GetName())
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				n := l.GetName()
				if n == telemetry.PromLabel(string(semconv.RPCMethodKey)) && l.GetValue() != "" && l.GetValue() != "shop.Items/Get" {
					t.Errorf("series %s: rpc_method %q, want shop.Items/Get", mf.GetName(), l.GetValue())
				}
				if !promNames[n] && !strings.HasPrefix(n, "redress_") && promExceptions[n] == "" {
					t.Errorf("series %s: label %q is neither a semantic convention nor under redress_", mf.GetName(), n)
				}
			}
		}
	}

	// The run reached every attribute of the table, so the check covers
	// them all.
	var missing []string
	for _, a := range telemetry.Names().Attributes {
		if !seen[a.Attr] {
			missing = append(missing, a.Attr)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("attributes of the name table no subscriber emitted in the run: %v", missing)
	}
}

// The table's semantic-convention keys are the semconv constants, so a
// key renamed by a later semconv version fails here when the import is
// bumped.
func TestTableKeysAreSemconvConstants(t *testing.T) {
	for key, want := range map[string]attribute.Key{
		telemetry.AttrErrorType:      semconv.ErrorTypeKey,
		telemetry.AttrHTTPMethod:     semconv.HTTPRequestMethodKey,
		telemetry.AttrHTTPRoute:      semconv.HTTPRouteKey,
		telemetry.AttrServerAddress:  semconv.ServerAddressKey,
		telemetry.AttrServerPort:     semconv.ServerPortKey,
		telemetry.AttrHTTPStatusCode: semconv.HTTPResponseStatusCodeKey,
		telemetry.AttrResendCount:    semconv.HTTPRequestResendCountKey,
		telemetry.AttrDBSystem:       semconv.DBSystemNameKey,
		telemetry.AttrDBOperation:    semconv.DBQuerySummaryKey,
		telemetry.AttrRPCSystem:      semconv.RPCSystemNameKey,
		telemetry.AttrRPCMethod:      semconv.RPCMethodKey,
		telemetry.AttrRPCStatusCode:  semconv.RPCResponseStatusCodeKey,
	} {
		if key != string(want) {
			t.Errorf("table key %q, semconv %q", key, want)
		}
	}
}
