package redressexport_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/redress-go/redress/core"
	"github.com/redress-go/redress/core/coretest"
	redressexport "github.com/redress-go/redress/exporters"
	redressotel "github.com/redress-go/redress/instrument/otel"
	"github.com/redress-go/redress/internal/telemetry"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// demo runs a call that fails twice and then succeeds through a policy
// observed by redressotel on the pipeline's providers.
func demo(t *testing.T, tel *redressexport.Telemetry) {
	t.Helper()
	sub, err := redressotel.New(redressotel.Config{TracerProvider: tel.TracerProvider, MeterProvider: tel.MeterProvider})
	if err != nil {
		t.Fatal(err)
	}
	p, _ := core.NewPolicy(core.PolicyConfig{Name: "inventory", Bus: core.NewBus(sub), Sleeper: coretest.InstantSleeper{}})
	err = coretest.RunCall(p, context.Background(), &core.Call{Operation: "GetStock"},
		coretest.FailTimes(2, core.Transient(errors.New("reset"))).Op())
	if err != nil {
		t.Fatal(err)
	}
}

// Spans and metrics reach a real OTLP receiver on loopback, over gRPC and
// over HTTP, with the right names, attributes, units, buckets and resource.
func TestOTLPToRealReceiver(t *testing.T) {
	for _, proto := range []string{"grpc", "http/protobuf"} {
		t.Run(strings.ReplaceAll(proto, "/", "_"), func(t *testing.T) {
			r := &receiver{}
			addr := r.startHTTP(t)
			if proto == "grpc" {
				addr = r.startGRPC(t)
			}
			t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://"+addr)
			t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", proto)
			t.Setenv("OTEL_TRACES_EXPORTER", "")
			t.Setenv("OTEL_METRICS_EXPORTER", "")
			t.Setenv("OTEL_SERVICE_NAME", "checkout")
			tel, err := redressexport.New(context.Background(), redressexport.Config{ServiceVersion: "1.2.3"})
			if err != nil {
				t.Fatal(err)
			}
			demo(t, tel)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := tel.Shutdown(ctx); err != nil {
				t.Fatal(err)
			}

			r.mu.Lock()
			defer r.mu.Unlock()
			var spans []string
			for _, rs := range r.spans {
				if attr(rs.GetResource().GetAttributes(), "service.name") != "checkout" ||
					attr(rs.GetResource().GetAttributes(), "service.version") != "1.2.3" {
					t.Errorf("span resource = %v", rs.GetResource().GetAttributes())
				}
				for _, ss := range rs.GetScopeSpans() {
					for _, s := range ss.GetSpans() {
						spans = append(spans, fmt.Sprintf("%s policy=%s attempts=%s", s.GetName(),
							attr(s.GetAttributes(), telemetry.AttrPolicy), attr(s.GetAttributes(), telemetry.AttrAttempts)))
					}
				}
			}
			if len(spans) != 4 || !contains(spans, "GetStock policy=inventory attempts=3") || !contains(spans, "attempt policy= attempts=3") {
				t.Errorf("spans = %q, want the GetStock operation span and 3 attempts", spans)
			}
			got := map[string]string{}
			for _, rm := range r.metrics {
				if attr(rm.GetResource().GetAttributes(), "service.name") != "checkout" {
					t.Errorf("metric resource = %v", rm.GetResource().GetAttributes())
				}
				for _, sm := range rm.GetScopeMetrics() {
					for _, m := range sm.GetMetrics() {
						desc := "unit=" + m.GetUnit()
						if h := m.GetHistogram(); h != nil && len(h.GetDataPoints()) > 0 {
							desc += fmt.Sprintf(" bounds=%v", h.GetDataPoints()[0].GetExplicitBounds())
						}
						if s := m.GetSum(); s != nil {
							var total int64
							for _, dp := range s.GetDataPoints() {
								total += dp.GetAsInt()
								if attr(dp.GetAttributes(), telemetry.AttrPolicy) != "inventory" {
									t.Errorf("%s point lacks redress.policy", m.GetName())
								}
							}
							desc += fmt.Sprintf(" total=%d", total)
						}
						got[m.GetName()] = desc
					}
				}
			}
			bounds := fmt.Sprint(telemetry.Buckets)
			for name, want := range map[string]string{
				"redress.operation.duration": "unit=s bounds=" + bounds,
				"redress.attempt.duration":   "unit=s bounds=" + bounds,
				"redress.retry.delay":        "unit=s bounds=" + bounds,
				"redress.retries":            "unit={retry} total=2",
				"redress.events":             "unit={event} total=6",
			} {
				if got[name] != want {
					t.Errorf("%s: %q, want %q", name, got[name], want)
				}
			}
		})
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestConsoleAndPrometheus(t *testing.T) {
	var out strings.Builder
	tel, err := redressexport.New(context.Background(), redressexport.Config{
		Traces: "console", Metrics: "prometheus, console", Console: &out, ServiceName: "svc",
	})
	if err != nil {
		t.Fatal(err)
	}
	demo(t, tel)
	srv := httptest.NewServer(tel.MetricsHandler())
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`redress_retries_total{error_type="transient"`,
		`redress_operation_duration_seconds_bucket{`,
		`le="0.005"`,
		`service_name="svc"`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if err := tel.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := tel.Shutdown(context.Background()); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}
	if !strings.Contains(out.String(), `"Name":"GetStock"`) || !strings.Contains(out.String(), `"Name":"redress.operation.duration"`) {
		t.Errorf("console output lacks the span or the metric:\n%.2000s", out.String())
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cfg   redressexport.Config
		env   map[string]string
		field string
	}{
		{"unknown traces exporter", redressexport.Config{Traces: "zipkin", Metrics: "none"}, nil, "Config.Traces"},
		{"unknown metrics exporter", redressexport.Config{Traces: "none", Metrics: "statsd"}, nil, "Config.Metrics"},
		{"bad protocol", redressexport.Config{Traces: "otlp", Metrics: "none", Protocol: "thrift"}, nil, "Config.Protocol"},
		{"bad env protocol", redressexport.Config{Traces: "otlp", Metrics: "none"}, map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL / OTEL_EXPORTER_OTLP_PROTOCOL"},
		{"negative interval", redressexport.Config{MetricInterval: -time.Second}, nil, "Config.MetricInterval"},
		{"bad env interval", redressexport.Config{}, map[string]string{"OTEL_METRIC_EXPORT_INTERVAL": "soon"}, "OTEL_METRIC_EXPORT_INTERVAL"},
		{"env exporter", redressexport.Config{}, map[string]string{"OTEL_TRACES_EXPORTER": "jaeger"}, "Config.Traces"},
		{"metrics exporter twice", redressexport.Config{Traces: "none", Metrics: "console,stdout"}, nil, "Config.Metrics"},
		{"none with another metrics exporter", redressexport.Config{Traces: "none", Metrics: "none,prometheus"}, nil, "Config.Metrics"},
		{"empty metrics entry", redressexport.Config{Traces: "none", Metrics: "prometheus,"}, nil, "Config.Metrics"},
		{"env metrics exporter twice", redressexport.Config{Traces: "none"}, map[string]string{"OTEL_METRICS_EXPORTER": "prometheus,prometheus"}, "Config.Metrics"},
		{"typed-nil console", redressexport.Config{Traces: "console", Metrics: "none", Console: (*bytes.Buffer)(nil)}, nil, "Config.Console"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			_, err := redressexport.New(context.Background(), tc.cfg)
			var ce *core.ConfigError
			if !errors.As(err, &ce) || ce.Field != tc.field {
				t.Fatalf("err = %v, want ConfigError on %s", err, tc.field)
			}
		})
	}
}

func TestNoneExportsNothingAndShutsDown(t *testing.T) {
	tel, err := redressexport.New(context.Background(), redressexport.Config{Traces: "none", Metrics: "none"})
	if err != nil {
		t.Fatal(err)
	}
	demo(t, tel)
	if tel.Registry != nil {
		t.Error("a registry without the prometheus exporter")
	}
	if err := tel.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// clearOTLPEnv unsets every OTEL_* variable that would change where or how
// the OTLP exporters send (restored after the test).
func clearOTLPEnv(t *testing.T) {
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "OTEL_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
}

// With no OTEL_EXPORTER_OTLP_ENDPOINT, spans and metrics go in plain text
// to the specification's defaults, http://localhost:4318 (http/protobuf)
// and http://localhost:4317 (grpc): a real plain receiver on those ports
// gets them.
func TestDefaultEndpointIsPlainText(t *testing.T) {
	for _, tc := range []struct{ proto, port string }{{"http/protobuf", "4318"}, {"grpc", "4317"}} {
		t.Run(strings.ReplaceAll(tc.proto, "/", "_"), func(t *testing.T) {
			clearOTLPEnv(t)
			lis, err := net.Listen("tcp", "127.0.0.1:"+tc.port)
			if err != nil {
				if os.Getenv("REDRESS_REQUIRE_SERVICES") == "1" {
					t.Fatalf("the default OTLP port is taken: %v", err)
				}
				t.Skipf("the default OTLP port is taken: %v", err)
			}
			r := &receiver{}
			if tc.proto == "grpc" {
				r.serveGRPC(t, lis)
			} else {
				r.serveHTTP(t, lis)
			}
			tel, err := redressexport.New(context.Background(), redressexport.Config{ServiceName: "checkout", Protocol: tc.proto})
			if err != nil {
				t.Fatal(err)
			}
			demo(t, tel)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := tel.Shutdown(ctx); err != nil {
				t.Fatalf("Shutdown (flushing to the default endpoint): %v", err)
			}
			r.mu.Lock()
			defer r.mu.Unlock()
			if len(r.spans) == 0 || len(r.metrics) == 0 {
				t.Fatalf("the receiver on the default port got %d span and %d metric batches, want both", len(r.spans), len(r.metrics))
			}
		})
	}
}

// PrometheusHandler negotiates OpenMetrics, the exposition that carries
// exemplars (redressprom's trace and span ids); plain text stays the
// default for a client that does not ask for it.
func TestPrometheusHandlerServesExemplars(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "failures_total", Help: "h"})
	reg.MustRegister(c)
	c.(prometheus.ExemplarAdder).AddWithExemplar(1, prometheus.Labels{"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "span_id": "00f067aa0ba902b7"})
	h := redressexport.PrometheusHandler(reg)
	for _, tc := range []struct {
		accept, contentType string
		exemplar            bool
	}{
		{"application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5", "application/openmetrics-text", true},
		{"", "text/plain", false},
	} {
		req := httptest.NewRequest("GET", "/metrics", nil)
		if tc.accept != "" {
			req.Header.Set("Accept", tc.accept)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		body := rec.Body.String()
		if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, tc.contentType) {
			t.Errorf("Accept %q: Content-Type %q, want %s", tc.accept, ct, tc.contentType)
		}
		// client_golang writes the exemplar's labels in no fixed order.
		got := strings.Contains(body, `failures_total 1.0 # {trace_id="4bf92f3577b34da6a3ce929d0e0e4736",span_id="00f067aa0ba902b7"} 1.0 `) ||
			strings.Contains(body, `failures_total 1.0 # {span_id="00f067aa0ba902b7",trace_id="4bf92f3577b34da6a3ce929d0e0e4736"} 1.0 `)
		if got != tc.exemplar {
			t.Errorf("Accept %q: exemplar in the body %v, want %v:\n%s", tc.accept, got, tc.exemplar, body)
		}
	}
}
