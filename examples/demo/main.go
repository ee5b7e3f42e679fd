// Command demo is the first command of redress's README: it starts embedded
// flaky upstreams (an HTTP service and a gRPC service on loopback) whose
// failure rates follow a fault profile (healthy, degraded, outage,
// recovery), drives concurrent traffic through redress-wrapped clients,
// serves the Prometheus metrics on /metrics and the live introspection
// page on /debug/redress, logs breaker transitions
// through the slog subscriber, prints a live summary each second, and ends
// with a final summary.
//
//	$ go run ./examples/demo                    # 24s, then exits
//	$ go run ./examples/demo -duration 0        # until Ctrl-C
//	$ go run ./examples/demo -listen :9464 -profile degraded
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/redress-go/redress/core"
	redressexport "github.com/redress-go/redress/exporters"
	redressdebug "github.com/redress-go/redress/instrument/debugpage"
	redressotel "github.com/redress-go/redress/instrument/otel"
	redressprom "github.com/redress-go/redress/instrument/prometheus"
	redressslog "github.com/redress-go/redress/instrument/slog"
)

// config is the demo's settings; the flags set them.
type config struct {
	duration time.Duration // total run time; 0: until the context ends
	listen   string        // address of the /metrics server
	profile  string        // fault profile name
	workers  int           // concurrent clients per upstream
	pause    time.Duration // pause of each client between calls
	logMode  string        // "breaker", "all" or "none"
	otel     string        // OpenTelemetry export: "", "otlp" or "console"
	tick     time.Duration // live summary period

	// Hooks for tests: called with the metrics address once it listens,
	// and with each phase's name when it starts.
	onListen func(addr string)
	onPhase  func(name string)
}

// debugPath is where the introspection page is served, beside /metrics.
const debugPath = "/debug/redress"

// defaultListen is the default address of the /metrics endpoint.
const defaultListen = "127.0.0.1:9464"

func defaults() config {
	return config{
		duration: 24 * time.Second,
		listen:   defaultListen,
		profile:  "cycle",
		workers:  8,
		pause:    20 * time.Millisecond,
		logMode:  "breaker",
		tick:     time.Second,
	}
}

