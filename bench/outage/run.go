package outage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/failsafe-go/failsafe-go/circuitbreaker"

	"github.com/redress-go/redress/core"
)

// Scenario is a schedule of phases for the server under test and a load.
type Scenario struct {
	Name   string
	Phases []Phase
	// Onset is the index of the phase where the fault begins; Heal the index
	// of the phase where the server is healthy again (-1: never, the fault
	// lasts to the end).
	Onset, Heal int
	// Hops is the number of servers in front of the failing one: 0, the
	// callers hit it directly; 2, callers -> A -> B -> C, A and B calling the
	// next hop through a client of the same variant (one instance each).
	Hops int
	// Callers is the number of closed-loop callers; Think their pause
	// between two requests.
	Callers int
	Think   time.Duration
	// SteadyAfter is how long after the onset the steady-state window
	// begins (clamped to half the fault). Default 1s.
	SteadyAfter time.Duration
}

// request is what a caller records of one logical request. Times are
// offsets from the scenario's start.
type request struct {
	id         uint64
	start, end time.Duration
	ok         bool // 200 at the top level
	rejected   bool // refused by an open breaker without a hit
	cancelled  bool // still running when the scenario ended
}

// Result is what a run measured.
type Result struct {
	Scenario, Variant string
	Hops              int

	Requests   int // logical requests started, cancelled ones included
	Finished   int // logical requests that ended before the scenario did
	Successes  int
	Rejected   int   // finished with an open-breaker error
	Hits       int64 // every hit at the failing server
	Attributed int64 // hits carrying a request id (should be Hits)
	TopHits    int64 // hits at the first server (A in a chain; = Hits otherwise)

	// Fault: requests started in [onset, heal); Steady: in
	// [onset+SteadyAfter, heal). Hits are those at the failing server,
	// attributed to those requests whenever they came (retries after the
	// heal included). Success ratios count finished requests only.
	FaultReqs, FaultHits, FaultOK, FaultFinished     int64
	SteadyReqs, SteadyHits, SteadyOK, SteadyFinished int64
	SteadyFrom                                       time.Duration

	// Recovery is the delay from the heal to the start of the first
	// BucketWidth bucket (by request start) from which every later
	// non-empty bucket has >= 95% success; -1: never within the run.
	Recovery time.Duration
	// MaxCallerFaultHits, MeanCallerFaultHits: hits at the failing server per
	// caller during the onset phase.
	MaxCallerFaultHits  int
	MeanCallerFaultHits float64

	// ServerErrors counts the lines of the servers' error logs (such as
	// accept errors when the process runs out of fds); FirstServerError is
	// the first.
	ServerErrors     int
	FirstServerError string

	PhaseHits     []int64 // hits at the failing server per phase
	HitsPerSecond []int64

	// Goroutines and open fds of the process: before the run, their peak
	// during it (sampled every 50ms), and after it (after a settle).
	GoroutinesBefore, GoroutinesPeak, GoroutinesAfter int
	FDsBefore, FDsPeak, FDsAfter                      int
}

func ratio(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// AttemptsPerRequest is hits per logical request over the whole run.
func (r Result) AttemptsPerRequest() float64 { return ratio(r.Attributed, int64(r.Requests)) }

// SteadyAttempts is hits per logical request in the steady-state window.
func (r Result) SteadyAttempts() float64 { return ratio(r.SteadyHits, r.SteadyReqs) }

// FaultAttempts is hits per logical request started during the fault.
func (r Result) FaultAttempts() float64 { return ratio(r.FaultHits, r.FaultReqs) }

// SteadySuccess is the success ratio of the finished steady-state requests.
func (r Result) SteadySuccess() float64 { return ratio(r.SteadyOK, r.SteadyFinished) }

// OpenFDs counts the entries of /proc/self/fd (-1 where there is none).
func OpenFDs() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents) - 1 // the directory being read
}

