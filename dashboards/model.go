package dashboards

import (
	"fmt"
	"strings"

	"github.com/redress-go/redress/core"
	"github.com/redress-go/redress/internal/telemetry"
)

// generator builds every dashboard and rule from one Config.
type generator struct {
	cfg Config
}

type panelKind int

const (
	kindTimeSeries panelKind = iota
	kindBars                 // time series drawn as bars (counts per interval)
	kindStat
	kindStateTimeline
)

type target struct {
	expr   string
	legend string
}

type step struct {
	value *float64 // nil: the base step
	color string
}

type panel struct {
	title      string
	desc       string
	kind       panelKind
	unit       string
	width      uint32
	targets    []target
	thresholds []step
	stacked    bool
	min, max   *float64
}

type row struct {
	title  string
	panels []panel
}

type board struct {
	uid, title, desc string
	file             string
	tags             []string
	rows             []row
}

func f64(v float64) *float64 { return &v }

// Dashboard UIDs; alerts link to the overview.
const (
	uidOverview = "redress-overview"
	uidHTTP     = "redress-http"
	uidSQL      = "redress-sql"
	uidGRPC     = "redress-grpc"
)

var quantiles = []struct {
	q      string
	legend string
}{{"0.5", "p50"}, {"0.95", "p95"}, {"0.99", "p99"}}

// rate formats sum by (labels) (rate(series{sel}[$__rate_interval])).
func rateBy(s, sel string, labels ...string) string {
	return fmt.Sprintf("sum %s (rate(%s%s[%s]))", by(labels...), s, sel, rateInterval)
}

func legendOf(labels ...string) string {
	parts := make([]string, len(labels))
	for i, l := range labels {
		parts[i] = "{{" + l + "}}"
	}
	return strings.Join(parts, " ")
}

// quantilePanel draws p50/p95/p99 of histogram m grouped by labels.
func (g *generator) quantilePanel(title, desc string, m telemetry.Metric, labels []string, threshold *float64) panel {
	p := panel{title: title, desc: desc, unit: "s", width: 8, min: f64(0)}
	for _, q := range quantiles {
		grp := append(append([]string{}, labels...), "le")
		p.targets = append(p.targets, target{
			expr:   fmt.Sprintf("histogram_quantile(%s, %s)", q.q, rateBy(series(m, "_bucket"), g.panelSel(m), grp...)),
			legend: q.legend + " " + legendOf(labels...),
		})
	}
	if threshold != nil {
		p.thresholds = []step{{color: "green"}, {value: threshold, color: "red"}}
	}
	return p
}

// breakerStateExpr is 0 closed, 1 half-open, 2 open, per breaker.
func (g *generator) breakerStateExpr(group ...string) string {
	m := telemetry.BreakerState
	return fmt.Sprintf("max %s ((%s%s * 2) or %s%s)", by(group...),
		m.Prom, g.panelSel(m, eq(lState, core.StateOpen.String())),
		m.Prom, g.panelSel(m, eq(lState, core.StateHalfOpen.String())))
}

