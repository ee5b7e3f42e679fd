package redressexport

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/redress-go/redress/internal/typednil"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/exporters/stdout/stdoutmetric"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/redress-go/redress/core"
	"github.com/redress-go/redress/internal/telemetry"
)

// Telemetry is a ready-made pipeline: a tracer provider, a meter provider
// and, when the "prometheus" metric exporter is selected, a Prometheus
// registry. Shutdown flushes and stops all of them.
type Telemetry struct {
	// TracerProvider makes spans; with Traces "none" it records nothing.
	TracerProvider *sdktrace.TracerProvider
	// MeterProvider makes instruments.
	MeterProvider *sdkmetric.MeterProvider
	// Registry holds the metrics of the "prometheus" exporter, or is nil.
	Registry *prometheus.Registry

	shutdown []func(context.Context) error
}

// Views returns the views that give every redress histogram (and every
// other histogram whose unit is seconds) the explicit bucket boundaries
// 0.005 … 10 s, so the SDK default boundaries, scaled for milliseconds,
// never apply to seconds.
func Views() []sdkmetric.View {
	agg := sdkmetric.AggregationExplicitBucketHistogram{Boundaries: append([]float64(nil), telemetry.Buckets...)}
	seconds := func(inst sdkmetric.Instrument) (sdkmetric.Stream, bool) {
		if inst.Kind != sdkmetric.InstrumentKindHistogram || inst.Unit != "s" {
			return sdkmetric.Stream{}, false
		}
		return sdkmetric.Stream{Name: inst.Name, Description: inst.Description, Unit: inst.Unit, Aggregation: agg}, true
	}
	return []sdkmetric.View{seconds}
}

// New builds the providers from cfg and the OTEL_* environment. It returns
// a *core.ConfigError naming the field (or variable) with a bad value. The
// providers are not installed globally: pass them to redressotel.Config, or
// call otel.SetTracerProvider / otel.SetMeterProvider yourself.
func New(ctx context.Context, cfg Config) (*Telemetry, error) {
	traces := pick(cfg.Traces, env("OTEL_TRACES_EXPORTER"), "otlp")
	metrics := pick(cfg.Metrics, env("OTEL_METRICS_EXPORTER"), "otlp")
	console := cfg.Console
	if typednil.Is(console) {
		return nil, &core.ConfigError{Field: "Config.Console", Reason: fmt.Sprintf("is a nil %T (a typed nil, which would fail at the first write): leave it nil for os.Stdout", console)}
	}
	if console == nil {
		console = os.Stdout
	}
	interval := cfg.MetricInterval
	if interval < 0 {
		return nil, &core.ConfigError{Field: "Config.MetricInterval", Reason: "must not be negative"}
	}
	if interval == 0 {
		interval = 60 * time.Second
		if v := env("OTEL_METRIC_EXPORT_INTERVAL"); v != "" {
			ms, err := strconv.Atoi(v)
			if err != nil || ms <= 0 {
				return nil, &core.ConfigError{Field: "OTEL_METRIC_EXPORT_INTERVAL", Reason: "must be a positive number of milliseconds"}
			}
			interval = time.Duration(ms) * time.Millisecond
		}
	}
	var attrs []attribute.KeyValue
	if cfg.ServiceName != "" {
		attrs = append(attrs, attribute.String("service.name", cfg.ServiceName))
	}
	if cfg.ServiceVersion != "" {
		attrs = append(attrs, attribute.String("service.version", cfg.ServiceVersion))
	}
	// Later sources win: SDK defaults, then OTEL_SERVICE_NAME and
	// OTEL_RESOURCE_ATTRIBUTES, then cfg.
	res, err := resource.New(ctx, resource.WithService(), resource.WithTelemetrySDK(),
		resource.WithFromEnv(), resource.WithAttributes(attrs...))
	if res == nil {
		return nil, fmt.Errorf("redressexport: resource: %w", err)
	}

	t := &Telemetry{}
	fail := func(err error) (*Telemetry, error) {
		_ = t.Shutdown(context.Background())
		return nil, err
	}

	// Traces.
	topts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	switch traces {
	case "otlp":
		proto, err := protocol(cfg.Protocol, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
		if err != nil {
			return fail(err)
		}
		var exp sdktrace.SpanExporter
		plain := plainDefault("TRACES")
		if proto == "grpc" {
			var opts []otlptracegrpc.Option
			if plain {
				opts = append(opts, otlptracegrpc.WithInsecure())
			}
			exp, err = otlptracegrpc.New(ctx, opts...)
		} else {
			var opts []otlptracehttp.Option
			if plain {
				opts = append(opts, otlptracehttp.WithInsecure())
			}
			exp, err = otlptracehttp.New(ctx, opts...)
		}
		if err != nil {
			return fail(fmt.Errorf("redressexport: OTLP trace exporter: %w", err))
		}
		topts = append(topts, sdktrace.WithBatcher(exp))
	case "console", "stdout":
		exp, err := stdouttrace.New(stdouttrace.WithWriter(console))
		if err != nil {
			return fail(err)
		}
		topts = append(topts, sdktrace.WithBatcher(exp))
	case "none":
	default:
		return fail(&core.ConfigError{Field: "Config.Traces", Reason: fmt.Sprintf("unknown exporter %q (want otlp, console or none)", traces)})
	}
	t.TracerProvider = sdktrace.NewTracerProvider(topts...)
	t.shutdown = append(t.shutdown, t.TracerProvider.Shutdown)

	// Metrics.
	mopts := []sdkmetric.Option{sdkmetric.WithResource(res), sdkmetric.WithView(Views()...)}
	names := strings.Split(metrics, ",")
	seen := map[string]bool{}
	for _, name := range names {
		name = strings.TrimSpace(name)
		if name == "stdout" {
			name = "console"
		}
		switch {
		case name == "":
			return fail(&core.ConfigError{Field: "Config.Metrics", Reason: fmt.Sprintf("has an empty entry in %q", metrics)})
		case seen[name]:
			return fail(&core.ConfigError{Field: "Config.Metrics", Reason: fmt.Sprintf("lists %q twice in %q (its metrics would be exported twice)", name, metrics)})
		case name == "none" && len(names) > 1:
			return fail(&core.ConfigError{Field: "Config.Metrics", Reason: fmt.Sprintf("lists none with other exporters in %q", metrics)})
		}
		seen[name] = true
	}
	for _, name := range names {
		switch name = strings.TrimSpace(name); name {
		case "otlp":
			proto, err := protocol(cfg.Protocol, "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL")
			if err != nil {
				return fail(err)
			}
			var exp sdkmetric.Exporter
			plain := plainDefault("METRICS")
			if proto == "grpc" {
				var opts []otlpmetricgrpc.Option
				if plain {
					opts = append(opts, otlpmetricgrpc.WithInsecure())
				}
				exp, err = otlpmetricgrpc.New(ctx, opts...)
			} else {
				var opts []otlpmetrichttp.Option
				if plain {
					opts = append(opts, otlpmetrichttp.WithInsecure())
				}
				exp, err = otlpmetrichttp.New(ctx, opts...)
			}
			if err != nil {
				return fail(fmt.Errorf("redressexport: OTLP metric exporter: %w", err))
			}
			mopts = append(mopts, sdkmetric.WithReader(sdkmetric.NewPeriodicReader(exp, sdkmetric.WithInterval(interval))))
		case "console", "stdout":
			exp, err := stdoutmetric.New(stdoutmetric.WithWriter(console))
			if err != nil {
				return fail(err)
			}
			mopts = append(mopts, sdkmetric.WithReader(sdkmetric.NewPeriodicReader(exp, sdkmetric.WithInterval(interval))))
		case "prometheus":
			t.Registry = prometheus.NewRegistry()
			exp, err := otelprom.New(otelprom.WithRegisterer(t.Registry))
			if err != nil {
				return fail(err)
			}
			mopts = append(mopts, sdkmetric.WithReader(exp))
		case "none":
		default:
			return fail(&core.ConfigError{Field: "Config.Metrics", Reason: fmt.Sprintf("unknown exporter %q (want otlp, console, prometheus or none)", name)})
		}
	}
	t.MeterProvider = sdkmetric.NewMeterProvider(mopts...)
	t.shutdown = append(t.shutdown, t.MeterProvider.Shutdown)
	return t, nil
}

// MetricsHandler returns the /metrics handler of the "prometheus" exporter's
// registry; without that exporter it answers 404.
func (t *Telemetry) MetricsHandler() http.Handler {
	if t.Registry == nil {
		return http.NotFoundHandler()
	}
	return PrometheusHandler(t.Registry)
}

// PrometheusHandler returns a /metrics handler for g (a registry a
// redressprom.Subscriber registers on, for example), serving the text and
// OpenMetrics formats and reporting gather errors in the response.
func PrometheusHandler(g prometheus.Gatherer) http.Handler {
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{EnableOpenMetrics: true, ErrorHandling: promhttp.ContinueOnError})
}

