package dashboards

import (
	"fmt"
	"strings"
	"time"

	"github.com/redress-go/redress/core"
	"github.com/redress-go/redress/internal/telemetry"
)

// rule is one Prometheus recording or alerting rule.
type rule struct {
	record      string
	alert       string
	expr        string
	forDur      time.Duration
	severity    string
	summary     string
	description string
	dashboard   string
}

type ruleGroup struct {
	name  string
	rules []rule
}

// Recording rule names follow the level:metric:operations convention.
func (g *generator) recName(level, metric, op string) string {
	return level + ":" + metric + ":" + op + promDuration(g.cfg.RateWindow)
}

func (g *generator) recCalls() string {
	return g.recName("job_policy_operation", "redress_calls", "rate")
}
func (g *generator) recNonRetryable() string {
	return g.recName("job_policy_operation", "redress_nonretryable_failures", "rate")
}
func (g *generator) recRetries() string {
	return g.recName("job_policy_operation", "redress_retries", "rate")
}
func (g *generator) recRetryRatio() string {
	return g.recName("job_policy_operation", "redress_retry_ratio", "rate")
}
func (g *generator) recAttempts() string {
	return g.recName("job_policy_operation", "redress_attempts", "rate")
}
func (g *generator) recAttemptsPerCall() string {
	return g.recName("job_policy_operation", "redress_attempts_per_call", "rate")
}
func (g *generator) recP99() string {
	return "job_policy_operation:" + telemetry.OperationDuration.Prom + ":p99_rate" + promDuration(g.cfg.RateWindow)
}
func (g *generator) recLimiterRejections() string {
	return g.recName("job_policy_operation", "redress_limiter_rejections", "rate")
}
func (g *generator) recFaultsInjected() string {
	return g.recName("job_policy_operation", "redress_faults_injected", "rate")
}
func (g *generator) recBudgetRejections() string {
	return g.recName("job_policy", "redress_budget_rejections", "rate")
}

var jobPolicyOp = []string{"job", lPolicy, lOperation}

func (g *generator) recording() ruleGroup {
	w := promDuration(g.cfg.RateWindow)
	op := telemetry.OperationDuration
	rate := func(s, sel string, labels ...string) string {
		return fmt.Sprintf("sum %s (rate(%s%s[%s]))", by(labels...), s, sel, w)
	}
	return ruleGroup{name: "redress.recording", rules: []rule{
		{record: g.recCalls(), expr: rate(series(op, "_count"), g.ruleSel(), jobPolicyOp...)},
		{record: g.recNonRetryable(), expr: rate(series(op, "_count"),
			g.ruleSel(eq(lStop, core.StopNonRetryableClass.String()), re(lClass, nonRetryableClasses())), jobPolicyOp...)},
		{record: g.recRetries(), expr: rate(telemetry.Retries.Prom, g.ruleSel(), jobPolicyOp...)},
		{record: g.recRetryRatio(), expr: g.recRetries() + " / " + g.recCalls()},
		{record: g.recAttempts(), expr: rate(series(telemetry.AttemptDuration, "_count"), g.ruleSel(), jobPolicyOp...)},
		{record: g.recAttemptsPerCall(), expr: g.recAttempts() + " / " + g.recCalls()},
		{record: g.recP99(), expr: fmt.Sprintf("histogram_quantile(0.99, %s)",
			rate(series(op, "_bucket"), g.ruleSel(), append(append([]string{}, jobPolicyOp...), "le")...))},
		{record: g.recBudgetRejections(), expr: rate(telemetry.BudgetRejections.Prom, g.ruleSel(), "job", lPolicy)},
		{record: g.recLimiterRejections(), expr: rate(telemetry.Events.Prom, g.ruleSel(limiterEvents()), jobPolicyOp...)},
		{record: g.recFaultsInjected(), expr: rate(telemetry.Events.Prom, g.ruleSel(eq(lEvent, core.EventFaultInjected.String())), jobPolicyOp...)},
	}}
}

// nonRetryableClasses is the regexp alternation of the classes that are
// never retried ("permanent|permission|auth"). A call of a retryable class
// can stop with StopNonRetryableClass too, when the wrapper declined to
// retry it for safety (a non-idempotent method, core.NoRetry): those keep
// their real class and are not counted as non-retryable failures.
func nonRetryableClasses() string {
	var out []string
	for _, c := range core.Classes() {
		if !c.Retryable() {
			out = append(out, c.String())
		}
	}
	return strings.Join(out, "|")
}

func (g *generator) dashboardURL() string {
	return g.cfg.GrafanaURL + "/d/" + uidOverview + "/" + uidOverview +
		"?var-job={{ $labels.job }}&var-policy={{ $labels." + lPolicy + " }}"
}

// The alert names.
const (
	alertCircuitOpen     = "RedressCircuitOpen"
	alertBudgetExhausted = "RedressRetryBudgetExhausted"
	alertRetryStorm      = "RedressRetryStorm"
	alertAmplification   = "RedressRetryAmplification"
	alertNonRetryable    = "RedressNonRetryableFailures"
	alertHighLatency     = "RedressHighLatency"
	alertLimiter         = "RedressLimiterRejections"
	alertFaultInjection  = "RedressFaultInjectionActive"
)