func (g *generator) overview() board {
	op := telemetry.OperationDuration
	at := telemetry.AttemptDuration
	pol, ope := lPolicy, lOperation
	failed := re(lOutcome, core.OutcomeFailure.String()+"|"+core.OutcomeRejected.String())
	ok := re(lOutcome, core.OutcomeSuccess.String()+"|"+core.OutcomeSuccessAfterRetry.String())
	p99 := g.cfg.LatencyP99.Seconds()
	return board{
		uid: uidOverview, title: "redress / overview", file: "grafana/redress-overview.json",
		desc: "Every redress policy and operation: calls, outcomes, retries by class, stop reasons, latency, retry budget and circuit breakers.",
		tags: []string{"redress"},
		rows: []row{
			{title: "Calls", panels: []panel{
				{title: "Call rate by outcome", kind: kindTimeSeries, unit: "reqps", width: 8, stacked: true, min: f64(0),
					desc: "Logical calls per second (all attempts of a call count once), by policy, operation and outcome: success, success_after_retry, failure, rejected.",
					targets: []target{{
						expr:   rateBy(series(op, "_count"), g.panelSel(op), pol, ope, lOutcome),
						legend: legendOf(pol, ope, lOutcome),
					}}},
				{title: "Success ratio", kind: kindStat, unit: "percentunit", width: 4, min: f64(0), max: f64(1),
					desc:       "Share of calls that succeeded, with or without retries, over the selected range.",
					thresholds: []step{{color: "red"}, {value: f64(0.95), color: "orange"}, {value: f64(0.99), color: "green"}},
					targets: []target{{
						expr: fmt.Sprintf("sum(rate(%s%s[%s])) / sum(rate(%s%s[%s]))",
							series(op, "_count"), g.panelSel(op, ok), rateInterval, series(op, "_count"), g.panelSel(op), rateInterval),
						legend: "success ratio",
					}}},
				{title: "Retry ratio", kind: kindStat, unit: "percentunit", width: 4, min: f64(0),
					desc:       fmt.Sprintf("Retries per logical call. Above %g the RedressRetryStorm alert fires.", g.cfg.RetryRatio),
					thresholds: []step{{color: "green"}, {value: f64(g.cfg.RetryRatio / 2), color: "orange"}, {value: f64(g.cfg.RetryRatio), color: "red"}},
					targets: []target{{
						expr: fmt.Sprintf("sum(rate(%s%s[%s])) / sum(rate(%s%s[%s]))",
							telemetry.Retries.Prom, g.panelSel(telemetry.Retries), rateInterval, series(op, "_count"), g.panelSel(op), rateInterval),
						legend: "retries per call",
					}}},
				{title: "Stop reasons of failed calls", kind: kindBars, unit: "reqps", width: 8, stacked: true, min: f64(0),
					desc: "Why failed or rejected calls stopped: max_attempts, deadline, non_retryable_class, budget_exhausted, circuit_open, ...",
					targets: []target{{
						expr:   rateBy(series(op, "_count"), g.panelSel(op, failed), pol, ope, lStop),
						legend: legendOf(pol, ope, lStop),
					}}},
				{title: "Retries by class", kind: kindTimeSeries, unit: "ops", width: 8, stacked: true, min: f64(0),
					desc: "Retries scheduled per second, by the class of the failure that caused them.",
					targets: []target{{
						expr:   rateBy(telemetry.Retries.Prom, g.panelSel(telemetry.Retries), pol, ope, lClass),
						legend: legendOf(pol, ope, lClass),
					}}},
				{title: "Failed attempts by class", kind: kindTimeSeries, unit: "ops", width: 8, stacked: true, min: f64(0),
					desc: "Attempts that failed, per second, by class (error.type). Auth, permission and permanent classes are never retried.",
					targets: []target{{
						expr:   rateBy(series(at, "_count"), g.panelSel(at, ne(lClass, "")), pol, ope, lClass),
						legend: legendOf(pol, ope, lClass),
					}}},
				{title: "Events", kind: kindTimeSeries, unit: "ops", width: 8, min: f64(0),
					desc: "Every event published on the bus, per second, by name (retry, success, permanent_fail, circuit_opened, ...).",
					targets: []target{{
						expr:   rateBy(telemetry.Events.Prom, g.panelSel(telemetry.Events), pol, lEvent),
						legend: legendOf(pol, lEvent),
					}}},
			}},
			{title: "Latency", panels: []panel{
				g.quantilePanel("Operation latency", "Duration of one logical call, all attempts and backoff sleeps included: p50, p95, p99. The red line is the RedressHighLatency threshold.", op, []string{pol, ope}, &p99),
				g.quantilePanel("Attempt latency", "Duration of a single attempt: p50, p95, p99. The gap to operation latency is the cost of retries and backoff.", at, []string{pol, ope}, &p99),
				g.quantilePanel("Retry delay", "Backoff delay chosen before each retry (server Retry-After hints included): p50, p95, p99.", telemetry.RetryDelay, []string{pol, ope}, nil),
			}},
			{title: "Retry budget", panels: []panel{
				{title: "Budget utilization", kind: kindTimeSeries, unit: "percentunit", width: 12, min: f64(0), max: f64(1),
					desc:       "Share of the retry budget in use, per policy. At 100% further retries are denied (stop reason budget_exhausted).",
					thresholds: []step{{color: "green"}, {value: f64(0.8), color: "orange"}, {value: f64(1), color: "red"}},
					targets: []target{{
						expr:   fmt.Sprintf("max %s (%s%s)", by(pol), telemetry.BudgetUtilization.Prom, g.panelSel(telemetry.BudgetUtilization)),
						legend: legendOf(pol),
					}}},
				{title: "Budget rejections", kind: kindBars, unit: "ops", width: 12, min: f64(0),
					desc: "Retries denied by the retry budget, per second. Non-zero for long fires RedressRetryBudgetExhausted.",
					targets: []target{{
						expr:   rateBy(telemetry.BudgetRejections.Prom, g.panelSel(telemetry.BudgetRejections), pol, ope),
						legend: legendOf(pol, ope),
					}}},
			}},
			{title: "Circuit breakers", panels: g.breakerPanels("breaker", "Circuit breaker state", "Breaker rejections")},
		},
	}
}

