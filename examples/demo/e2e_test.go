package main

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redress-go/redress/dashboards"
	"github.com/redress-go/redress/internal/promtest"
)

// TestDashboardsAndRulesAgainstPrometheus is the end-to-end proof of the
// dashboards and rules: a real Prometheus scrapes the demo while it runs its
// fault profile on a compressed timeline, with the generated rules loaded
// (the same generator, with windows and "for" durations compressed to
// match). At the end of the outage the outage alerts must be firing; during
// recovery every panel query of every dashboard must return at least one
// series, and every rule expression (compressed and committed) must
// evaluate without error.
func TestDashboardsAndRulesAgainstPrometheus(t *testing.T) {
	const scrapeEvery = 500 * time.Millisecond
	compressed := dashboards.Config{RateWindow: 3 * time.Second, For: time.Second, CircuitOpenFor: time.Second}
	rules := promtest.GeneratedRules(t, compressed)

	cfg := shortConfig(16 * time.Second) // healthy 3.2s, degraded 4s, outage 4.8s, recovery 4s
	demo := startDemo(t, cfg)
	ctx, addr := demo.ctx, demo.addr
	prom := promtest.Start(t, promtest.Config{Targets: []string{addr}, Job: "redress-demo", ScrapeInterval: scrapeEvery, RuleFiles: rules})

	// Record every alert seen firing while the demo runs.
	fired := map[string]bool{}
	var firedMu sync.Mutex
	pollCtx, stopPoll := context.WithCancel(ctx)
	var poll sync.WaitGroup
	poll.Go(func() {
		for pollCtx.Err() == nil {
			if as, err := prom.Alerts(pollCtx); err == nil {
				firedMu.Lock()
				for _, a := range as {
					if a.State == "firing" {
						fired[a.Labels["alertname"]] = true
					}
				}
				firedMu.Unlock()
			}
			sleepCtx(pollCtx, scrapeEvery)
		}
	})
	defer func() { stopPoll(); poll.Wait() }()

	// End of the outage: the breakers have been open for seconds.
	demo.waitPhase(t, "recovery", 20*time.Second)
	as, err := prom.Alerts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	firing := map[string]bool{}
	for _, a := range as {
		if a.State == "firing" {
			firing[a.Labels["alertname"]] = true
		}
	}
	if !firing["RedressCircuitOpen"] {
		t.Errorf("RedressCircuitOpen not firing at the end of the outage; active alerts: %v", as)
	}

	// Recovery: evaluate everything while the target is still up, once
	// Prometheus holds a few scrapes of the recovery phase (polled, with a
	// generous deadline, instead of a fixed sleep).
	recoveryAt := time.Now()
	scraped := func() bool {
		res, err := prom.Query(ctx, `timestamp(up{job="redress-demo"} == 1)`)
		if err != nil || len(res) == 0 {
			return false
		}
		v, _ := res[0].Value[1].(string)
		ts, err := strconv.ParseFloat(v, 64)
		return err == nil && ts >= float64(recoveryAt.Add(3*scrapeEvery).UnixMilli())/1000
	}
	for deadline := time.Now().Add(15 * time.Second); !scraped(); sleepCtx(ctx, scrapeEvery) {
		if time.Now().After(deadline) {
			t.Fatal("prometheus did not scrape the recovery phase within 15s")
		}
	}
	queries, err := dashboards.Queries(dashboards.Config{})
	if err != nil {
		t.Fatal(err)
	}
	compressedQs, err := dashboards.Queries(compressed)
	if err != nil {
		t.Fatal(err)
	}
	// Panels are range queries over the run, as Grafana sends them, with
	// $__rate_interval as Grafana computes it for this scrape interval
	// (four scrapes, at least a step and a scrape).
	end := time.Now()
	panels := 0
	for _, q := range queries {
		if q.Kind != dashboards.PanelQuery {
			if _, err := prom.Query(ctx, q.Expr); err != nil {
				t.Errorf("%s %q does not evaluate: %v\n%s", q.Kind, q.Name, err, q.Expr)
			}
			continue
		}
		panels++
		expr := q.Expand("2s")
		res, err := prom.QueryRange(ctx, expr, end.Add(-30*time.Second), end, time.Second)
		switch {
		case err != nil:
			t.Errorf("panel %q does not evaluate: %v\n%s", q.Name, err, expr)
		case len(res) == 0:
			t.Errorf("panel %q (%s) is empty:\n%s", q.Name, q.File, expr)
		}
	}
	for _, q := range compressedQs {
		if q.Kind == dashboards.PanelQuery {
			continue
		}
		if _, err := prom.Query(ctx, q.Expr); err != nil {
			t.Errorf("compressed %s %q does not evaluate: %v", q.Kind, q.Name, err)
		}
	}
	loaded, err := prom.Rules(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, q := range compressedQs {
		if q.Kind != dashboards.PanelQuery {
			want++
		}
	}
	if len(loaded) != want {
		t.Errorf("prometheus loaded %d rules, want %d", len(loaded), want)
	}
	for _, r := range loaded {
		if r.Health != "ok" {
			t.Errorf("rule %s: health %q: %s", r.Name, r.Health, r.LastError)
		}
	}
	firedMu.Lock()
	defer firedMu.Unlock()
	for _, a := range []string{"RedressCircuitOpen", "RedressRetryBudgetExhausted", "RedressFaultInjectionActive"} {
		if !fired[a] {
			t.Errorf("%s never fired during the run (fired: %v)", a, fired)
		}
	}
	t.Logf("%d panel queries returned series; alerts fired during the run: %s", panels, keys(fired))
}

func keys(m map[string]bool) string {
	var s []string
	for k := range m {
		s = append(s, k)
	}
	return fmt.Sprint(s)
}