// settle waits, up to max, for the goroutines and fds to come back to (or
// under) the given counts, and returns the last counts seen.
func settle(goroutines, fds int, max time.Duration) (int, int) {
	deadline := time.Now().Add(max)
	for {
		g, f := runtime.NumGoroutine(), OpenFDs()
		if (g <= goroutines && f <= fds) || time.Now().After(deadline) {
			return g, f
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type closeIdler interface{ CloseIdleConnections() }

// forward is the handler of a hop: it calls next through client, passing
// the attribution headers on, and answers 200 when next did, 502 otherwise.
func forward(client *http.Client, next string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, next, nil)
		if err != nil {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		req.Header.Set(HeaderRequest, r.Header.Get(HeaderRequest))
		req.Header.Set(HeaderCaller, r.Header.Get(HeaderCaller))
		resp, err := client.Do(req)
		if err != nil {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		_, _ = io.WriteString(w, "ok")
	}
}

// Run runs scenario sc through variant v and measures it. Everything it
// starts is stopped before it returns; the goroutine and fd counts before
// and after (after a settle of up to 5s) are part of the result.
func Run(sc Scenario, v Variant) (Result, error) {
	if sc.SteadyAfter == 0 {
		sc.SteadyAfter = time.Second
	}
	res := Result{Scenario: sc.Name, Variant: v.Name, Hops: sc.Hops}
	runtime.GC()
	res.GoroutinesBefore, res.FDsBefore = runtime.NumGoroutine(), OpenFDs()

	var total time.Duration
	for _, p := range sc.Phases {
		total += p.D
	}
	var (
		bases   []*http.Transport
		rts     []http.RoundTripper
		servers []*Server
	)
	newClient := func() (*http.Client, error) {
		base := NewBase()
		bases = append(bases, base)
		rt, err := v.New(base)
		if err != nil {
			return nil, err
		}
		rts = append(rts, rt)
		return &http.Client{Transport: rt}, nil
	}
	cleanup := func() {
		for _, s := range servers { // the first hop first: its handlers end, then the next
			s.Close()
		}
		for _, rt := range rts {
			if c, ok := rt.(closeIdler); ok {
				c.CloseIdleConnections()
			}
		}
		for _, b := range bases {
			b.CloseIdleConnections()
		}
	}

	failing := NewServer(sc.Phases, nil)
	target := failing
	chain := []*Server{failing}
	for range sc.Hops {
		c, err := newClient()
		if err != nil {
			failing.Close()
			cleanup()
			return res, err
		}
		next := forward(c, target.URL+"/")
		if v.Server != nil {
			next = v.Server(next).ServeHTTP
		}
		hop := NewServer([]Phase{{Kind: Healthy, D: total}}, next)
		chain = append([]*Server{hop}, chain...)
		target = hop
	}
	servers = chain
	client, err := newClient()
	if err != nil {
		cleanup()
		return res, err
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start := time.Now()
	for _, s := range servers {
		s.SetOrigin(start)
	}
	var (
		ids   atomic.Uint64
		stop  atomic.Bool
		wg    sync.WaitGroup
		perCl = make([][]request, sc.Callers)
	)
	for c := range sc.Callers {
		wg.Go(func() {
			caller := strconv.Itoa(c)
			for !stop.Load() {
				rq := request{id: ids.Add(1), start: time.Since(start)}
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, target.URL+"/", nil)
				if err != nil {
					panic(err)
				}
				req.Header.Set(HeaderRequest, strconv.FormatUint(rq.id, 10))
				req.Header.Set(HeaderCaller, caller)
				resp, err := client.Do(req)
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					_ = resp.Body.Close()
					rq.ok = resp.StatusCode == http.StatusOK
				} else {
					rq.rejected = errors.Is(err, core.ErrCircuitOpen) || errors.Is(err, circuitbreaker.ErrOpen)
				}
				rq.end = time.Since(start)
				rq.cancelled = ctx.Err() != nil
				perCl[c] = append(perCl[c], rq)
				if sc.Think > 0 {
					select {
					case <-time.After(sc.Think):
					case <-ctx.Done():
					}
				}
			}
		})
	}
	sampled := make(chan struct{})
	go func() { // samples the peaks until ctx is cancelled
		defer close(sampled)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			res.GoroutinesPeak = max(res.GoroutinesPeak, runtime.NumGoroutine())
			res.FDsPeak = max(res.FDsPeak, OpenFDs())
			select {
			case <-tick.C:
			case <-ctx.Done():
				return
			}
		}
	}()
	phaseAt := make([]time.Duration, len(sc.Phases)+1)
	for i, p := range sc.Phases {
		phaseAt[i] = time.Since(start)
		failing.SetPhase(i)
		time.Sleep(p.D)
	}
	phaseAt[len(sc.Phases)] = time.Since(start)
	stop.Store(true)
	cancel()
	wg.Wait()
	<-sampled
	hits := failing.Hits()
	top := target.Hits()
	for _, s := range servers {
		n, first := s.Errors()
		res.ServerErrors += n
		if res.FirstServerError == "" {
			res.FirstServerError = first
		}
	}
	cleanup()
	res.GoroutinesAfter, res.FDsAfter = settle(res.GoroutinesBefore, res.FDsBefore, 5*time.Second)

	// Measures.
	res.Hits, res.TopHits, res.PhaseHits = hits.Total, top.Total, hits.PerPhase
	delete(hits.PerRequest, 0) // unattributed hits, if any, are counted in Total only
	for _, n := range hits.PerRequest {
		res.Attributed += int64(n)
	}
	for i, n := range hits.Buckets {
		s := i * int(BucketWidth) / int(time.Second)
		for len(res.HitsPerSecond) <= s {
			res.HitsPerSecond = append(res.HitsPerSecond, 0)
		}
		res.HitsPerSecond[s] += n
	}
	onset := phaseAt[sc.Onset]
	heal := phaseAt[len(sc.Phases)]
	if sc.Heal >= 0 {
		heal = phaseAt[sc.Heal]
	}
	steady := sc.SteadyAfter
	if half := (heal - onset) / 2; steady > half {
		steady = half
	}
	res.SteadyFrom = steady
	type bucket struct{ n, ok int }
	var after []bucket
	for _, rs := range perCl {
		for _, rq := range rs {
			res.Requests++
			if !rq.cancelled {
				res.Finished++
			}
			// A request cut by the end of the scenario does not count,
			// even if its response had arrived (the cut races it).
			if rq.ok && !rq.cancelled {
				res.Successes++
			}
			if rq.rejected && !rq.cancelled {
				res.Rejected++
			}
			h := int64(hits.PerRequest[rq.id])
			okN, fin := int64(0), int64(0)
			if rq.ok && !rq.cancelled {
				okN = 1
			}
			if !rq.cancelled {
				fin = 1
			}
			if rq.start >= onset && rq.start < heal {
				res.FaultReqs++
				res.FaultHits += h
				res.FaultOK += okN
				res.FaultFinished += fin
				if rq.start >= onset+steady {
					res.SteadyReqs++
					res.SteadyHits += h
					res.SteadyOK += okN
					res.SteadyFinished += fin
				}
			}
			if sc.Heal >= 0 && rq.start >= heal && !rq.cancelled {
				b := int((rq.start - heal) / BucketWidth)
				for len(after) <= b {
					after = append(after, bucket{})
				}
				after[b].n++
				if rq.ok {
					after[b].ok++
				}
			}
		}
	}
	res.Recovery = -1
	if sc.Heal >= 0 {
		for b := len(after) - 1; b >= 0; b-- {
			if after[b].n == 0 {
				continue
			}
			if float64(after[b].ok) < 0.95*float64(after[b].n) {
				break
			}
			res.Recovery = time.Duration(b) * BucketWidth
		}
	}
	var sum int
	for c := range sc.Callers {
		n := hits.CallerPhase[[2]int{sc.Onset, c}]
		sum += n
		res.MaxCallerFaultHits = max(res.MaxCallerFaultHits, n)
	}
	res.MeanCallerFaultHits = float64(sum) / float64(sc.Callers)
	return res, nil
}

// Header is the header line of the table Row prints.
const Header = "scenario      client         hops   reqs   ok%  att/req  fault-att (n)      steady-att (n)     steady-ok%  recovery  fault hits/caller max/mean  goroutines before→peak→after  fds before→peak→after"

// num formats v with format f, or "-" when there was nothing to measure.
func num(f string, v float64, n int64) string {
	if n == 0 {
		return "-"
	}
	return fmt.Sprintf(f, v)
}

// Row formats r as a line of the table.
func (r Result) Row() string {
	rec := "never"
	if r.Recovery >= 0 {
		rec = r.Recovery.String()
	}
	return fmt.Sprintf("%-13s %-14s %4d %6d %5s %8.3f %7s (%-6d) %8s (%-6d) %10s %9s %10d / %-8.1f %5d→%d→%-5d %3d→%d→%d",
		r.Scenario, r.Variant, r.Hops, r.Requests, num("%.1f", 100*ratio(int64(r.Successes), int64(r.Finished)), int64(r.Finished)),
		r.AttemptsPerRequest(), num("%.3f", r.FaultAttempts(), r.FaultReqs), r.FaultReqs,
		num("%.3f", r.SteadyAttempts(), r.SteadyReqs), r.SteadyReqs,
		num("%.1f", 100*r.SteadySuccess(), r.SteadyFinished), rec,
		r.MaxCallerFaultHits, r.MeanCallerFaultHits,
		r.GoroutinesBefore, r.GoroutinesPeak, r.GoroutinesAfter, r.FDsBefore, r.FDsPeak, r.FDsAfter)
}

// Detail formats the hits per phase and per second of r.
func (r Result) Detail() string {
	errs := ""
	if r.ServerErrors > 0 {
		errs = fmt.Sprintf("; %d server error log lines, the first: %q", r.ServerErrors, r.FirstServerError)
	}
	return fmt.Sprintf("  %s/%s: %d hits at the failing server (%d attributed), %d at the first hop; %d finished, %d refused by an open breaker, %d cut by the end; steady window from onset+%v; hits per phase %v; hits/s %v%s",
		r.Scenario, r.Variant, r.Hits, r.Attributed, r.TopHits, r.Finished, r.Rejected, r.Requests-r.Finished, r.SteadyFrom, r.PhaseHits, r.HitsPerSecond, errs)
}