// breakerPanels are the state timeline, transitions and rejections panels.
func (g *generator) breakerPanels(what, stateTitle, rejTitle string) []panel {
	tr := telemetry.BreakerTransitions
	rj := telemetry.BreakerRejections
	return []panel{
		{title: stateTitle, kind: kindStateTimeline, width: 24,
			desc: "State of each " + what + "'s circuit breaker over time: closed, half_open (probing) or open (rejecting).",
			targets: []target{{
				expr:   g.breakerStateExpr(lPolicy, lBreaker),
				legend: legendOf(lPolicy, lBreaker),
			}}},
		{title: "Breaker transitions", kind: kindBars, unit: "short", width: 12, min: f64(0),
			desc: "State changes per interval, by the state entered.",
			targets: []target{{
				expr:   fmt.Sprintf("sum %s (increase(%s%s[%s]))", by(lPolicy, lBreaker, lState), tr.Prom, g.panelSel(tr), rateInterval),
				legend: legendOf(lPolicy, lBreaker, lState),
			}}},
		{title: rejTitle, kind: kindTimeSeries, unit: "reqps", width: 12, stacked: true, min: f64(0),
			desc: "Calls refused without touching the downstream because the breaker was open, per second.",
			targets: []target{{
				expr:   rateBy(rj.Prom, g.panelSel(rj), lPolicy, lOperation, lBreaker),
				legend: legendOf(lPolicy, lOperation, lBreaker),
			}}},
	}
}

// wrapper describes one contrib wrapper's dashboard.
type wrapper struct {
	uid, title, file, desc string
	opNoun                 string // what redress.operation holds for this wrapper
	breakerNoun            string // what a breaker guards
	// labels are wrapper attributes (telemetry keys) that get their own
	// panel when the name table says the attempt histogram carries them.
	labels []wrapperLabel
}

type wrapperLabel struct {
	attr, noun string
}

