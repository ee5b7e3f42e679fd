package dashboards_test

import (
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/redress-go/redress/dashboards"
)

// The committed files, embedded in the binary.
func ExampleFS() {
	names, _ := fs.Glob(dashboards.FS(), "*/*")
	for _, n := range names {
		fmt.Println(n)
	}
	// Output:
	// grafana/redress-grpc.json
	// grafana/redress-http.json
	// grafana/redress-overview.json
	// grafana/redress-sql.json
	// prometheus/redress-alerts.test.yaml
	// prometheus/redress-alerts.yaml
	// prometheus/redress-recording.yaml
}

// Generate the mixin for one namespace, with a tighter latency objective.
func ExampleGenerate() {
	files, err := dashboards.Generate(dashboards.Config{
		Selector:   `namespace="prod"`,
		LatencyP99: time.Second,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, f := range files {
		if f.Path == dashboards.AlertingRulesFile {
			for _, line := range strings.Split(string(f.Data), "\n") {
				if strings.Contains(line, "p99") && strings.Contains(line, "expr:") {
					fmt.Println(strings.TrimSpace(line))
				}
			}
		}
	}
	// Output:
	// expr: "job_policy_operation:redress_operation_duration_seconds:p99_rate5m > 1"
}

// An invalid setting is reported with the field's name.
func ExampleGenerate_error() {
	_, err := dashboards.Generate(dashboards.Config{RetryRatio: -1})
	fmt.Println(err)
	// Output:
	// redress: invalid config: Config.RetryRatio must be in (0, 10]
}

// Every panel query, ready for a Prometheus that has no Grafana variables.
func ExampleQuery_Expand() {
	qs, _ := dashboards.Queries(dashboards.Config{})
	for _, q := range qs {
		if q.Name == "redress / overview / Budget utilization" {
			fmt.Println(q.Expand("1m"))
		}
	}
	// Output:
	// max by (redress_policy) (redress_budget_utilization_ratio{job=~".*", redress_policy=~".*"})
}

func ExampleAlerts() {
	fmt.Println(strings.Join(dashboards.Alerts(), "\n"))
	// Output:
	// RedressCircuitOpen
	// RedressFaultInjectionActive
	// RedressHighLatency
	// RedressLimiterRejections
	// RedressNonRetryableFailures
	// RedressRetryAmplification
	// RedressRetryBudgetExhausted
	// RedressRetryStorm
}
