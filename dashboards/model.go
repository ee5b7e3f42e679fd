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
	// exemplar asks Grafana for the exemplars of the query's series: the
	// trace ids redressprom attaches, drawn as points that link to the
	// trace through the data source's exemplar trace-id destination.
	exemplar bool
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

// exemplarQuantile is the quantile whose query also fetches the exemplars
// of a latency panel: one query of the three, so each exemplar is drawn
// once.
const exemplarQuantile = "0.99"

// exemplarNote ends the description of a panel with exemplars.
const exemplarNote = " Points: exemplars of calls made in a sampled trace (trace_id, span_id); they link to the trace when the Prometheus data source has an exemplar trace-id destination for trace_id."

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
			expr:     fmt.Sprintf("histogram_quantile(%s, %s)", q.q, rateBy(series(m, "_bucket"), g.panelSel(m), grp...)),
			legend:   q.legend + " " + legendOf(labels...),
			exemplar: q.q == exemplarQuantile,
		})
	}
	if threshold != nil {
		p.thresholds = []step{{color: "green"}, {value: threshold, color: "red"}}
	}
	p.desc += exemplarNote
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
				g.amplificationPanel("Retry amplification",
					"Attempts sent per logical call, by policy and operation: the load the downstream receives for each call the callers make. 1 is no retries; calls refused locally count with no attempt, so shedding lowers it.",
					rateBy(series(at, "_count"), g.panelSel(at), pol, ope),
					rateBy(series(op, "_count"), g.panelSel(op), pol, ope),
					legendOf(pol, ope)),
				{title: "Local rejections", kind: kindTimeSeries, unit: "reqps", width: 12, stacked: true, min: f64(0),
					desc: "Calls refused without an attempt, per second, by policy, operation and the guard that refused them: " + rejectionLegend + ".",
					targets: []target{{
						expr:   rateBy(telemetry.Events.Prom, g.panelSel(telemetry.Events, rejectionEvents()), pol, ope, lEvent),
						legend: legendOf(pol, ope, lEvent),
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
					desc: "Retries denied by the retry budget, per second, by policy and operation: each ends its call with the event and stop reason budget_exhausted. Non-zero for long fires RedressRetryBudgetExhausted.",
					targets: []target{{
						expr:   rateBy(telemetry.BudgetRejections.Prom, g.panelSel(telemetry.BudgetRejections), pol, ope),
						legend: legendOf(pol, ope),
					}}},
			}},
			{title: "Circuit breakers", panels: g.breakerPanels("breaker", "Circuit breaker state", "Breaker rejections")},
			{title: "Fleet (shared state, contrib/redis)", panels: g.fleetPanels()},
			{title: "Components", panels: g.componentPanels()},
		},
	}
}

// noneIsZero ends a query on events that only some policies publish: it
// keeps the panel at 0, not empty, where no policy uses the component.
const noneIsZero = " or on() vector(0)"