func (g *generator) wrapperBoard(w wrapper) board {
	op := telemetry.OperationDuration
	at := telemetry.AttemptDuration
	pol, ope := lPolicy, lOperation
	p99 := g.cfg.LatencyP99.Seconds()
	traffic := []panel{
		{title: "Requests by " + w.opNoun, kind: kindTimeSeries, unit: "reqps", width: 8, stacked: true, min: f64(0),
			desc: "Logical calls per second by " + w.opNoun + " (the redress.operation label).",
			targets: []target{{
				expr:   rateBy(series(op, "_count"), g.panelSel(op), pol, ope),
				legend: legendOf(pol, ope),
			}}},
		{title: "Outcomes", kind: kindTimeSeries, unit: "reqps", width: 8, stacked: true, min: f64(0),
			desc: "Calls per second by outcome: success, success_after_retry, failure, rejected.",
			targets: []target{{
				expr:   rateBy(series(op, "_count"), g.panelSel(op), ope, lOutcome),
				legend: legendOf(ope, lOutcome),
			}}},
		{title: "Failed attempts by class", kind: kindTimeSeries, unit: "ops", width: 8, stacked: true, min: f64(0),
			desc: "Failed attempts per second by class: the wrapper maps each " + w.opNoun + "'s status to a class.",
			targets: []target{{
				expr:   rateBy(series(at, "_count"), g.panelSel(at, ne(lClass, "")), ope, lClass),
				legend: legendOf(ope, lClass),
			}}},
	}
	for _, l := range w.labels {
		if !has(at, l.attr) {
			continue // the subscribers do not emit it: a panel would be empty
		}
		lbl := telemetry.PromLabel(l.attr)
		traffic = append(traffic, panel{
			title: "Attempts by " + l.noun, kind: kindTimeSeries, unit: "ops", width: 8, stacked: true, min: f64(0),
			desc: "Attempts per second by " + l.noun + ".",
			targets: []target{{
				expr:   rateBy(series(at, "_count"), g.panelSel(at), ope, lbl),
				legend: legendOf(ope, lbl),
			}}})
	}
	return board{
		uid: w.uid, title: w.title, file: w.file, desc: w.desc,
		tags: []string{"redress"},
		rows: []row{
			{title: "Traffic", panels: traffic},
			{title: "Retries and latency", panels: []panel{
				{title: "Retries by class", kind: kindTimeSeries, unit: "ops", width: 8, stacked: true, min: f64(0),
					desc: "Retries scheduled per second by " + w.opNoun + " and class.",
					targets: []target{{
						expr:   rateBy(telemetry.Retries.Prom, g.panelSel(telemetry.Retries), ope, lClass),
						legend: legendOf(ope, lClass),
					}}},
				g.quantilePanel("Latency by "+w.opNoun, "Duration of one logical call, retries included: p50, p95, p99.", op, []string{ope}, &p99),
				g.quantilePanel("Attempt latency by "+w.opNoun, "Duration of one attempt: p50, p95, p99.", at, []string{ope}, &p99),
			}},
			{title: "Circuit breakers", panels: g.breakerPanels(w.breakerNoun, "Breaker state by "+w.breakerNoun, "Rejections by "+w.breakerNoun)},
		},
	}
}

func (g *generator) boards() []board {
	return []board{
		g.overview(),
		g.wrapperBoard(wrapper{
			uid: uidHTTP, title: "redress / HTTP client", file: "grafana/redress-http.json",
			desc:   "net/http clients wrapped with contrib/nethttp (redresshttp): requests by route or \"METHOD host\", failures by class (429 rate_limit, 5xx server_error, 408 transient, 4xx permanent), breakers per host.",
			opNoun: "route", breakerNoun: "host",
			labels: []wrapperLabel{
				{telemetry.AttrServerAddress, "host"}, {telemetry.AttrHTTPRoute, "route"},
				{telemetry.AttrHTTPStatusCode, "status code"}, {telemetry.AttrHTTPMethod, "method"},
			},
		}),
		g.wrapperBoard(wrapper{
			uid: uidSQL, title: "redress / database/sql", file: "grafana/redress-sql.json",
			desc:   "database/sql connections wrapped with contrib/database-sql (redresssql): queries by SQL operation, serialization failures and deadlocks (class concurrency), connection failures (transient), breakers per database.",
			opNoun: "SQL operation", breakerNoun: "database",
			labels: []wrapperLabel{{telemetry.AttrDBSystem, "database system"}, {telemetry.AttrDBOperation, "db operation"}},
		}),
		g.wrapperBoard(wrapper{
			uid: uidGRPC, title: "redress / gRPC client", file: "grafana/redress-grpc.json",
			desc:   "gRPC clients using the contrib/grpc (redressgrpc) interceptors: calls by full method name, failures by class (UNAVAILABLE transient, RESOURCE_EXHAUSTED rate_limit, INTERNAL server_error, ...), breakers per target.",
			opNoun: "method", breakerNoun: "target",
			labels: []wrapperLabel{{telemetry.AttrRPCMethod, "method"}, {telemetry.AttrRPCStatusCode, "status code"}},
		}),
	}
}