func (g *generator) alerts() ruleGroup {
	c := g.cfg
	lbl := func(l string) string { return "{{ $labels." + l + " }}" }
	where := lbl(lOperation) + " (policy " + lbl(lPolicy) + ", job " + lbl("job") + ")"
	bs := telemetry.BreakerState
	return ruleGroup{name: "redress.alerts", rules: []rule{
		{alert: alertCircuitOpen, forDur: c.CircuitOpenFor, severity: "critical",
			expr: fmt.Sprintf("max %s (%s%s) == 0", by("job", lPolicy, lBreaker), bs.Prom,
				g.ruleSel(eq(lState, core.StateClosed.String()))),
			summary: "Circuit breaker " + lbl(lBreaker) + " has not closed for " + promDuration(c.CircuitOpenFor) + ".",
			description: "The circuit breaker " + lbl(lBreaker) + " of policy " + lbl(lPolicy) + " (job " + lbl("job") +
				") has been open or half-open with failing probes for more than " + promDuration(c.CircuitOpenFor) +
				": calls to its downstream are rejected without being sent. Check the downstream's health.",
		},
		{alert: alertBudgetExhausted, forDur: c.For, severity: "warning",
			expr:    g.recBudgetRejections() + " > 0",
			summary: "Retry budget of policy " + lbl(lPolicy) + " is exhausted.",
			description: "The retry budget of policy " + lbl(lPolicy) + " (job " + lbl("job") + ") has denied retries for more than " +
				promDuration(c.For) + ": failures that could have been retried are returned to callers (stop reason budget_exhausted).",
		},
		{alert: alertRetryStorm, forDur: c.For, severity: "warning",
			expr:    fmt.Sprintf("%s > %g", g.recRetryRatio(), c.RetryRatio),
			summary: "Retry storm on " + where + ".",
			description: fmt.Sprintf("Operation %s retries more than %g times per call over %s: the downstream is struggling and retries multiply its load. Consider a retry budget or a circuit breaker.",
				where, c.RetryRatio, promDuration(c.RateWindow)),
		},
		{alert: alertAmplification, forDur: c.For, severity: "warning",
			expr:    fmt.Sprintf("%s > %g", g.recAttemptsPerCall(), c.RetryAmplification),
			summary: "Retries amplify the load of " + where + ".",
			description: fmt.Sprintf("Operation %s sends more than %g attempts per logical call to its downstream over %s: retries multiply the load its callers offer on a downstream that is already failing. Consider a retry budget, fewer attempts or a circuit breaker.",
				where, c.RetryAmplification, promDuration(c.RateWindow)),
		},
		{alert: alertNonRetryable, forDur: c.For, severity: "warning",
			expr:    fmt.Sprintf("%s / %s > %g", g.recNonRetryable(), g.recCalls(), c.NonRetryableRatio),
			summary: "Calls to " + where + " fail with non-retryable classes.",
			description: fmt.Sprintf("More than %g%% of the calls of %s failed over %s with a class that is never retried (%s): a caller bug, an expired credential or a changed API, which retries cannot fix. Failures of retryable classes that were not retried for safety (a non-idempotent method, core.NoRetry) are not counted here.",
				c.NonRetryableRatio*100, where, promDuration(c.RateWindow), strings.ReplaceAll(nonRetryableClasses(), "|", ", ")),
		},
		{alert: alertHighLatency, forDur: c.For, severity: "warning",
			expr:    fmt.Sprintf("%s > %g", g.recP99(), c.LatencyP99.Seconds()),
			summary: "p99 latency of " + where + " is above " + c.LatencyP99.String() + ".",
			description: fmt.Sprintf("The 99th percentile of the duration of %s, retries and backoff included, has been above %s for more than %s.",
				where, c.LatencyP99, promDuration(c.For)),
		},
		{alert: alertLimiter, forDur: c.For, severity: "warning",
			expr:    fmt.Sprintf("%s / %s > %g", g.recLimiterRejections(), g.recCalls(), c.LimiterRejectionRatio),
			summary: "Limiters refuse calls to " + where + ".",
			description: fmt.Sprintf("More than %g%% of the calls of %s were refused by a limiter over %s (events limited: a rate limiter had no token; concurrency_limited: a concurrency limiter had no free slot): the callers offer more than the limits admit. Raise the limit if the downstream can take it, or slow the callers down.",
				c.LimiterRejectionRatio*100, where, promDuration(c.RateWindow)),
		},
		{alert: alertFaultInjection, forDur: c.For, severity: "info",
			expr:    g.recFaultsInjected() + " > 0",
			summary: "Fault injection is active on " + where + ".",
			description: fmt.Sprintf("Fault injection has injected faults (latency, errors or results) into the attempts of %s for more than %s. Expected during a chaos experiment; anywhere else, turn it off.",
				where, promDuration(c.For)),
		},
	}}
}

// quote writes s as a YAML double-quoted scalar (JSON string syntax is a
// subset of it).
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

const generatedYAML = "# Code generated by go generate ./dashboards; DO NOT EDIT.\n"

func (g *generator) rulesYAML(groups ...ruleGroup) []byte {
	var b strings.Builder
	b.WriteString(generatedYAML)
	b.WriteString("groups:\n")
	for _, gr := range groups {
		fmt.Fprintf(&b, "  - name: %s\n    rules:\n", gr.name)
		for _, r := range gr.rules {
			if r.record != "" {
				fmt.Fprintf(&b, "      - record: %s\n        expr: %s\n", r.record, quote(r.expr))
				continue
			}
			fmt.Fprintf(&b, "      - alert: %s\n        expr: %s\n        for: %s\n", r.alert, quote(r.expr), promDuration(r.forDur))
			fmt.Fprintf(&b, "        labels:\n          severity: %s\n", r.severity)
			fmt.Fprintf(&b, "        annotations:\n          summary: %s\n          description: %s\n          dashboard_url: %s\n",
				quote(r.summary), quote(r.description), quote(g.dashboardURL()))
		}
	}
	return []byte(b.String())
}