// componentPanels show the policy components that publish events of their
// own: the limiters' rejections, the rate limiter's waits, the fallback,
// fault injection and hedging, from redress_events_total.
func (g *generator) componentPanels() []panel {
	ev := telemetry.Events
	pol, ope := lPolicy, lOperation
	evRate := func(k core.EventKind, labels ...string) string {
		return rateBy(ev.Prom, g.panelSel(ev, eq(lEvent, k.String())), labels...)
	}
	return []panel{
		{title: "Limiter rejections", kind: kindTimeSeries, unit: "reqps", width: 8, stacked: true, min: f64(0),
			desc: fmt.Sprintf("Calls refused by a limiter, per second, by policy and event: limited (a rate limiter had no token, or the fleet's limit of contrib/redis no admission), concurrency_limited (a concurrency limiter had no free slot). Above %g%% of an operation's calls for %s the RedressLimiterRejections alert fires. 0 when no policy has a limiter.",
				g.cfg.LimiterRejectionRatio*100, promDuration(g.cfg.For)),
			targets: []target{{
				expr:   rateBy(ev.Prom, g.panelSel(ev, limiterEvents()), pol, lEvent) + noneIsZero,
				legend: legendOf(pol, lEvent),
			}}},
		{title: "Rate-limit waits", kind: kindTimeSeries, unit: "ops", width: 8, min: f64(0),
			desc: "Attempts that waited for a rate limiter's token (a rate limiter with MaxWait set) before being sent, per second, by policy and operation. 0 when no policy waits for a rate limiter.",
			targets: []target{{
				expr:   evRate(core.EventRateLimitWait, pol, ope) + noneIsZero,
				legend: legendOf(pol, ope),
			}}},
		{title: "Fallbacks used", kind: kindTimeSeries, unit: "reqps", width: 8, min: f64(0),
			desc: "Calls whose result the policy's fallback supplied after the policy gave up (retries spent, a limit, a rejection), per second, by policy and operation. The call's outcome and stop reason stay the downstream's. 0 when no fallback was used.",
			targets: []target{{
				expr:   evRate(core.EventFallback, pol, ope) + noneIsZero,
				legend: legendOf(pol, ope),
			}}},
		{title: "Faults injected", kind: kindTimeSeries, unit: "ops", width: 8, min: f64(0),
			desc: "Faults (latency, an error or a result) injected into attempts by fault injection, per second, by policy and operation; the kind of fault is not a label. Faults for " + promDuration(g.cfg.For) + " fire RedressFaultInjectionActive (severity info). 0 when fault injection is off.",
			targets: []target{{
				expr:   evRate(core.EventFaultInjected, pol, ope) + noneIsZero,
				legend: legendOf(pol, ope),
			}}},
		{title: "Hedges sent and won", kind: kindTimeSeries, unit: "ops", width: 8, min: f64(0),
			desc: "Hedged attempts sent beside a running attempt (hedge), and hedges whose answer was taken (hedge_won), per second, by policy. 0 when no policy hedges.",
			targets: []target{
				{expr: evRate(core.EventHedge, pol) + noneIsZero, legend: legendOf(pol) + " sent"},
				{expr: evRate(core.EventHedgeWon, pol) + noneIsZero, legend: legendOf(pol) + " won"},
			}},
		{title: "Hedge win ratio", kind: kindTimeSeries, unit: "percentunit", width: 8, min: f64(0), max: f64(1),
			desc: "Share of the hedges sent whose answer was taken (hedge_won / hedge), by policy: low, the hedges add load without shortening calls (the hedge delay is too short); high, the first attempts are often slow. 0 when no policy hedges.",
			targets: []target{{
				expr:   evRate(core.EventHedgeWon, pol) + " / " + evRate(core.EventHedge, pol) + noneIsZero,
				legend: legendOf(pol),
			}}},
	}
}

// fleetPanels show the replicas of a service together: how many see each
// breaker in each state (a breaker shared through contrib/redis is seen
// alike by all), the spread of their budgets' utilization (a shared budget
// reports the fleet's on every replica), and the degraded spells of their
// stores of shared state.
func (g *generator) fleetPanels() []panel {
	bs := telemetry.BreakerState
	bu := telemetry.BudgetUtilization
	ev := telemetry.Events
	return []panel{
		{title: "Replicas by breaker state", kind: kindTimeSeries, unit: "short", width: 8, stacked: true, min: f64(0),
			desc: "How many instances see each breaker in each state (closed, half_open, open): the sum over instances of the breaker state series. A breaker shared through contrib/redis is open on every replica within its propagation delay; a local one opens replica by replica.",
			targets: []target{{
				expr:   fmt.Sprintf("sum %s (%s%s)", by(lPolicy, lBreaker, lState), bs.Prom, g.panelSel(bs)),
				legend: legendOf(lPolicy, lBreaker, lState),
			}}},
		{title: "Budget utilization across replicas", kind: kindTimeSeries, unit: "percentunit", width: 8, min: f64(0), max: f64(1),
			desc:       "Highest and lowest retry budget utilization over the instances, per policy. A budget shared through contrib/redis reports the fleet's on every replica, so the two lines meet; local budgets spread.",
			thresholds: []step{{color: "green"}, {value: f64(0.8), color: "orange"}, {value: f64(1), color: "red"}},
			targets: []target{
				{expr: fmt.Sprintf("max %s (%s%s)", by(lPolicy), bu.Prom, g.panelSel(bu)), legend: legendOf(lPolicy) + " max"},
				{expr: fmt.Sprintf("min %s (%s%s)", by(lPolicy), bu.Prom, g.panelSel(bu)), legend: legendOf(lPolicy) + " min"},
			}},
		{title: "Shared state degraded", kind: kindBars, unit: "short", width: 8, min: f64(0),
			desc: "Degraded spells of the stores of shared state (contrib/redis) per interval, by instance and store: Redis did not answer in time, and the replica decided on local state until shared_state_restored. 0 when there is none (or no store).",
			targets: []target{{
				expr: fmt.Sprintf("sum by (instance, %s) (increase(%s%s[%s])) or on() vector(0)", lOperation,
					ev.Prom, g.panelSel(ev, eq(lEvent, core.EventSharedStateDegraded.String())), rateInterval),
				legend: "{{instance}} {{" + lOperation + "}}",
			}}},
	}
}

