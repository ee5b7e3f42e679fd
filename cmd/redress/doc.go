// Command redress prints the telemetry name table of redress: the metrics
// (OTel instrument, Prometheus series, kind, unit, attributes and labels),
// the attribute keys and their Prometheus labels, the event kinds, the stop
// reasons, the failure classes and the values of the enumerated labels —
// the names the subscribers write and the dashboards query. It reads the
// same table (internal/telemetry) as the subscribers, the dashboard
// generator and the generated tables of docs/DESIGN.md, so what it prints is
// what they use.
//
// Usage:
//
//	$ go run github.com/redress-go/redress/cmd/redress [names] [-format text|json|markdown]
//
// names is the only subcommand and the default. -format text (the default)
// prints aligned columns; json prints one object for scripts (its fields are
// those of telemetry.Table); markdown prints tables. A bad flag, format or
// subcommand prints a message and the usage on stderr and exits with status
// 2.
//
// It has no state and starts no goroutines.
package main
