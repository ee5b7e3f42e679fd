// Package telemetry is the single table of telemetry names: the OTel
// instrument names, units and descriptions, the Prometheus series the OTel
// Prometheus exporter derives from them, the attribute keys, and the
// histogram buckets. The subscribers in instrument/ and the generator in
// dashboards/ read it, so that a renamed metric cannot silently break a panel.
//
// It is internal: not API.
package telemetry

// Attribute keys (OTel attributes; Prometheus labels replace '.' with '_').
const (
	AttrPolicy     = "redress.policy"
	AttrOperation  = "redress.operation"
	AttrEvent      = "redress.event"
	AttrOutcome    = "redress.outcome"
	AttrStopReason = "redress.stop_reason"
	AttrErrorType  = "error.type"
	AttrAttempts   = "redress.attempts"
	AttrState      = "redress.circuit_breaker.state"
	AttrBreaker    = "redress.circuit_breaker.name"

	// Semantic-convention keys carried from wrapper labels.
	AttrHTTPMethod     = "http.request.method"
	AttrHTTPRoute      = "http.route"
	AttrServerAddress  = "server.address"
	AttrServerPort     = "server.port"
	AttrHTTPStatusCode = "http.response.status_code"
	AttrResendCount    = "http.request.resend_count"
	AttrDBSystem       = "db.system.name"
	AttrDBOperation    = "db.operation.name"
	AttrRPCSystem      = "rpc.system"
	AttrRPCMethod      = "rpc.method"
	AttrRPCStatusCode  = "rpc.grpc.status_code"
)

// PromLabel returns the Prometheus label name for an OTel attribute key, as
// the OTel Prometheus exporter writes it ('.' becomes '_').
func PromLabel(attr string) string {
	b := []byte(attr)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			b[i] = '_'
		}
	}
	return string(b)
}

// Kind is the kind of an instrument.
type Kind int

// The instrument kinds.
const (
	Counter Kind = iota
	Histogram
	Gauge
)

// Metric describes one instrument.
type Metric struct {
	// Name is the OTel instrument name.
	Name string
	// Unit is the OTel unit ("s", "1", "{retry}", ...).
	Unit string
	// Description is the instrument's description (the Prometheus HELP).
	Description string
	// Kind is the instrument kind.
	Kind Kind
	// Prom is the Prometheus metric family name the OTel Prometheus
	// exporter derives (without _bucket/_sum/_count suffixes).
	Prom string
	// Attrs are the attribute keys the instrument carries.
	Attrs []string
}

// The instruments.
var (
	OperationDuration = Metric{
		Name: "redress.operation.duration", Unit: "s", Kind: Histogram,
		Description: "Duration of one logical call: all attempts and sleeps.",
		Prom:        "redress_operation_duration_seconds",
		Attrs:       []string{AttrPolicy, AttrOperation, AttrOutcome, AttrStopReason, AttrErrorType},
	}
	AttemptDuration = Metric{
		Name: "redress.attempt.duration", Unit: "s", Kind: Histogram,
		Description: "Duration of one attempt.",
		Prom:        "redress_attempt_duration_seconds",
		Attrs:       []string{AttrPolicy, AttrOperation, AttrErrorType},
	}
	Retries = Metric{
		Name: "redress.retries", Unit: "{retry}", Kind: Counter,
		Description: "Retries scheduled.",
		Prom:        "redress_retries_total",
		Attrs:       []string{AttrPolicy, AttrOperation, AttrErrorType},
	}
	RetryDelay = Metric{
		Name: "redress.retry.delay", Unit: "s", Kind: Histogram,
		Description: "Backoff delay chosen before a retry.",
		Prom:        "redress_retry_delay_seconds",
		Attrs:       []string{AttrPolicy, AttrOperation, AttrErrorType},
	}
	Events = Metric{
		Name: "redress.events", Unit: "{event}", Kind: Counter,
		Description: "Lifecycle events published on the bus.",
		Prom:        "redress_events_total",
		Attrs:       []string{AttrPolicy, AttrOperation, AttrEvent, AttrErrorType},
	}
	BudgetRejections = Metric{
		Name: "redress.budget.rejections", Unit: "{retry}", Kind: Counter,
		Description: "Retries denied by the retry budget.",
		Prom:        "redress_budget_rejections_total",
		Attrs:       []string{AttrPolicy, AttrOperation},
	}
	BudgetUtilization = Metric{
		Name: "redress.budget.utilization", Unit: "1", Kind: Gauge,
		Description: "Share of the retry budget in use.",
		Prom:        "redress_budget_utilization_ratio",
		Attrs:       []string{AttrPolicy},
	}
	BreakerState = Metric{
		Name: "redress.circuit_breaker.state", Unit: "{state}", Kind: Gauge,
		Description: "Circuit breaker state: 1 for the current state, 0 for the others.",
		Prom:        "redress_circuit_breaker_state",
		Attrs:       []string{AttrPolicy, AttrBreaker, AttrState},
	}
	BreakerTransitions = Metric{
		Name: "redress.circuit_breaker.transitions", Unit: "{transition}", Kind: Counter,
		Description: "Circuit breaker state changes.",
		Prom:        "redress_circuit_breaker_transitions_total",
		Attrs:       []string{AttrPolicy, AttrBreaker, AttrState},
	}
	BreakerRejections = Metric{
		Name: "redress.circuit_breaker.rejections", Unit: "{call}", Kind: Counter,
		Description: "Calls refused by an open circuit breaker.",
		Prom:        "redress_circuit_breaker_rejections_total",
		Attrs:       []string{AttrPolicy, AttrOperation, AttrBreaker},
	}
)

// Metrics lists every instrument, in table order.
var Metrics = []Metric{
	OperationDuration, AttemptDuration, Retries, RetryDelay, Events,
	BudgetRejections, BudgetUtilization, BreakerState, BreakerTransitions, BreakerRejections,
}

// Buckets are the explicit histogram boundaries, in seconds.
var Buckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// Scope is the instrumentation scope name of the OTel subscriber.
const Scope = "github.com/redress-go/redress/instrument/otel"
