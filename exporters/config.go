package redressexport

import (
	"io"
	"time"
)

// Config configures New. Every field is optional: zero means "read the
// standard OTEL_* environment variable, else the default".
type Config struct {
	// ServiceName is the service.name resource attribute. Default
	// OTEL_SERVICE_NAME, else the SDK default (unknown_service:<binary>).
	ServiceName string
	// ServiceVersion is the service.version resource attribute. Default none.
	ServiceVersion string
	// Traces selects the span exporter: "otlp", "console" (alias "stdout")
	// or "none". Default OTEL_TRACES_EXPORTER, else "otlp".
	Traces string
	// Metrics selects the metric exporters, comma-separated: "otlp",
	// "console" (alias "stdout"), "prometheus" (a pull exporter whose
	// registry Telemetry.MetricsHandler serves) or "none". Default
	// OTEL_METRICS_EXPORTER, else "otlp".
	Metrics string
	// Protocol is the OTLP transport: "grpc" or "http/protobuf". Default
	// OTEL_EXPORTER_OTLP_TRACES_PROTOCOL / _METRICS_PROTOCOL, else
	// OTEL_EXPORTER_OTLP_PROTOCOL, else "http/protobuf" (the specification's
	// default). The endpoint, headers, TLS and timeouts come from the
	// OTLP exporters' own OTEL_EXPORTER_OTLP_* variables. Without an
	// endpoint (OTEL_EXPORTER_OTLP_ENDPOINT or the signal's own) or TLS
	// variable, the exporters send in plain text to the specification's
	// defaults: http://localhost:4318 (http/protobuf) and
	// http://localhost:4317 (grpc).
	Protocol string
	// MetricInterval is the period of the push metric exporters. Default
	// OTEL_METRIC_EXPORT_INTERVAL (milliseconds), else 60s.
	MetricInterval time.Duration
	// Console receives the "console" exporters' output. Default os.Stdout.
	Console io.Writer
}
