// Command telemetry wires the three redress subscribers to one policy: slog
// records for humans, Prometheus metrics for dashboards and alerts, and
// OpenTelemetry spans for traces. It runs a few calls against a flaky
// operation and prints what each subscriber produced.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/redress-go/redress/core"
	redressexport "github.com/redress-go/redress/exporters"
	redressotel "github.com/redress-go/redress/instrument/otel"
	redressprom "github.com/redress-go/redress/instrument/prometheus"
	redressslog "github.com/redress-go/redress/instrument/slog"
)

func main() {
	calls := flag.Int("calls", 5, "number of calls to make")
	flag.Parse()
	if err := run(context.Background(), *calls, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(ctx context.Context, calls int, w io.Writer) error {
	// Prometheus: a registry of our own, served by a /metrics handler.
	reg := prometheus.NewRegistry()
	promSub, err := redressprom.New(redressprom.Config{Registerer: reg})
	if err != nil {
		return err
	}
	// slog: warnings and errors as text; breaker events also to their own handler.
	quiet := &slog.HandlerOptions{Level: slog.LevelWarn, ReplaceAttr: dropTime}
	slogSub, err := redressslog.New(redressslog.Config{
		Handler: slog.NewTextHandler(w, quiet),
		Routes: []redressslog.Route{{
			Events:  core.CircuitEvents,
			Handler: slog.NewTextHandler(prefixed{w, "ALERT "}, quiet),
		}},
	})
	if err != nil {
		return err
	}
	// OpenTelemetry: spans into an in-memory recorder (use redressexport.New
	// for OTLP in a real service).
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	otelSub, err := redressotel.New(redressotel.Config{TracerProvider: tp, DisableMetrics: true})
	if err != nil {
		return err
	}

	breaker, err := core.NewBreaker(core.BreakerConfig{Name: "inventory", FailureThreshold: 4})
	if err != nil {
		return err
	}
	policy, err := core.NewPolicy(core.PolicyConfig{
		Name:    "inventory",
		Retry:   core.RetryConfig{MaxAttempts: 3, Strategy: core.Constant(time.Millisecond)},
		Breaker: breaker,
		Bus:     core.NewBus(otelSub, promSub, slogSub),
	})
	if err != nil {
		return err
	}
	promSub.Declare(policy)

	// The downstream fails twice out of three tries.
	n := 0
	for i := 0; i < calls; i++ {
		err := policy.Run(ctx, func(ctx context.Context) error {
			n++
			if n%3 != 0 {
				return core.Transient(errors.New("connection reset"))
			}
			return nil
		}, core.WithOperation("GetStock"))
		fmt.Fprintf(w, "call %d: err=%v\n", i+1, err)
	}

	fmt.Fprintln(w, "--- spans")
	var names []string
	for _, s := range spans.Ended() {
		names = append(names, s.Name())
	}
	fmt.Fprintf(w, "%d spans: %s\n", len(names), summarize(names))

	fmt.Fprintln(w, "--- /metrics (redress_retries_total, redress_circuit_breaker_state)")
	srv := httptest.NewServer(redressexport.PrometheusHandler(reg))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if (strings.HasPrefix(line, "redress_retries_total{") && !strings.HasSuffix(line, " 0")) ||
			strings.HasPrefix(line, "redress_circuit_breaker_state{") {
			fmt.Fprintln(w, line)
		}
	}
	return sc.Err()
}

func summarize(names []string) string {
	count := map[string]int{}
	for _, n := range names {
		count[n]++
	}
	var parts []string
	for n, c := range count {
		parts = append(parts, fmt.Sprintf("%s x%d", n, c))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

func dropTime(_ []string, a slog.Attr) slog.Attr {
	if a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}

// prefixed writes each line with a prefix.
type prefixed struct {
	w      io.Writer
	prefix string
}

func (p prefixed) Write(b []byte) (int, error) {
	if _, err := io.WriteString(p.w, p.prefix); err != nil {
		return 0, err
	}
	return p.w.Write(b)
}
