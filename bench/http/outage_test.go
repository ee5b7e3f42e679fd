package httpbench

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	redresshttp "github.com/redress-go/redress/contrib/nethttp"
	"github.com/redress-go/redress/core"
)

// The outage scenario of issue 4: 50 concurrent clients, each sending one
// request, waiting for its outcome, pausing 20 ms, and again; the server
// answers 503 to everything for 2 s, then recovers. A logical request is
// one client.Do started during the outage; its cost is every hit it caused
// on the server, its retries after the recovery included (each request
// carries an id). The figure is hits / logical requests.
const (
	clients = 50
	think   = 20 * time.Millisecond
	warmup  = 200 * time.Millisecond
	outage  = 2 * time.Second
)

type outageServer struct {
	*httptest.Server
	down atomic.Bool
	mu   sync.Mutex
	hits map[string]int // request id -> hits
}

func newOutageServer(t *testing.T) *outageServer {
	s := &outageServer{hits: map[string]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.hits[r.Header.Get("X-Request-Id")]++
		s.mu.Unlock()
		if s.down.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, "down")
			return
		}
		_, _ = io.WriteString(w, "up")
	}))
	t.Cleanup(s.Close)
	return s
}

// closedAt records when a breaker last closed.
type closedAt struct {
	mu sync.Mutex
	at time.Time
}

func (c *closedAt) Events() core.EventSet { return core.EventsOf(core.EventCircuitClosed) }
func (c *closedAt) Handle(context.Context, core.Event) {
	c.mu.Lock()
	c.at = time.Now()
	c.mu.Unlock()
}
func (c *closedAt) get() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.at
}

type outageResult struct {
	logical, hits int
	rejected      int64
	recovered     time.Time // when the server recovered
	closed        time.Time // when the breaker closed (redress only)
}

func (r outageResult) ratio() float64 { return float64(r.hits) / float64(r.logical) }

// runOutage runs the scenario through rt. until, if set, keeps the clients
// going after the recovery until it reports true (or 10 s pass).
func runOutage(t *testing.T, rt http.RoundTripper, until func() bool) outageResult {
	srv := newOutageServer(t)
	client := &http.Client{Transport: rt}
	var (
		res     outageResult
		start   time.Time
		end     time.Time
		window  sync.Mutex // guards start, end for readers
		ids     atomic.Int64
		stop    atomic.Bool
		wg      sync.WaitGroup
		mu      sync.Mutex
		inOut   []string
		rejects atomic.Int64
	)
	inOutage := func(t time.Time) bool {
		window.Lock()
		defer window.Unlock()
		return !start.IsZero() && !t.Before(start) && (end.IsZero() || t.Before(end))
	}
	for range clients {
		wg.Go(func() {
			for !stop.Load() {
				id := strconv.FormatInt(ids.Add(1), 10)
				req, _ := http.NewRequest(http.MethodGet, srv.URL+"/stock", nil)
				req.Header.Set("X-Request-Id", id)
				began := time.Now()
				resp, err := client.Do(req)
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					_ = resp.Body.Close()
				} else if errors.Is(err, core.ErrCircuitOpen) {
					rejects.Add(1)
				}
				if inOutage(began) {
					mu.Lock()
					inOut = append(inOut, id)
					mu.Unlock()
				}
				time.Sleep(think)
			}
		})
	}
	time.Sleep(warmup)
	window.Lock()
	srv.down.Store(true)
	start = time.Now()
	window.Unlock()
	time.Sleep(outage)
	window.Lock()
	srv.down.Store(false)
	end = time.Now()
	window.Unlock()
	res.recovered = end
	deadline := time.Now().Add(10 * time.Second)
	for until != nil && !until() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	stop.Store(true)
	wg.Wait()

	srv.mu.Lock()
	for _, id := range inOut {
		res.hits += srv.hits[id]
	}
	srv.mu.Unlock()
	res.logical = len(inOut)
	res.rejected = rejects.Load()
	return res
}

// TestOutage measures hits per logical request during a full outage for
// redress (defaults: per-host breaker and retry budget), failsafehttp and
// go-retryablehttp (their defaults), in the same run. Redress must stay at
// or below 1.1 and its breaker must close within one recovery timeout of the
// server's recovery.
func TestOutage(t *testing.T) {
	type row struct {
		name string
		res  outageResult
	}
	var rows []row

	// redress, default configuration.
	closed := &closedAt{}
	rt := redress.build(t, newBase(t), core.NewBus(closed))
	var res outageResult
	res = runOutage(t, rt, func() bool { return closed.get().After(res.recovered) })
	res.closed = closed.get()
	rows = append(rows, row{"redress", res})
	recovery := redresshttp.DefaultBreakerConfig().RecoveryTimeout
	if r := res.ratio(); r > 1.1 {
		t.Errorf("redress: %.3f hits per logical request during the outage, want <= 1.1", r)
	}
	if res.closed.Before(res.recovered) {
		t.Errorf("redress: the breaker did not close after the recovery")
	} else if d := res.closed.Sub(res.recovered); d > recovery+500*time.Millisecond {
		t.Errorf("redress: the breaker closed %v after the recovery, want within one recovery timeout (%v)", d, recovery)
	} else {
		t.Logf("redress: breaker closed %v after the server recovered (recovery timeout %v)", d.Round(time.Millisecond), recovery)
	}

	for _, v := range []variant{failsafe, retryable} {
		r := runOutage(t, v.build(t, newBase(t), nil), nil)
		rows = append(rows, row{v.name, r})
		if r.ratio() <= 1 {
			t.Errorf("%s: %.3f hits per logical request: the scenario did not make it retry", v.name, r.ratio())
		}
	}
	for _, r := range rows {
		t.Logf("%-14s %6d logical requests during the outage, %6d server hits: %.3f hits/request (%d refused by an open breaker)",
			r.name, r.res.logical, r.res.hits, r.res.ratio(), r.res.rejected)
	}
}
