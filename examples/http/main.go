// Command http shows redresshttp in front of a flaky server on loopback: a
// 503 retried, a 429 whose Retry-After is honoured, a POST that is not
// resent without an idempotency key and is with one, and a host in a full
// outage whose circuit breaker opens and then refuses requests without
// touching the network. Every decision is printed by a small subscriber.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"time"

	redresshttp "github.com/redress-go/redress/contrib/nethttp"
	"github.com/redress-go/redress/core"
)

// options are the knobs main_test.go shortens.
type options struct {
	// Backoff is the base of the decorrelated-jitter backoff (cap 10×).
	Backoff time.Duration
	// MaxRetryAfter caps the server's Retry-After (the server asks for 1s).
	MaxRetryAfter time.Duration
}

func main() {
	var o options
	flag.DurationVar(&o.Backoff, "backoff", 100*time.Millisecond, "base backoff")
	flag.DurationVar(&o.MaxRetryAfter, "max-retry-after", 30*time.Second, "cap on Retry-After")
	flag.Parse()
	if err := run(context.Background(), o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// printer prints one line per decision.
type printer struct {
	mu sync.Mutex
	w  io.Writer
}

func (*printer) Events() core.EventSet {
	return core.EventsOf(core.EventAttemptEnd, core.EventRetry) | core.TerminalEvents | core.CircuitEvents
}

func (p *printer) Handle(_ context.Context, e core.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case e.Kind == core.EventAttemptEnd:
		fmt.Fprintf(p.w, "  %-24s attempt %d: status %d", e.Operation, e.Attempt, e.Labels.StatusCode)
		if e.Err != nil {
			fmt.Fprintf(p.w, " class=%s", e.Class)
			if e.Labels.StatusCode == 0 {
				fmt.Fprintf(p.w, " reason=%s", e.Reason)
			}
		}
		fmt.Fprintln(p.w)
	case e.Kind == core.EventRetry:
		fmt.Fprintf(p.w, "  %-24s retry after %s\n", e.Operation, e.Sleep.Round(time.Millisecond))
	case e.Kind.Terminal() && e.StopReason != core.StopNone && e.StopReason != core.StopCircuitOpen:
		fmt.Fprintf(p.w, "  %-24s %s (outcome=%s, stop=%s)\n", e.Operation, e.Kind, e.Outcome, e.StopReason)
	case e.Kind.Terminal():
		fmt.Fprintf(p.w, "  %-24s %s (outcome=%s)\n", e.Operation, e.Kind, e.Outcome)
	default: // breaker transitions
		fmt.Fprintf(p.w, "  breaker %-16s %s -> %s\n", e.Breaker.Name(), e.PrevBreakerState, e.BreakerState)
	}
}

// flaky is the fault-injecting server: each path fails its own way.
func flaky() *httptest.Server {
	var mu sync.Mutex
	seen := map[string]int{}
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[r.URL.Path]++
		n := seen[r.URL.Path]
		mu.Unlock()
		switch {
		case r.URL.Path == "/stock/42" && n == 1:
			w.WriteHeader(http.StatusServiceUnavailable)
		case r.URL.Path == "/quota" && n == 1:
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
		case r.URL.Path == "/orders" && n <= 2:
			w.WriteHeader(http.StatusServiceUnavailable)
		default:
			fmt.Fprint(w, "ok")
		}
	}))
}

func run(ctx context.Context, o options, w io.Writer) error {
	srv := flaky()
	defer srv.Close()
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
	}))
	defer down.Close()

	pc := redresshttp.DefaultPolicyConfig()
	pc.Retry.Strategy = core.RetryAfterOr(core.DecorrelatedJitter(o.Backoff, 10*o.Backoff), 0)
	pc.Bus = core.NewBus(&printer{w: w})
	policy, err := core.NewPolicy(pc)
	if err != nil {
		return err
	}
	base := &http.Transport{}
	defer base.CloseIdleConnections()
	rt, err := redresshttp.NewTransport(base, redresshttp.Config{Policy: policy, MaxRetryAfter: o.MaxRetryAfter})
	if err != nil {
		return err
	}
	client := &http.Client{Transport: rt}

	do := func(title, method, url, route, key string) error {
		fmt.Fprintln(w, title)
		req, err := http.NewRequestWithContext(redresshttp.WithRoute(ctx, route), method, url, strings.NewReader(`{"sku":42}`))
		if err != nil {
			return err
		}
		if key != "" {
			req.Header.Set("Idempotency-Key", key)
		}
		resp, err := client.Do(req)
		if err != nil {
			fmt.Fprintf(w, "  => error: %v (circuit open: %t)\n", err, errors.Is(err, core.ErrCircuitOpen))
			return nil
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Fprintf(w, "  => %d %q\n", resp.StatusCode, body)
		return nil
	}
	steps := []struct{ title, method, url, route, key string }{
		{"1. a 503, retried", "GET", srv.URL + "/stock/42", "/stock/{sku}", ""},
		{"2. a 429 with Retry-After: 1", "GET", srv.URL + "/quota", "/quota", ""},
		{"3. a POST without an idempotency key: never resent", "POST", srv.URL + "/orders", "/orders", ""},
		{"4. the same POST with an Idempotency-Key: resent", "POST", srv.URL + "/orders", "/orders", "order-17"},
	}
	for _, s := range steps {
		if err := do(s.title, s.method, s.url, s.route, s.key); err != nil {
			return err
		}
	}
	fmt.Fprintln(w, "5. a host in a full outage: its breaker opens, then refuses")
	for i := range 5 {
		if err := do(fmt.Sprintf(" request %d", i+1), "GET", down.URL+"/health", "/health", ""); err != nil {
			return err
		}
	}
	return nil
}
