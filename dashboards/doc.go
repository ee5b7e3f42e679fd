// Package dashboards holds the Grafana dashboards and the Prometheus
// recording and alerting rules of redress (a monitoring mixin), generated
// from the telemetry name table that the subscribers also use, so that a
// renamed metric cannot silently empty a panel or mute an alert.
//
// The generated files are committed beside this package:
//
//   - grafana/redress-overview.json: every policy and operation
//   - grafana/redress-http.json: contrib/nethttp clients
//   - grafana/redress-sql.json: contrib/database-sql connections
//   - grafana/redress-grpc.json: contrib/grpc clients
//   - prometheus/redress-recording.yaml
//   - prometheus/redress-alerts.yaml
//   - prometheus/redress-alerts.test.yaml (promtool test rules)
//
// Import the JSON into Grafana (Dashboards → New → Import, or a file
// provisioning directory) and list the two rule files under rule_files in
// prometheus.yml. `go generate ./dashboards` rewrites them; a test fails
// when they are stale. FS serves the committed files from the binary.
//
// Generate builds the same files for another Config (thresholds, rate
// window, a label selector, the Grafana URL of the alerts' links), Write
// writes them into a directory, creating its folders, and Queries lists every panel query and rule expression, for checking them
// against a real Prometheus as this repository's end-to-end test does.
//
// Everything in this package is safe for concurrent use: Generate and
// Queries build fresh values on each call.
//
// Example:
//
//	files, err := dashboards.Generate(dashboards.Config{
//		Selector:   `namespace="prod"`,
//		GrafanaURL: "https://grafana.example.com",
//		LatencyP99: time.Second,
//	})
//	if err != nil {
//		return err // a *core.ConfigError naming the field
//	}
//	if err := dashboards.Write(dir, files); err != nil { // dir/grafana, dir/prometheus
//		return err
//	}
package dashboards