func main() {
	cfg := defaults()
	cfg.flags(flag.CommandLine)
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() { <-ctx.Done(); stop() }() // a second Ctrl-C kills at once
	if err := run(ctx, cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// flags defines the command-line flags of cfg on fs.
func (cfg *config) flags(fs *flag.FlagSet) {
	fs.DurationVar(&cfg.duration, "duration", cfg.duration, "how long to run; 0 runs until Ctrl-C, repeating the profile")
	fs.StringVar(&cfg.listen, "listen", cfg.listen, "address of the Prometheus /metrics endpoint")
	fs.StringVar(&cfg.profile, "profile", cfg.profile, "fault profile: "+profileNames())
	fs.IntVar(&cfg.workers, "workers", cfg.workers, "concurrent clients per upstream")
	fs.StringVar(&cfg.logMode, "log", cfg.logMode, "events logged through slog: breaker, all or none")
	fs.StringVar(&cfg.otel, "otel", cfg.otel, `also export spans and metrics through OpenTelemetry: "otlp" (to OTEL_EXPORTER_OTLP_ENDPOINT, default http://localhost:4318 in plain text, or http://localhost:4317 with OTEL_EXPORTER_OTLP_PROTOCOL=grpc) or "console"`)
}

// syncWriter serialises writes of the summary and the log records.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// startOTel adds the OpenTelemetry subscriber to bus, exporting through
// redressexport ("otlp" or "console"), and returns its shutdown.
func startOTel(ctx context.Context, mode string, bus *core.Bus, console io.Writer) (func(), error) {
	if mode != "otlp" && mode != "console" {
		return nil, fmt.Errorf("demo: unknown -otel %q (want otlp or console)", mode)
	}
	tel, err := redressexport.New(ctx, redressexport.Config{
		ServiceName: "redress-demo", Traces: mode, Metrics: mode, Console: console,
		MetricInterval: 5 * time.Second,
	})
	if err != nil {
		return nil, err
	}
	sub, err := redressotel.New(redressotel.Config{TracerProvider: tel.TracerProvider, MeterProvider: tel.MeterProvider})
	if err != nil {
		return nil, err
	}
	unsubscribe := bus.Subscribe(sub)
	return func() {
		unsubscribe()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = tel.Shutdown(sctx)
	}, nil
}

// logEvents returns the events the slog subscriber handles for mode.
func logEvents(mode string) (core.EventSet, error) {
	switch mode {
	case "breaker":
		return core.CircuitEvents, nil
	case "all":
		return core.AllEvents &^ core.EventsOf(core.EventOperationStart, core.EventAttemptStart), nil
	case "none":
		return 0, nil
	}
	return 0, fmt.Errorf("demo: unknown -log %q (want breaker, all or none)", mode)
}

// run runs the demo until cfg.duration has passed or ctx ends, writing the
// live and final summaries (and the log records) to out.
func run(ctx context.Context, cfg config, out io.Writer) error {
	sched, err := newSchedule(cfg.profile, cfg.duration)
	if err != nil {
		return err
	}
	if cfg.workers <= 0 {
		return errors.New("demo: -workers must be positive")
	}
	events, err := logEvents(cfg.logMode)
	if err != nil {
		return err
	}
	w := &syncWriter{w: out}
	if cfg.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.duration)
		defer cancel()
	}

	// Telemetry: Prometheus, the introspection page, slog and the live
	// tally, on one bus.
	reg := prometheus.NewRegistry()
	prom, err := redressprom.New(redressprom.Config{Registerer: reg})
	if err != nil {
		return err
	}
	page, err := redressdebug.New(redressdebug.Config{})
	if err != nil {
		return err
	}
	tl := newTally()
	bus := core.NewBus(prom, page, tl)
	if events != 0 {
		logger, err := redressslog.New(redressslog.Config{
			Handler: slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}),
			Events:  events,
		})
		if err != nil {
			return err
		}
		bus.Subscribe(logger)
	}

	// OpenTelemetry, when asked: spans and metrics through the exporters
	// package's pipelines.
	if cfg.otel != "" {
		shutdown, err := startOTel(ctx, cfg.otel, bus, w)
		if err != nil {
			return err
		}
		defer shutdown()
	}

	// The metrics endpoint, and beside it the introspection page (on the
	// same loopback listener: never expose it publicly).
	ml, err := net.Listen("tcp", cfg.listen)
	if err != nil && cfg.listen == defaultListen {
		// The default port is taken (another demo, an exporter): the
		// README's first command must still work, so take any free port;
		// the address is printed below.
		ml, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		return fmt.Errorf("demo: metrics listener (use -listen to pick another address): %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.Handle(debugPath, page)
	msrv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	var wg sync.WaitGroup
	wg.Go(func() { _ = msrv.Serve(ml) })
	defer wg.Wait()
	defer msrv.Close()
	metricsURL := "http://" + ml.Addr().String() + "/metrics"
	debugURL := "http://" + ml.Addr().String() + debugPath

	// The upstreams and the clients.
	cur := &current{s: sched}
	ups, err := startUpstreams(ctx, cur, bus, sched)
	if err != nil {
		return err
	}
	defer ups.close()
	for _, b := range ups.budgets {
		prom.DeclareBudget(b.policy, b.b)
	}

	fmt.Fprintf(w, "redress demo: profile %s, %s, %d clients per upstream\n", cfg.profile, durationText(cfg.duration), cfg.workers)
	fmt.Fprintf(w, "upstreams: %s\n", strings.Join(ups.names, ", "))
	fmt.Fprintf(w, "metrics:   %s  (scrape it with Prometheus; dashboards in dashboards/grafana)\n", metricsURL)
	fmt.Fprintf(w, "live view: %s  (breakers, budgets, operations; ?format=json for scripts)\n\n", debugURL)
	if cfg.onListen != nil {
		cfg.onListen(ml.Addr().String())
	}

	start := time.Now()
	phase := func() int { return sched.at(time.Since(start)) }
	cur.idx.Store(int32(phase()))
	chaos := func(name string) {
		if name == chaosPhase {
			ups.chaos.Enable()
		} else {
			ups.chaos.Disable()
		}
	}
	chaos(sched.phases[cur.idx.Load()].name)
	if cfg.onPhase != nil {
		cfg.onPhase(sched.phases[0].name)
	}
	var traffic sync.WaitGroup
	for _, c := range ups.clients {
		for range cfg.workers {
			traffic.Go(func() { drive(ctx, c, cfg.pause) })
		}
	}

	ticker := time.NewTicker(cfg.tick)
	defer ticker.Stop()
	prev := tl.snapshot()
	phaseTicker := time.NewTicker(20 * time.Millisecond)
	defer phaseTicker.Stop()
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-phaseTicker.C:
			cur.permille.Store(int32(sched.progress(time.Since(start)) * 1000))
			if i := int32(phase()); i != cur.idx.Load() {
				cur.idx.Store(i)
				chaos(sched.phases[i].name)
				fmt.Fprintf(w, "------ phase: %s\n", sched.phases[i].name)
				if cfg.onPhase != nil {
					cfg.onPhase(sched.phases[i].name)
				}
			}
		case <-ticker.C:
			now := tl.snapshot()
			line(w, time.Since(start), cur.phase().name, now, prev, ups.budgets)
			prev = now
		}
	}
	traffic.Wait()
	final(w, time.Since(start), tl.snapshot(), ups.budgets, metricsURL)
	return nil
}

func durationText(d time.Duration) string {
	if d == 0 {
		return "until Ctrl-C"
	}
	return "for " + d.String()
}

// drive calls c until ctx ends.
func drive(ctx context.Context, c client, pause time.Duration) {
	for i := 0; ctx.Err() == nil; i++ {
		c.call(ctx, i)
		sleepCtx(ctx, pause)
	}
}
