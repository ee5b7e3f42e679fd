// Package telemetry is the single table of telemetry names: the OTel
// instrument names, units and descriptions, the Prometheus series the OTel
// Prometheus exporter derives from them, the attribute keys, and the
// histogram buckets. The subscribers in instrument/ and the generator in
// dashboards/ read it, so that a renamed metric cannot silently break a panel.
//
// It is internal: not API.
package telemetry

import (
	"strconv"
	"strings"
	"unsafe"

	"github.com/redress-go/redress/core"
)

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
	AttrDBOperation    = "db.query.summary"
	AttrRPCSystem      = "rpc.system.name"
	AttrRPCMethod      = "rpc.method"
	AttrRPCStatusCode  = "rpc.response.status_code"
)

// WrapperAttrs are the wrapper attributes carried, from the event's typed
// core.Labels, by the attempt-level instruments (AttemptDuration and
// Events), in this order. An absent label (empty string, status code 0) is
// left out by the OTel subscriber and written as "" by the Prometheus
// subscriber; Prometheus treats the two alike.
//
// Cardinality stays bounded because each value comes from a small set the
// caller controls, never from request data: HTTP methods (the wrapper folds
// unknown ones), route templates (never raw paths; a query string or
// fragment is cut off defensively), the hosts of the caller's own
// downstreams (no port: server.port is not emitted), HTTP status codes,
// database system names, SQL operation names (the statement's verb and
// table, never SQL text or arguments), full gRPC method names of the
// caller's stubs and gRPC status code names. Operation-level instruments
// (OperationDuration, Retries, RetryDelay) do not carry them: the dashboards
// scope those to a wrapper by joining on (policy, operation).
var WrapperAttrs = wrapperAttrs[:]

var wrapperAttrs = [...]string{
	AttrHTTPMethod, AttrServerAddress, AttrHTTPRoute, AttrHTTPStatusCode,
	AttrDBSystem, AttrDBOperation, AttrRPCMethod, AttrRPCStatusCode,
}

// NumWrapperAttrs is len(WrapperAttrs).
const NumWrapperAttrs = len(wrapperAttrs)

func withWrapper(attrs ...string) []string { return append(attrs, wrapperAttrs[:]...) }

// Wrapper holds the values of WrapperAttrs of one event. It is comparable,
// so subscribers use it in the key of their label caches; the zero value
// means "no wrapper label".
type Wrapper struct {
	HTTPMethod, ServerAddress, HTTPRoute string
	HTTPStatusCode                       int
	DBSystem, DBOperation                string
	RPCMethod, RPCStatusCode             string
}

// WrapperOf returns the wrapper attribute values of l (server.port and
// rpc.system.name are not carried).
func WrapperOf(l *core.Labels) Wrapper {
	return Wrapper{
		HTTPMethod: l.HTTPMethod, ServerAddress: l.ServerAddress, HTTPRoute: l.HTTPRoute,
		HTTPStatusCode: l.StatusCode,
		DBSystem:       l.DBSystem, DBOperation: l.DBOperation,
		RPCMethod: l.RPCMethod, RPCStatusCode: l.RPCStatusCode,
	}
}

// FrontIndex hashes the addresses of a (policy, operation) pair's strings,
// for the direct-mapped lookup fronts of the subscribers: the names usually
// come from a Policy or a wrapper's label cache, so the same pair arrives in
// the same memory, and the hash costs a few instructions. Take it modulo the
// front's size; equal strings at other addresses only miss the front.
func FrontIndex(policy, op string) uintptr {
	h := uintptr(unsafe.Pointer(unsafe.StringData(policy)))*31 ^ uintptr(unsafe.Pointer(unsafe.StringData(op)))
	h ^= h >> 15
	h *= 0x9e3779b1
	return h >> 11
}

// HasWrapper reports whether l carries any of the wrapper attributes that
// WrapperOf reads; it is WrapperOf(l) != Wrapper{} without building one.
func HasWrapper(l *core.Labels) bool {
	return l.HTTPMethod != "" || l.ServerAddress != "" || l.HTTPRoute != "" || l.StatusCode != 0 ||
		l.DBSystem != "" || l.DBOperation != "" || l.RPCMethod != "" || l.RPCStatusCode != ""
}

// Values returns w's label values in WrapperAttrs order, "" for an absent
// one. A query string or fragment in the route is cut off, in case a raw
// URL was passed where a template belongs.
func (w Wrapper) Values() [NumWrapperAttrs]string {
	code := ""
	if w.HTTPStatusCode != 0 {
		code = strconv.Itoa(w.HTTPStatusCode)
	}
	return [NumWrapperAttrs]string{w.HTTPMethod, w.ServerAddress, CutQuery(w.HTTPRoute), code,
		w.DBSystem, w.DBOperation, RPCMethod(w.RPCMethod), w.RPCStatusCode}
}

// RPCMethod returns the rpc.method value of a gRPC full method name: the
// fully-qualified "pkg.Svc/Method" of the semantic conventions, without
// the leading '/' of the wire path ("/pkg.Svc/Method").
func RPCMethod(fullMethod string) string {
	return strings.TrimPrefix(fullMethod, "/")
}

// CutQuery drops a query string or fragment from s.
func CutQuery(s string) string {
	if i := strings.IndexAny(s, "?#"); i >= 0 {
		return s[:i]
	}
	return s
}

// MaxWrapperSets bounds the label sets with wrapper labels that a
// subscriber keeps per (policy, operation) and instrument: past it, an event
// with a new combination is recorded without wrapper labels, so that a
// misbehaving wrapper (a raw path as the route) cannot grow the series
// without bound. Both subscribers apply the same rule.
const MaxWrapperSets = 1000

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
		Attrs:       withWrapper(AttrPolicy, AttrOperation, AttrErrorType),
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
		Attrs:       withWrapper(AttrPolicy, AttrOperation, AttrEvent, AttrErrorType),
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
