// Command chaos runs a chaos experiment on a service that is healthy: a
// redresshttp client with the default policy calls a server on loopback,
// and a fault injector, off until the experiment starts, makes every
// attempt fail as a server error for the outage phase. Prometheus metrics
// are served on -addr (/metrics) the whole time, so the generated alerts
// can be watched firing and clearing; /chaos turns the injector on and off
// by hand (POST /chaos?state=on|off). It prints one line per second, and
// one at the end of each phase.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	redresshttp "github.com/redress-go/redress/contrib/nethttp"
	"github.com/redress-go/redress/core"
	redressexport "github.com/redress-go/redress/exporters"
	redressprom "github.com/redress-go/redress/instrument/prometheus"
)

// config is the experiment: a healthy spell, an injected outage, a
// recovery. main_test.go shortens it.
type config struct {
	Addr     string        // the /metrics and /chaos listener
	Healthy  time.Duration // before the faults
	Outage   time.Duration // every attempt fails (server_error)
	Recovery time.Duration // after the faults
	Rate     int           // calls per second
}

func main() {
	var c config
	flag.StringVar(&c.Addr, "addr", "127.0.0.1:9465", "listen address of /metrics and /chaos")
	flag.DurationVar(&c.Healthy, "healthy", 10*time.Second, "healthy spell before the injected outage")
	flag.DurationVar(&c.Outage, "outage", 20*time.Second, "length of the injected outage")
	flag.DurationVar(&c.Recovery, "recovery", 20*time.Second, "recovery after the outage")
	flag.IntVar(&c.Rate, "rate", 50, "calls per second")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, c, os.Stdout, nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// counts are one second's results.
type counts struct{ ok, failed, rejected, injected atomic.Int64 }

// injected counts the faults injected, from the bus, in the current
// phase's counts.
type injected struct{ cur *atomic.Pointer[counts] }

func (injected) Events() core.EventSet { return core.EventsOf(core.EventFaultInjected) }
func (i injected) Handle(context.Context, core.Event) {
	i.cur.Load().injected.Add(1)
}

// run runs the experiment; ready, if not nil, receives the listener's
// address once /metrics is served.
func run(ctx context.Context, c config, w io.Writer, ready chan<- string) error {
	if c.Rate <= 0 {
		return errors.New("chaos: -rate must be positive")
	}
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "ok")
	}))
	defer upstream.Close()

	// The injector: one rule, every attempt a server error. Off until the
	// outage phase (or POST /chaos?state=on).
	faults, err := core.NewFaultInjector(core.FaultConfig{Rules: []core.FaultRule{
		{Rate: 1, Err: core.InjectedError(core.ClassServerError)},
	}})
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	prom, err := redressprom.New(redressprom.Config{Registerer: reg})
	if err != nil {
		return err
	}
	// Each call counts in the phase it started in; the phase changes
	// before the injector is enabled and after it is disabled, so every
	// fault counts in the outage.
	var cur atomic.Pointer[counts]
	cur.Store(&counts{})
	pc := redresshttp.DefaultPolicyConfig()
	pc.Name = "chaos"
	pc.Faults = faults
	pc.Bus = core.NewBus(prom, injected{&cur})
	policy, err := core.NewPolicy(pc)
	if err != nil {
		return err
	}
	prom.Declare(policy, "GET /items")
	base := &http.Transport{}
	defer base.CloseIdleConnections()
	rt, err := redresshttp.NewTransport(base, redresshttp.Config{Policy: policy, Operation: func(*http.Request) string { return "GET /items" }})
	if err != nil {
		return err
	}
	client := &http.Client{Transport: rt, Timeout: 5 * time.Second}

	mux := http.NewServeMux()
	mux.Handle("/metrics", redressexport.PrometheusHandler(reg))
	mux.HandleFunc("POST /chaos", func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("state") {
		case "on":
			faults.Enable()
		case "off":
			faults.Disable()
		default:
			http.Error(w, "state must be on or off", http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, "faults enabled: %v\n", faults.Enabled())
	})
	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	var wg sync.WaitGroup
	wg.Go(func() { _ = srv.Serve(ln) })
	defer func() {
		_ = srv.Close()
		wg.Wait()
	}()
	if ready != nil {
		ready <- ln.Addr().String()
	}
	fmt.Fprintf(w, "metrics on http://%s/metrics; %d calls/s; healthy %s, outage %s, recovery %s\n", ln.Addr(), c.Rate, c.Healthy, c.Outage, c.Recovery)

	ctx, cancel := context.WithCancel(ctx)
	var calls sync.WaitGroup
	defer func() {
		cancel()
		calls.Wait()
	}()
	calls.Go(func() {
		tick := time.NewTicker(time.Second / time.Duration(c.Rate))
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			c := cur.Load()
			calls.Go(func() { call(ctx, client, upstream.URL+"/items", c) })
		}
	})

	phases := []struct {
		name string
		d    time.Duration
		on   bool
	}{{"healthy", c.Healthy, false}, {"outage", c.Outage, true}, {"recovery", c.Recovery, false}}
	start := time.Now()
	flush := func(phase string) {
		c := cur.Load()
		fmt.Fprintf(w, "%6.1fs %-8s ok %4d  failed %4d  rejected %4d  faults injected %4d\n", time.Since(start).Seconds(), phase,
			c.ok.Swap(0), c.failed.Swap(0), c.rejected.Swap(0), c.injected.Swap(0))
	}
	report := time.NewTicker(time.Second)
	defer report.Stop()
	for _, ph := range phases {
		if ph.on {
			cur.Store(&counts{})
			faults.Enable()
		} else {
			faults.Disable()
			cur.Store(&counts{})
		}
		fmt.Fprintf(w, "%6.1fs phase %s (faults enabled: %v)\n", time.Since(start).Seconds(), ph.name, faults.Enabled())
		end := time.After(ph.d)
	phase:
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-end:
				flush(ph.name) // the phase's last, partial second
				break phase
			case <-report.C:
				flush(ph.name)
			}
		}
	}
	return nil
}

func call(ctx context.Context, client *http.Client, url string, c *counts) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return
	}
	resp, err := client.Do(req)
	switch {
	case err == nil:
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		c.ok.Add(1)
	case ctx.Err() != nil:
	case errors.Is(err, core.ErrCircuitOpen):
		c.rejected.Add(1)
	default:
		c.failed.Add(1)
	}
}
