// Package redressexport (directory exporters/) builds ready-made telemetry
// pipelines for services that do not have one yet: an OpenTelemetry tracer
// provider and meter provider configured from the standard OTEL_*
// environment variables, with a service resource and the seconds-scaled
// histogram views; a Prometheus /metrics handler; and one Shutdown that
// flushes everything.
//
// Supported variables: OTEL_TRACES_EXPORTER (otlp, console, none),
// OTEL_METRICS_EXPORTER (otlp, console, prometheus, none; comma-separated),
// OTEL_EXPORTER_OTLP_PROTOCOL and its _TRACES_ / _METRICS_ variants (grpc,
// http/protobuf), OTEL_METRIC_EXPORT_INTERVAL, OTEL_SERVICE_NAME,
// OTEL_RESOURCE_ATTRIBUTES, and every OTEL_EXPORTER_OTLP_* variable the OTLP
// exporters read themselves (endpoint, headers, TLS, timeout). Config fields
// override the environment.
//
// The providers are returned, not installed globally: pass them to
// redressotel.Config, or install them with otel.SetTracerProvider and
// otel.SetMeterProvider.
//
// # Concurrency
//
// The providers are safe for concurrent use. Call Shutdown once, when the
// service stops; later calls do nothing.
//
// # Example
//
//	tel, err := redressexport.New(ctx, redressexport.Config{ServiceName: "checkout"})
//	if err != nil {
//		return err
//	}
//	defer tel.Shutdown(context.Background())
//	sub, err := redressotel.New(redressotel.Config{TracerProvider: tel.TracerProvider, MeterProvider: tel.MeterProvider})
//	if err != nil {
//		return err
//	}
//	policy, err := core.NewPolicy(core.PolicyConfig{Name: "users", Bus: core.NewBus(sub)})
//	if err != nil {
//		return err
//	}
//	return policy.Run(ctx, ping) // exported spans and metrics
package redressexport