// rejectionLegend explains the local rejection events.
const rejectionLegend = "circuit_rejected (its breaker was open or ramping), held (it asked callers to wait: Retry-After or pushback), throttled (client-side adaptive throttling: it accepts too few of the recent requests), limited (a rate limiter, shared by the fleet through contrib/redis, had no admission left), concurrency_limited (a concurrency limiter had no free slot)"

// amplificationPanel draws attempts / calls, 12 wide, with the
// RedressRetryAmplification threshold as a red line.
func (g *generator) amplificationPanel(title, desc, attempts, calls, legend string) panel {
	thr := g.cfg.RetryAmplification
	return panel{title: title, kind: kindTimeSeries, unit: "short", width: 12, min: f64(0),
		desc:       fmt.Sprintf("%s Above %g for %s the RedressRetryAmplification alert fires (red line).", desc, thr, promDuration(g.cfg.For)),
		thresholds: []step{{color: "green"}, {value: f64(thr), color: "red"}},
		targets:    []target{{expr: attempts + " / " + calls, legend: legend}},
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

// wrapper describes one contrib wrapper's dashboard. Its panels read the
// attempt-level instruments, which carry the wrapper attributes, restricted
// to the wrapper's series by scope (a wrapper-specific label that is never
// empty on them); the operation-level and breaker instruments, which do
// not carry them, are restricted by a join on policy (and operation) with
// those series.
type wrapper struct {
	uid, title, file, desc string
	// scope is the attribute (telemetry key) set on every series of this
	// wrapper and on no other wrapper's.
	scope string
	// ident are the attributes that identify what is called (host and
	// route, method, operation and system); failures, retries and
	// rejections are shown by the first one.
	ident []string
	// status is the attribute holding the attempt's status code, or "".
	status string
	// identNoun names ident together ("host and route"); firstNoun names
	// ident[0] alone ("host"); breakerNoun is what a breaker guards.
	identNoun, firstNoun, breakerNoun string
}

// terminalEvents matches the events that end a call, one per logical call.
func terminalEvents() string { return eventsWhere(core.EventKind.Terminal) }

// rejectionEvents matches the terminal events of calls refused locally.
func rejectionEvents() string { return eventsWhere(core.EventKind.Rejection) }

// limiterEvents matches the terminal events of calls a limiter refused.
func limiterEvents() string {
	return eventsWhere(func(k core.EventKind) bool { return k == core.EventLimited || k == core.EventConcurrencyLimited })
}

// eventsWhere matches the event kinds for which keep is true.
func eventsWhere(keep func(core.EventKind) bool) string {
	var names []string
	for _, k := range core.EventKinds() {
		if keep(k) {
			names = append(names, k.String())
		}
	}
	return re(lEvent, strings.Join(names, "|"))
}

func promLabels(attrs []string) []string {
	out := make([]string, len(attrs))
	for i, a := range attrs {
		out[i] = telemetry.PromLabel(a)
	}
	return out
}

func (g *generator) wrapperBoard(w wrapper) board {
	at := telemetry.AttemptDuration
	ev := telemetry.Events
	for _, a := range append([]string{w.scope, w.status}, w.ident...) {
		if a != "" && (!has(at, a) || !has(ev, a)) {
			panic("dashboards: the name table does not list " + a + " on " + at.Name + " and " + ev.Name)
		}
	}
	scope := ne(telemetry.PromLabel(w.scope), "")
	ident := promLabels(w.ident)
	first := ident[0]
	p99 := g.cfg.LatencyP99.Seconds()
	// join restricts an expression on a metric without wrapper labels to the
	// policies (and operations) that have this wrapper's attempts.
	join := func(on ...string) string {
		return fmt.Sprintf(" and on (%s) group by (%s) (%s%s)", strings.Join(on, ", "), strings.Join(on, ", "),
			series(at, "_count"), g.panelSel(at, scope))
	}
	attempts := panel{title: "Attempts by " + w.identNoun, kind: kindTimeSeries, unit: "ops", width: 8, stacked: true, min: f64(0),
		desc: "Attempts per second by " + w.identNoun + ", retries included.",
		targets: []target{{
			expr:   rateBy(series(at, "_count"), g.panelSel(at, scope), ident...),
			legend: legendOf(ident...),
		}}}
	if w.status != "" {
		st := telemetry.PromLabel(w.status)
		grp := append(append([]string{}, ident...), st)
		attempts = panel{title: "Attempts by " + w.identNoun + " and status code", kind: kindTimeSeries, unit: "ops", width: 8, stacked: true, min: f64(0),
			desc: "Attempts per second by " + w.identNoun + " and the status code of the attempt (" + w.status + "; empty when no response arrived).",
			targets: []target{{
				expr:   rateBy(series(at, "_count"), g.panelSel(at, scope), grp...),
				legend: legendOf(grp...),
			}}}
	}
	amplification := g.amplificationPanel("Retry amplification by "+w.firstNoun,
		"Attempts sent per logical call (terminal event), by "+w.firstNoun+": the load the "+w.breakerNoun+" receives for each call the callers make. 1 is no retries; calls refused locally count with no attempt.",
		rateBy(series(at, "_count"), g.panelSel(at, scope), first),
		rateBy(ev.Prom, g.panelSel(ev, scope, terminalEvents()), first),
		legendOf(first))
	amplification.width = 8
	opQuantiles := g.quantilePanel("Call latency by operation", "Duration of one logical call, retries and backoff included: p50, p95, p99, for the operations of this wrapper.", telemetry.OperationDuration, []string{lOperation}, &p99)
	for i := range opQuantiles.targets {
		// histogram_quantile(q, sum by (op, le) (rate(...))): join inside the sum.
		t := &opQuantiles.targets[i]
		t.expr = strings.Replace(t.expr, "]))", "])"+join(lPolicy, lOperation)+")", 1)
	}
	states := g.breakerPanels(w.breakerNoun, "Breaker state", "Rejections by "+w.firstNoun)
	states[0].targets[0].expr += join(lPolicy)
	states[1].targets[0].expr += join(lPolicy)
	states[2].title = "Local rejections by " + w.firstNoun
	states[2].desc = "Calls refused without touching the " + w.breakerNoun + ", per second, by the guard that refused them: " + rejectionLegend + "."
	states[2].targets = []target{{
		expr:   rateBy(ev.Prom, g.panelSel(ev, scope, rejectionEvents()), lPolicy, first, lEvent),
		legend: legendOf(lPolicy, first, lEvent),
	}}
	return board{
		uid: w.uid, title: w.title, file: w.file, desc: w.desc,
		tags: []string{"redress"},
		rows: []row{
			{title: "Traffic", panels: []panel{
				{title: "Calls by " + w.identNoun, kind: kindTimeSeries, unit: "reqps", width: 8, stacked: true, min: f64(0),
					desc: "Logical calls per second (all attempts of a call count once) by " + w.identNoun + ".",
					targets: []target{{
						expr:   rateBy(ev.Prom, g.panelSel(ev, scope, terminalEvents()), ident...),
						legend: legendOf(ident...),
					}}},
				{title: "Call results by " + w.firstNoun, kind: kindTimeSeries, unit: "reqps", width: 8, stacked: true, min: f64(0),
					desc: "Logical calls per second by " + w.firstNoun + " and the event that ended them: success, permanent_fail, max_attempts_exceeded, budget_exhausted, circuit_rejected, ...",
					targets: []target{{
						expr:   rateBy(ev.Prom, g.panelSel(ev, scope, terminalEvents()), first, lEvent),
						legend: legendOf(first, lEvent),
					}}},
				attempts,
				{title: "Failed attempts by class", kind: kindTimeSeries, unit: "ops", width: 8, stacked: true, min: f64(0),
					desc: "Failed attempts per second by " + w.firstNoun + " and class: the wrapper maps each status to a class.",
					targets: []target{{
						expr:   rateBy(series(at, "_count"), g.panelSel(at, scope, ne(lClass, "")), first, lClass),
						legend: legendOf(first, lClass),
					}}},
				{title: "Retries by class", kind: kindTimeSeries, unit: "ops", width: 8, stacked: true, min: f64(0),
					desc: "Retries scheduled per second by " + w.firstNoun + " and the class of the failure retried.",
					targets: []target{{
						expr:   rateBy(ev.Prom, g.panelSel(ev, scope, eq(lEvent, core.EventRetry.String())), first, lClass),
						legend: legendOf(first, lClass),
					}}},
				amplification,
			}},
			{title: "Latency", panels: []panel{
				g.quantilePanelScoped("Attempt latency by "+w.identNoun, "Duration of one attempt: p50, p95, p99.", ident, scope, &p99),
				opQuantiles,
			}},
			{title: "Circuit breakers", panels: states},
		},
	}
}

// quantilePanelScoped is quantilePanel on the attempt histogram restricted
// to a wrapper's series, 12 wide.
func (g *generator) quantilePanelScoped(title, desc string, labels []string, scope string, threshold *float64) panel {
	at := telemetry.AttemptDuration
	p := panel{title: title, desc: desc, unit: "s", width: 12, min: f64(0)}
	for _, q := range quantiles {
		grp := append(append([]string{}, labels...), "le")
		p.targets = append(p.targets, target{
			expr:     fmt.Sprintf("histogram_quantile(%s, %s)", q.q, rateBy(series(at, "_bucket"), g.panelSel(at, scope), grp...)),
			legend:   q.legend + " " + legendOf(labels...),
			exemplar: q.q == exemplarQuantile,
		})
	}
	if threshold != nil {
		p.thresholds = []step{{color: "green"}, {value: threshold, color: "red"}}
	}
	p.desc += exemplarNote
	return p
}

func (g *generator) boards() []board {
	return []board{
		g.overview(),
		g.wrapperBoard(wrapper{
			uid: uidHTTP, title: "redress / HTTP client", file: "grafana/redress-http.json",
			desc:  "net/http clients wrapped with contrib/nethttp (redresshttp): calls and attempts by host and route with status codes, failures by class (429 rate_limit, 5xx server_error, 408 transient, 4xx permanent), breakers per host. Series with a non-empty http_request_method.",
			scope: telemetry.AttrHTTPMethod, ident: []string{telemetry.AttrServerAddress, telemetry.AttrHTTPRoute}, status: telemetry.AttrHTTPStatusCode,
			identNoun: "host and route", firstNoun: "host", breakerNoun: "host",
		}),
		g.wrapperBoard(wrapper{
			uid: uidSQL, title: "redress / database/sql", file: "grafana/redress-sql.json",
			desc:  "database/sql connections wrapped with contrib/database-sql (redresssql): calls and attempts by SQL operation and database system, serialization failures and deadlocks (class concurrency), connection failures (transient), breakers per database. Series with a non-empty db_system_name.",
			scope: telemetry.AttrDBSystem, ident: []string{telemetry.AttrDBOperation, telemetry.AttrDBSystem},
			identNoun: "operation and system", firstNoun: "operation", breakerNoun: "database",
		}),
		g.wrapperBoard(wrapper{
			uid: uidGRPC, title: "redress / gRPC client", file: "grafana/redress-grpc.json",
			desc:  "gRPC clients using the contrib/grpc (redressgrpc) interceptors: calls and attempts by full method name and status code, failures by class (UNAVAILABLE transient, RESOURCE_EXHAUSTED rate_limit, INTERNAL server_error, ...), breakers per target. Series with a non-empty rpc_method.",
			scope: telemetry.AttrRPCMethod, ident: []string{telemetry.AttrRPCMethod}, status: telemetry.AttrRPCStatusCode,
			identNoun: "method", firstNoun: "method", breakerNoun: "target",
		}),
	}
}
