package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redress-go/redress/dashboards"
	"github.com/redress-go/redress/internal/promtest"
)

// TestAlertsFireAndClearForInjectedOutage is the chaos proof of the
// generated alerts: a real Prometheus scrapes the experiment with the
// generated rules loaded (windows and "for" durations compressed to the
// short timeline). While the injected outage runs, RedressCircuitOpen and
// RedressFaultInjectionActive must fire; once the injector is off, both
// must clear before the recovery ends. Polled with generous deadlines, not
// timed.
func TestAlertsFireAndClearForInjectedOutage(t *testing.T) {
	const scrapeEvery = 500 * time.Millisecond
	compressed := dashboards.Config{RateWindow: 3 * time.Second, For: time.Second, CircuitOpenFor: time.Second}
	rules := promtest.GeneratedRules(t, compressed)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan string, 1)
	out := &lockedBuffer{}
	done := make(chan error, 1)
	cfg := config{Addr: "127.0.0.1:0", Healthy: 4 * time.Second, Outage: 10 * time.Second, Recovery: 40 * time.Second, Rate: 50}
	go func() { done <- run(ctx, cfg, out, ready) }()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("run: %v", err)
	}
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	prom := promtest.Start(t, promtest.Config{Targets: []string{addr}, Job: "chaos", ScrapeInterval: scrapeEvery, RuleFiles: rules})
	watched := []string{"RedressCircuitOpen", "RedressFaultInjectionActive"}
	firing := func() map[string]bool {
		as, err := prom.Alerts(ctx)
		if err != nil {
			return nil
		}
		f := map[string]bool{}
		for _, a := range as {
			if a.State == "firing" {
				f[a.Labels["alertname"]] = true
			}
		}
		return f
	}
	phase := func() string {
		s := out.String()
		switch {
		case strings.Contains(s, "phase recovery"):
			return "recovery"
		case strings.Contains(s, "phase outage"):
			return "outage"
		}
		return "healthy"
	}
	fired := map[string]bool{}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(scrapeEvery) {
		if time.Now().After(deadline) {
			t.Fatalf("no recovery phase after a minute:\n%s", out)
		}
		f, ph := firing(), phase()
		if ph == "healthy" && len(f) > 0 {
			t.Errorf("alerts firing while healthy: %v", f)
		}
		if ph == "outage" {
			for _, a := range watched {
				fired[a] = fired[a] || f[a]
			}
		}
		if ph == "recovery" {
			break
		}
	}
	for _, a := range watched {
		if !fired[a] {
			t.Errorf("%s never fired during the injected outage", a)
		}
	}
	recoveryAt := time.Now()
	for {
		f := firing()
		if f != nil && !f[watched[0]] && !f[watched[1]] {
			t.Logf("both alerts fired during the outage and cleared %.1fs into the recovery", time.Since(recoveryAt).Seconds())
			break
		}
		if time.Since(recoveryAt) > cfg.Recovery-5*time.Second {
			t.Fatalf("still firing %v %.0fs into the recovery:\n%s", f, time.Since(recoveryAt).Seconds(), out)
		}
		time.Sleep(scrapeEvery)
	}
}