// Shutdown flushes every pending span and metric and stops the providers,
// within ctx. It returns the errors of all of them, joined. It is safe to
// call more than once.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	if t == nil {
		return nil
	}
	var errs []error
	for _, f := range t.shutdown {
		if err := f(ctx); err != nil && !errors.Is(err, sdkmetric.ErrReaderShutdown) {
			errs = append(errs, err)
		}
	}
	t.shutdown = nil
	return errors.Join(errs...)
}

// plainDefault reports whether the OTLP exporter of signal ("TRACES" or
// "METRICS") is left with the default endpoint and no TLS setting, in which
// case it must send in plain text: the specification's defaults are
// http://localhost:4318 (http/protobuf) and http://localhost:4317 (grpc),
// while the Go OTLP exporters alone would use TLS there.
func plainDefault(signal string) bool {
	for _, v := range []string{"ENDPOINT", "INSECURE", "CERTIFICATE", "CLIENT_CERTIFICATE", "CLIENT_KEY"} {
		if env("OTEL_EXPORTER_OTLP_"+v) != "" || env("OTEL_EXPORTER_OTLP_"+signal+"_"+v) != "" {
			return false
		}
	}
	return true
}

func env(k string) string { return strings.ToLower(strings.TrimSpace(os.Getenv(k))) }

func pick(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return strings.ToLower(v)
		}
	}
	return ""
}

func protocol(cfg, specific string) (string, error) {
	p := pick(cfg, env(specific), env("OTEL_EXPORTER_OTLP_PROTOCOL"), "http/protobuf")
	switch p {
	case "grpc", "http/protobuf":
		return p, nil
	}
	field := "Config.Protocol"
	if cfg == "" {
		field = specific + " / OTEL_EXPORTER_OTLP_PROTOCOL"
	}
	return "", &core.ConfigError{Field: field, Reason: fmt.Sprintf("unsupported protocol %q (want grpc or http/protobuf)", p)}
}
