package dashboards

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/redress-go/redress/core"
	"github.com/redress-go/redress/internal/telemetry"
)

// promtool unit tests: for every alert, input series where it must fire for
// one label set and stay silent for another, evaluated before and after
// its "for" duration.

type inputSeries struct {
	metric string
	labels map[string]string
	values string
}

type alertCase struct {
	at     time.Duration
	labels []map[string]string // alerts expected at that time (without severity)
}

type alertTest struct {
	name   string
	alert  string
	series []inputSeries
	evals  []alertCase
}

func seriesString(s inputSeries) string {
	keys := make([]string, 0, len(s.labels))
	for k := range s.labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + `="` + s.labels[k] + `"`
	}
	return s.metric + "{" + strings.Join(parts, ", ") + "}"
}

func with(base map[string]string, kv ...string) map[string]string {
	m := make(map[string]string, len(base)+len(kv)/2)
	for k, v := range base {
		m[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// render expands {{ $labels.x }} the way Prometheus templates do.
func render(tmpl string, labels map[string]string) string {
	for k, v := range labels {
		tmpl = strings.ReplaceAll(tmpl, "{{ $labels."+k+" }}", v)
	}
	return tmpl
}

func (g *generator) alertTests() []alertTest {
	c := g.cfg
	iv := c.RateWindow / 5
	steps := func(d time.Duration) int { return int((d + iv - 1) / iv) }
	n := 5 + steps(c.For) + steps(c.CircuitOpenFor) + 5
	counter := func(inc float64) string { return fmt.Sprintf("0+%gx%d", inc, n) }
	const job = "checkout"
	bad := map[string]string{"job": job, lPolicy: "payments", lOperation: "POST /charge"}
	good := map[string]string{"job": job, lPolicy: "search", lOperation: "GET /search"}
	op := telemetry.OperationDuration
	calls := series(op, "_count")
	sr := func(r core.StopReason) string { return r.String() }
	oc := func(o core.OutcomeKind) string { return o.String() }
	ratioCalls := 60.0
	var tests []alertTest

	// Circuit open: one breaker leaves closed at step 2 and stays away.
	{
		b := map[string]string{"job": job, lPolicy: "payments", lBreaker: "payments.example:443"}
		h := map[string]string{"job": job, lPolicy: "search", lBreaker: "search.example:443"}
		st := func(m map[string]string) map[string]string { return with(m, lState, core.StateClosed.String()) }
		tests = append(tests, alertTest{
			name: "circuit open fires after " + promDuration(c.CircuitOpenFor) + ", not for a closed breaker", alert: alertCircuitOpen,
			series: []inputSeries{
				{telemetry.BreakerState.Prom, st(b), fmt.Sprintf("1 1 0x%d", n)},
				{telemetry.BreakerState.Prom, st(h), fmt.Sprintf("1x%d", n+2)},
			},
			evals: []alertCase{
				{at: 2*iv + c.CircuitOpenFor - iv},
				{at: 2*iv + c.CircuitOpenFor + iv, labels: []map[string]string{b}},
			},
		})
	}
	// Budget exhausted: one policy's budget keeps denying, another's does not.
	{
		b := map[string]string{"job": job, lPolicy: "payments"}
		tests = append(tests, alertTest{
			name: "budget exhausted fires after " + promDuration(c.For) + " of rejections", alert: alertBudgetExhausted,
			series: []inputSeries{
				{telemetry.BudgetRejections.Prom, bad, counter(10)},
				{telemetry.BudgetRejections.Prom, good, counter(0)},
			},
			evals: []alertCase{
				{at: c.For},
				{at: 2*iv + c.For, labels: []map[string]string{b}},
			},
		})
	}
	// Retry storm: twice the threshold versus half of it.
	tests = append(tests, alertTest{
		name: fmt.Sprintf("retry storm fires above %g retries per call", c.RetryRatio), alert: alertRetryStorm,
		series: []inputSeries{
			{calls, with(bad, lOutcome, oc(core.OutcomeSuccessAfterRetry), lStop, sr(core.StopNone)), counter(ratioCalls)},
			{telemetry.Retries.Prom, with(bad, lClass, core.ClassServerError.String()), counter(ratioCalls * c.RetryRatio * 2)},
			{calls, with(good, lOutcome, oc(core.OutcomeSuccessAfterRetry), lStop, sr(core.StopNone)), counter(ratioCalls)},
			{telemetry.Retries.Prom, with(good, lClass, core.ClassServerError.String()), counter(ratioCalls * c.RetryRatio / 2)},
		},
		evals: []alertCase{
			{at: c.For},
			{at: 2*iv + c.For, labels: []map[string]string{bad}},
		},
	})
	// Retry amplification: twice the threshold's attempts per call versus
	// halfway between one and the threshold. Every call succeeds after
	// retries: one successful attempt, the rest failed with server errors.
	{
		at := series(telemetry.AttemptDuration, "_count")
		healthy := (1 + c.RetryAmplification) / 2
		tests = append(tests, alertTest{
			name: fmt.Sprintf("retry amplification fires above %g attempts per call, not at %g", c.RetryAmplification, healthy), alert: alertAmplification,
			series: []inputSeries{
				{calls, with(bad, lOutcome, oc(core.OutcomeSuccessAfterRetry), lStop, sr(core.StopNone)), counter(ratioCalls)},
				{at, bad, counter(ratioCalls)},
				{at, with(bad, lClass, core.ClassServerError.String()), counter(ratioCalls * (c.RetryAmplification*2 - 1))},
				{calls, with(good, lOutcome, oc(core.OutcomeSuccessAfterRetry), lStop, sr(core.StopNone)), counter(ratioCalls)},
				{at, good, counter(ratioCalls)},
				{at, with(good, lClass, core.ClassServerError.String()), counter(ratioCalls * (healthy - 1))},
			},
			evals: []alertCase{
				{at: c.For},
				{at: 2*iv + c.For, labels: []map[string]string{bad}},
			},
		})
	}
	// Non-retryable failures: a share well above the threshold versus none.
	{
		r := min(2*c.NonRetryableRatio, (1+c.NonRetryableRatio)/2)
		// unsafe's calls all stop unretried with a retryable class (server
		// errors of a non-idempotent method): not a non-retryable failure.
		unsafe := map[string]string{"job": job, lPolicy: "orders", lOperation: "/orders.Orders/Create"}
		tests = append(tests, alertTest{
			name: fmt.Sprintf("non-retryable failures fire above %g of calls, not for server errors not retried for safety", c.NonRetryableRatio), alert: alertNonRetryable,
			series: []inputSeries{
				{calls, with(bad, lOutcome, oc(core.OutcomeFailure), lStop, sr(core.StopNonRetryableClass), lClass, core.ClassPermanent.String()), counter(ratioCalls * r)},
				{calls, with(bad, lOutcome, oc(core.OutcomeSuccess), lStop, sr(core.StopNone)), counter(ratioCalls * (1 - r))},
				{calls, with(good, lOutcome, oc(core.OutcomeSuccess), lStop, sr(core.StopNone)), counter(ratioCalls)},
				{calls, with(unsafe, lOutcome, oc(core.OutcomeFailure), lStop, sr(core.StopNonRetryableClass), lClass, core.ClassServerError.String()), counter(ratioCalls)},
			},
			evals: []alertCase{
				{at: c.For},
				{at: 2*iv + c.For, labels: []map[string]string{bad}},
			},
		})
	}
	// Limiter rejections: a share well above the threshold (half of it
	// limited, half concurrency_limited) versus half the threshold.
	{
		r := min(2*c.LimiterRejectionRatio, (1+c.LimiterRejectionRatio)/2)
		ev := telemetry.Events.Prom
		evt := func(m map[string]string, k core.EventKind) map[string]string { return with(m, lEvent, k.String()) }
		rejected := func(m map[string]string, s core.StopReason) map[string]string {
			return with(m, lOutcome, oc(core.OutcomeRejected), lStop, sr(s))
		}
		ok := func(m map[string]string) map[string]string {
			return with(m, lOutcome, oc(core.OutcomeSuccess), lStop, sr(core.StopNone))
		}
		healthy := c.LimiterRejectionRatio / 2
		tests = append(tests, alertTest{
			name: fmt.Sprintf("limiter rejections fire above %g of calls, not at %g", c.LimiterRejectionRatio, healthy), alert: alertLimiter,
			series: []inputSeries{
				{calls, rejected(bad, core.StopLimited), counter(ratioCalls * r / 2)},
				{calls, rejected(bad, core.StopConcurrencyLimited), counter(ratioCalls * r / 2)},
				{calls, ok(bad), counter(ratioCalls * (1 - r))},
				{ev, evt(bad, core.EventLimited), counter(ratioCalls * r / 2)},
				{ev, evt(bad, core.EventConcurrencyLimited), counter(ratioCalls * r / 2)},
				{calls, rejected(good, core.StopConcurrencyLimited), counter(ratioCalls * healthy)},
				{calls, ok(good), counter(ratioCalls * (1 - healthy))},
				{ev, evt(good, core.EventConcurrencyLimited), counter(ratioCalls * healthy)},
			},
			evals: []alertCase{
				{at: c.For},
				{at: 2*iv + c.For, labels: []map[string]string{bad}},
			},
		})
	}
	// Fault injection: one operation's attempts get faults, another's
	// counter stays flat.
	{
		ev := telemetry.Events.Prom
		tests = append(tests, alertTest{
			name: "fault injection fires after " + promDuration(c.For) + " of injected faults, not for a flat counter", alert: alertFaultInjection,
			series: []inputSeries{
				{ev, with(bad, lEvent, core.EventFaultInjected.String()), counter(1)},
				{ev, with(good, lEvent, core.EventFaultInjected.String()), counter(0)},
			},
			evals: []alertCase{
				{at: c.For},
				{at: 2*iv + c.For, labels: []map[string]string{bad}},
			},
		})
	}
	// High latency: every call of one operation lands in the first bucket
	// above the threshold, every call of the other in the first bucket.
	{
		var ss []inputSeries
		thr := c.LatencyP99.Seconds()
		slowFrom := len(telemetry.Buckets) // index of the first bucket whose lower bound >= thr
		for i := 1; i < len(telemetry.Buckets); i++ {
			if telemetry.Buckets[i-1] >= thr {
				slowFrom = i
				break
			}
		}
		les := make([]string, 0, len(telemetry.Buckets)+1)
		for _, b := range telemetry.Buckets {
			les = append(les, fmt.Sprintf("%g", b))
		}
		les = append(les, "+Inf")
		for i, le := range les {
			slow, fast := counter(0), counter(ratioCalls)
			if i >= slowFrom {
				slow = counter(ratioCalls)
			}
			lb := with(bad, lOutcome, oc(core.OutcomeSuccess), lStop, sr(core.StopNone), "le", le)
			lg := with(good, lOutcome, oc(core.OutcomeSuccess), lStop, sr(core.StopNone), "le", le)
			ss = append(ss, inputSeries{series(op, "_bucket"), lb, slow}, inputSeries{series(op, "_bucket"), lg, fast})
		}
		tests = append(tests, alertTest{
			name: "high latency fires above a p99 of " + c.LatencyP99.String(), alert: alertHighLatency,
			series: ss,
			evals: []alertCase{
				{at: c.For},
				{at: 2*iv + c.For, labels: []map[string]string{bad}},
			},
		})
	}
	return tests
}

func (g *generator) ruleTestsYAML(recordingFile, alertsFile string) []byte {
	iv := g.cfg.RateWindow / 5
	rules := map[string]rule{}
	for _, r := range g.alerts().rules {
		rules[r.alert] = r
	}
	var b strings.Builder
	b.WriteString(generatedYAML)
	fmt.Fprintf(&b, "# Run with: promtool test rules %s\n", "redress-alerts.test.yaml")
	fmt.Fprintf(&b, "rule_files:\n  - %s\n  - %s\nevaluation_interval: %s\ntests:\n", recordingFile, alertsFile, promDuration(iv))
	for _, t := range g.alertTests() {
		r := rules[t.alert]
		fmt.Fprintf(&b, "  - name: %s\n    interval: %s\n    input_series:\n", quote(t.name), promDuration(iv))
		for _, s := range t.series {
			fmt.Fprintf(&b, "      - series: %s\n        values: %s\n", quote(seriesString(s)), quote(s.values))
		}
		b.WriteString("    alert_rule_test:\n")
		for _, e := range t.evals {
			fmt.Fprintf(&b, "      - eval_time: %s\n        alertname: %s\n", promDuration(e.at), t.alert)
			if len(e.labels) == 0 {
				b.WriteString("        exp_alerts: []\n")
				continue
			}
			b.WriteString("        exp_alerts:\n")
			for _, l := range e.labels {
				b.WriteString("          - exp_labels:\n")
				all := with(l, "severity", r.severity)
				keys := make([]string, 0, len(all))
				for k := range all {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				for _, k := range keys {
					fmt.Fprintf(&b, "              %s: %s\n", k, quote(all[k]))
				}
				fmt.Fprintf(&b, "            exp_annotations:\n              summary: %s\n              description: %s\n              dashboard_url: %s\n",
					quote(render(r.summary, l)), quote(render(r.description, l)), quote(render(g.dashboardURL(), l)))
			}
		}
	}
	return []byte(b.String())
}
