package redressredis

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	redresshttp "github.com/redress-go/redress/contrib/nethttp"
	"github.com/redress-go/redress/core"
	"github.com/redress-go/redress/core/coretest"
)

// propagationBound is the documented bound on the time a breaker's change
// takes to reach every replica (BreakerSync).
const propagationBound = 500 * time.Millisecond

// replica is one process of a fleet: its own client (and connection pool),
// store, breaker sync and bus.
type replica struct {
	client *redis.Client
	store  *Store
	sync   *BreakerSync
	rec    *timedRecorder
}

// timedRecorder records events with the time they were handled.
type timedRecorder struct {
	coretest.Recorder
	mu    sync.Mutex
	times map[core.EventKind][]time.Time
}

func (r *timedRecorder) Handle(ctx context.Context, e core.Event) {
	r.mu.Lock()
	if r.times == nil {
		r.times = map[core.EventKind][]time.Time{}
	}
	r.times[e.Kind] = append(r.times[e.Kind], time.Now())
	r.mu.Unlock()
	r.Recorder.Handle(ctx, e)
}

// first returns when the first event of kind k was handled.
func (r *timedRecorder) first(k core.EventKind) (time.Time, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ts := r.times[k]; len(ts) > 0 {
		return ts[0], true
	}
	return time.Time{}, false
}

// newFleet starts n replicas on the clients dial returns, sharing prefix.
func newFleet(t *testing.T, n int, dial func(i int) *redis.Client, prefix string, bcfg BreakerSyncConfig) []*replica {
	t.Helper()
	fleet := make([]*replica, n)
	for i := range fleet {
		c := dial(i)
		rec := &timedRecorder{}
		st, err := NewStore(StoreConfig{Client: c, Prefix: prefix, Bus: core.NewBus(rec)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		bs, err := NewBreakerSync(st, bcfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { bs.Close() })
		fleet[i] = &replica{client: c, store: st, sync: bs, rec: rec}
	}
	if !bcfg.DisablePubSub {
		waitSubscribed(t, fleet[0].client, fleet[0].sync.channel, n)
	}
	return fleet
}

// waitSubscribed waits until n subscribers listen on channel, so that a
// test measures pub/sub and not a subscription still being set up.
func waitSubscribed(t *testing.T, c *redis.Client, channel string, n int) {
	t.Helper()
	eventually(t, 5*time.Second, "subscribers on "+channel, func() bool {
		m, err := c.PubSubNumSub(context.Background(), channel).Result()
		return err == nil && m[channel] >= int64(n)
	})
}

// eventually polls cond every millisecond until it holds, and fails the
// test after timeout. It returns how long it took.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > timeout {
			t.Fatalf("%s: not within %v", what, timeout)
		}
		time.Sleep(time.Millisecond) // polling real Redis-backed state, not timing the test
	}
	return time.Since(start)
}

// breakerOf returns a breaker of replica r, shared under name.
func (r *replica) breaker(t *testing.T, cfg core.BreakerConfig) *core.Breaker {
	t.Helper()
	cfg.Sync = r.sync
	cfg.Bus = core.NewBus(r.rec)
	b, err := core.NewBreaker(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func trip(t *testing.T, b *core.Breaker) {
	t.Helper()
	for b.State() == core.StateClosed {
		p, err := b.Allow()
		if err != nil {
			t.Fatalf("Allow: %v", err)
		}
		p.Failure(core.ClassTransient)
	}
}

// TestFleetSeesOpenWithinBound: four replicas, each with its own client
// and breaker of one name; one trips, every other sees it open within the
// documented delay, over pub/sub and by polling alone.
func TestFleetSeesOpenWithinBound(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cfg   BreakerSyncConfig
		bound time.Duration
	}{
		{"pubsub", BreakerSyncConfig{}, propagationBound},
		{"polling", BreakerSyncConfig{DisablePubSub: true}, propagationBound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t)
			prefix := testPrefix(t, c)
			fleet := newFleet(t, 4, func(int) *redis.Client { return newClient(t) }, prefix, tc.cfg)
			bs := make([]*core.Breaker, len(fleet))
			for i, r := range fleet {
				bs[i] = r.breaker(t, core.BreakerConfig{Name: "payments", FailureThreshold: 1, RecoveryTimeout: time.Minute})
			}
			for _, r := range fleet { // each replica's first round done
				r.store.Sync(context.Background())
			}
			start := time.Now()
			trip(t, bs[0])
			delays := make([]time.Duration, len(bs))
			eventually(t, 5*time.Second, "every replica open", func() bool {
				all := true
				for i, b := range bs {
					if delays[i] == 0 && b.State() == core.StateOpen {
						delays[i] = max(time.Since(start), 1)
					}
					all = all && delays[i] != 0
				}
				return all
			})
			worst := slices.Max(delays[1:])
			t.Logf("%s: propagation delays %v (worst %v, bound %v)", tc.name, delays[1:], worst, tc.bound)
			if worst > tc.bound {
				t.Errorf("worst propagation delay %v beyond the documented %v", worst, tc.bound)
			}
			for i, b := range bs[1:] {
				if left := b.OpenFor(); left < 50*time.Second || left > time.Minute {
					t.Errorf("replica %d open for %v, want about the minute left of the fleet's", i+1, left)
				}
				if n := fleet[i+1].rec.Count(core.EventCircuitOpened); n != 1 {
					t.Errorf("replica %d: %d circuit_opened events, want 1", i+1, n)
				}
			}
			// The fleet's state is in Redis, with a TTL.
			key := fleet[0].store.Key("breaker", "payments")
			if st, _ := c.HGet(context.Background(), key, "state").Result(); st != "open" {
				t.Errorf("%s state = %q, want open", key, st)
			}
			if ttl := c.PTTL(context.Background(), key).Val(); ttl <= 0 || ttl > DefaultStateTTL {
				t.Errorf("%s TTL = %v, want in (0, %v]", key, ttl, DefaultStateTTL)
			}
		})
	}
}

// hitLog is a loopback HTTP server's record of the requests it served,
// with the time each was sent.
type hitLog struct {
	mu   sync.Mutex
	hits []time.Time
	from []string
	down atomic.Bool
}

func (h *hitLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	sent, _ := strconv.ParseInt(r.Header.Get("X-Sent"), 10, 64)
	h.mu.Lock()
	h.hits = append(h.hits, time.Unix(0, sent))
	h.from = append(h.from, r.Header.Get("X-Replica"))
	h.mu.Unlock()
	if h.down.Load() {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	io.WriteString(w, "ok")
}

func (h *hitLog) since(t time.Time) []time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []time.Time
	for _, x := range h.hits {
		if !x.Before(t) {
			out = append(out, x)
		}
	}
	return out
}

// tagged names the replica of each request (X-Replica) and the time its
// breaker let it go (X-Sent): the server counts requests by when they were
// sent, so that one sent before the fleet opened and still on its way is
// not taken for a probe.
type tagged struct {
	replica string
	base    *http.Transport
}

func (t tagged) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Replica", t.replica)
	r.Header.Set("X-Sent", strconv.FormatInt(time.Now().UnixNano(), 10))
	return t.base.RoundTrip(r)
}

func (t tagged) CloseIdleConnections() { t.base.CloseIdleConnections() }

// TestFleetProbesAreBounded: four replicas call one loopback HTTP server
// through redresshttp, each with its per-host breakers shared (the
// group's template has the Sync). While the server fails, the fleet sends
// at most Probes probes per recovery period, not four sets; once it heals,
// at most Probes requests reach it before a breaker closes, and every
// replica closes within the documented delay.
func TestFleetProbesAreBounded(t *testing.T) {
	for _, tc := range []struct {
		name   string
		probes int
		shared bool
	}{
		{"one probe", 1, true},
		{"two probes", 2, true},
		// The same fleet with local breakers: the check above fails.
		{"local breakers", 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) { testFleetProbes(t, tc.probes, tc.shared) })
	}
}

func testFleetProbes(t *testing.T, probes int, shared bool) {
	const recovery = 200 * time.Millisecond
	c := newClient(t)
	prefix := testPrefix(t, c)
	fleet := newFleet(t, 4, func(int) *redis.Client { return newClient(t) }, prefix, BreakerSyncConfig{})
	log := &hitLog{}
	log.down.Store(true)
	srv := httptest.NewServer(log)
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")

	clients := make([]*http.Client, len(fleet))
	trs := make([]*redresshttp.Transport, len(fleet))
	for i, r := range fleet {
		pol, err := core.NewPolicy(core.PolicyConfig{Name: "fleet", Bus: core.NewBus(r.rec), Retry: core.RetryConfig{MaxAttempts: 1}})
		if err != nil {
			t.Fatal(err)
		}
		tmpl := core.BreakerConfig{FailureThreshold: 3, RecoveryTimeout: recovery, HalfOpenProbes: probes}
		if shared {
			tmpl.Sync = r.sync
		}
		tr, err := redresshttp.NewTransport(tagged{strconv.Itoa(i), http.DefaultTransport.(*http.Transport).Clone()}, redresshttp.Config{Policy: pol, Breaker: &tmpl})
		if err != nil {
			t.Fatal(err)
		}
		trs[i] = tr
		clients[i] = &http.Client{Transport: tr}
		defer tr.CloseIdleConnections()
	}
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, hc := range append(clients, clients...) { // two callers per replica
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
				if resp, err := hc.Do(req); err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				time.Sleep(2 * time.Millisecond) // the replica's traffic
			}
		}()
	}
	defer func() { stop(); wg.Wait() }()

	state := func(i int) core.BreakerState {
		if b := trs[i].Breaker(host); b != nil {
			return b.State()
		}
		return core.StateClosed
	}
	eventually(t, 5*time.Second, "every replica's breaker open", func() bool {
		for i := range trs {
			if state(i) == core.StateClosed {
				return false
			}
		}
		return true
	})

	// The downstream still fails: probes only, spaced by the recovery
	// timeout that each failed probe restarts for the whole fleet.
	const window = 1200 * time.Millisecond
	from := time.Now()
	time.Sleep(window) // a measurement window of real traffic
	hits := log.since(from)
	periods := [][]time.Time{}
	for i, h := range hits {
		if i == 0 || h.Sub(hits[i-1]) > recovery/2 {
			periods = append(periods, nil)
		}
		periods[len(periods)-1] = append(periods[len(periods)-1], h)
	}
	most := 0
	for _, p := range periods {
		most = max(most, len(p))
	}
	var degraded uint64
	for _, r := range fleet {
		degraded += r.store.Degradations()
	}
	t.Logf("degradations so far: %d", degraded)
	limit := probes * (int(window/recovery) + 2)
	t.Logf("probes=%d shared=%v: %d requests reached the failing server in %v, in %d probe periods of at most %d (limit %d)",
		probes, shared, len(hits), window, len(periods), most, limit)
	if !shared {
		if len(hits) <= limit {
			t.Errorf("local breakers sent %d requests, within the shared limit %d: the check cannot tell", len(hits), limit)
		}
		return
	}
	if most > probes {
		t.Errorf("a probe period had %d requests, want at most %d for the whole fleet", most, probes)
		log.mu.Lock()
		for i, h := range log.hits {
			if !h.Before(from) {
				t.Logf("hit at %v from %s", h.Sub(from), log.from[i])
			}
		}
		log.mu.Unlock()
	}
	if len(hits) > limit {
		t.Errorf("%d requests reached the failing server in %v, want at most %d", len(hits), window, limit)
	}
	if len(hits) == 0 {
		t.Errorf("no probe in %v: the fleet never tried to recover", window)
	}

	// The downstream heals: at most Probes requests before a breaker
	// closes, then every replica closes.
	healed := time.Now()
	log.down.Store(false)
	eventually(t, 5*time.Second, "every replica's breaker closed", func() bool {
		for i := range trs {
			if state(i) != core.StateClosed {
				return false
			}
		}
		return true
	})
	var firstClose time.Time
	var closes []time.Time
	for _, r := range fleet {
		if ts, ok := r.rec.first(core.EventCircuitClosed); ok {
			closes = append(closes, ts)
			if firstClose.IsZero() || ts.Before(firstClose) {
				firstClose = ts
			}
		}
	}
	if len(closes) != len(fleet) {
		t.Fatalf("%d replicas published circuit_closed, want %d", len(closes), len(fleet))
	}
	var before int
	for _, h := range log.since(healed) {
		if h.Before(firstClose) {
			before++
		}
	}
	spread := slices.MaxFunc(closes, time.Time.Compare).Sub(firstClose)
	t.Logf("probes=%d: %d requests reached the healed server before the first breaker closed; every replica closed within %v of the first", probes, before, spread)
	if before > probes {
		t.Errorf("%d requests reached the healed server before a breaker closed, want at most %d", before, probes)
	}
	if spread > propagationBound {
		t.Errorf("closing took %v to reach every replica, beyond %v", spread, propagationBound)
	}
}

// ownClient returns a client of srv whose commands honour the store's
// timeout (ContextTimeoutEnabled), as a client used with a Store should.
func ownClient(t *testing.T, addr string) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: 50 * time.Millisecond, ContextTimeoutEnabled: true})
	t.Cleanup(func() { c.Close() })
	return c
}

// callLatency runs n calls through a policy on b and returns the slowest
// and the 99th percentile.
func callLatency(t *testing.T, b *core.Breaker, n int) (worst, p99 time.Duration) {
	t.Helper()
	pol, err := core.NewPolicy(core.PolicyConfig{Breaker: b, Retry: core.RetryConfig{MaxAttempts: 1}})
	if err != nil {
		t.Fatal(err)
	}
	ds := make([]time.Duration, n)
	for i := range ds {
		start := time.Now()
		_ = pol.Run(context.Background(), func(context.Context) error { return nil })
		ds[i] = time.Since(start)
	}
	slices.Sort(ds)
	return ds[n-1], ds[n*99/100]
}

// TestFleetFaults: Redis killed, then paused, mid-run: the stores degrade
// (an event), every breaker decides locally without waiting, and when Redis
// is back the replica that opened alone meanwhile opens the others.
func TestFleetFaults(t *testing.T) {
	for _, fault := range []string{"killed", "paused"} {
		t.Run(fault, func(t *testing.T) {
			srv := startOwnRedis(t)
			fleet := newFleet(t, 4, func(int) *redis.Client { return ownClient(t, srv.addr()) }, "faults", BreakerSyncConfig{})
			bs := make([]*core.Breaker, len(fleet))
			for i, r := range fleet {
				bs[i] = r.breaker(t, core.BreakerConfig{Name: "inventory", FailureThreshold: 1, RecoveryTimeout: 30 * time.Second})
			}
			admin := ownClient(t, srv.addr())
			const pause = 1500 * time.Millisecond
			paused := time.Now()
			switch fault {
			case "killed":
				srv.kill()
			case "paused":
				if err := admin.Do(context.Background(), "CLIENT", "PAUSE", strconv.Itoa(int(pause/time.Millisecond)), "ALL").Err(); err != nil {
					t.Fatal(err)
				}
			}
			eventually(t, 5*time.Second, "every store degraded, with its event", func() bool {
				for _, r := range fleet {
					// The flag is set before the event is published.
					if !r.store.Degraded() || r.rec.Count(core.EventSharedStateDegraded) == 0 {
						return false
					}
				}
				return true
			})
			for i, r := range fleet {
				if n := r.rec.Count(core.EventSharedStateDegraded); n != 1 {
					t.Errorf("replica %d: %d shared_state_degraded events, want 1 for the spell", i, n)
				}
			}

			// Local decisions, at local speed.
			trip(t, bs[0])
			timeout := fleet[0].store.Timeout()
			for i, b := range bs {
				worst, p99 := callLatency(t, b, 2000)
				t.Logf("%s: replica %d (%s): calls p99 %v, slowest %v", fault, i, b.State(), p99, worst)
				if p99 >= timeout || worst >= 10*timeout {
					t.Errorf("replica %d: calls took p99 %v, slowest %v while Redis was %s; the store's timeout is %v", i, p99, worst, fault, timeout)
				}
			}
			for i, b := range bs[1:] {
				if b.State() != core.StateClosed {
					t.Errorf("replica %d is %s while Redis is %s: nothing told it", i+1, b.State(), fault)
				}
			}

			// Redis is back: the open replica 0 made alone reaches the others.
			var back time.Time
			if fault == "killed" {
				back = time.Now() // the server starting: its start-up is counted
				srv.start()
			} else {
				back = paused.Add(pause) // the pause ends by itself
				if time.Now().After(back) {
					t.Fatalf("the test outlasted the %v pause", pause)
				}
			}
			eventually(t, 10*time.Second, "every replica open and restored after Redis is back", func() bool {
				for i, b := range bs {
					// The flag is cleared before the event is published.
					if b.State() != core.StateOpen || fleet[i].store.Degraded() || fleet[i].rec.Count(core.EventSharedStateRestored) == 0 {
						return false
					}
				}
				return true
			})
			d := time.Since(back)
			// The stores probe Redis once per SyncInterval; then the
			// propagation bound applies.
			bound := DefaultSyncInterval + propagationBound
			t.Logf("%s: every replica restored and open %v after Redis was back (bound %v)", fault, d, bound)
			if d > bound {
				t.Errorf("resynchronisation took %v, beyond %v", d, bound)
			}

			for i, r := range fleet {
				// A loaded machine may flap a store once more as Redis
				// works off what queued during the fault: every spell
				// still ends.
				deg, res := r.rec.Count(core.EventSharedStateDegraded), r.rec.Count(core.EventSharedStateRestored)
				if res < 1 || res != deg {
					t.Errorf("replica %d: %d shared_state_degraded and %d shared_state_restored events, want as many, at least one", i, deg, res)
				}
			}
		})
	}
}

// proxy forwards TCP connections to an address until cut: then it drops
// every connection and refuses new ones, as a network partition of the
// replicas behind it would.
type proxy struct {
	l      net.Listener
	to     string
	mu     sync.Mutex
	cutOff bool
	conns  []net.Conn
	wg     sync.WaitGroup
}

func startProxy(t *testing.T, to string) *proxy {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{l: l, to: to}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(func() {
		l.Close()
		p.cut()
		p.wg.Wait()
	})
	return p
}

func (p *proxy) addr() string { return p.l.Addr().String() }

func (p *proxy) accept() {
	defer p.wg.Done()
	for {
		in, err := p.l.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.cutOff {
			p.mu.Unlock()
			in.Close()
			continue
		}
		out, err := net.Dial("tcp", p.to)
		if err != nil {
			p.mu.Unlock()
			in.Close()
			continue
		}
		p.conns = append(p.conns, in, out)
		p.mu.Unlock()
		p.wg.Add(2)
		go func() { defer p.wg.Done(); io.Copy(out, in); out.Close() }()
		go func() { defer p.wg.Done(); io.Copy(in, out); in.Close() }()
	}
}

func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cutOff = true
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *proxy) heal() {
	p.mu.Lock()
	p.cutOff = false
	p.mu.Unlock()
}

// TestPartitionedReplicaAdoptsTheFleetState: one replica loses Redis
// while another opens; the others open, it goes on alone, closed; when it
// reaches Redis again it adopts the fleet's state.
func TestPartitionedReplicaAdoptsTheFleetState(t *testing.T) {
	srv := startOwnRedis(t)
	px := startProxy(t, srv.addr())
	fleet := newFleet(t, 4, func(i int) *redis.Client {
		if i == 3 {
			return ownClient(t, px.addr())
		}
		return ownClient(t, srv.addr())
	}, "partition", BreakerSyncConfig{})
	bs := make([]*core.Breaker, len(fleet))
	for i, r := range fleet {
		bs[i] = r.breaker(t, core.BreakerConfig{Name: "search", FailureThreshold: 1, RecoveryTimeout: 30 * time.Second})
	}
	for _, r := range fleet {
		r.store.Sync(context.Background())
	}
	px.cut()
	eventually(t, 5*time.Second, "replica 3 degraded", fleet[3].store.Degraded)
	trip(t, bs[0])
	eventually(t, 5*time.Second, "replicas 1 and 2 open", func() bool {
		return bs[1].State() == core.StateOpen && bs[2].State() == core.StateOpen
	})
	if bs[3].State() != core.StateClosed {
		t.Fatalf("the partitioned replica is %s, want closed (it cannot know)", bs[3].State())
	}
	if fleet[0].store.Degraded() {
		t.Fatal("a replica that reaches Redis is degraded")
	}
	px.heal()
	d := eventually(t, 5*time.Second, "the partitioned replica open", func() bool { return bs[3].State() == core.StateOpen })
	t.Logf("the partitioned replica adopted the fleet's open %v after the partition healed", d)
	if left := bs[3].OpenFor(); left > 30*time.Second || left < 20*time.Second {
		t.Errorf("the partitioned replica is open for %v, want what is left of the fleet's 30s", left)
	}
	// The fleet's open may arrive over pub/sub before the store's next
	// round notices that Redis answers again: the restored event follows.
	eventually(t, 5*time.Second, "shared_state_restored on the partitioned replica", func() bool {
		return fleet[3].rec.Count(core.EventSharedStateRestored) >= 1
	})
	if n := fleet[3].rec.Count(core.EventSharedStateRestored); n != 1 {
		t.Errorf("%d shared_state_restored events on the partitioned replica, want 1", n)
	}
}

func TestNewBreakerSyncRejectsBadConfig(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer c.Close()
	st, err := NewStore(StoreConfig{Client: c, ManualSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, tc := range []struct {
		name  string
		store *Store
		cfg   BreakerSyncConfig
		field string
	}{
		{"no store", nil, BreakerSyncConfig{}, "store"},
		{"negative probes", st, BreakerSyncConfig{Probes: -1}, "BreakerSyncConfig.Probes"},
		{"negative lease", st, BreakerSyncConfig{ProbeLease: -1}, "BreakerSyncConfig.ProbeLease"},
		{"lease below 1ms", st, BreakerSyncConfig{ProbeLease: time.Microsecond}, "BreakerSyncConfig.ProbeLease"},
		{"negative ttl", st, BreakerSyncConfig{StateTTL: -1}, "BreakerSyncConfig.StateTTL"},
		{"ttl below 1s", st, BreakerSyncConfig{StateTTL: time.Millisecond}, "BreakerSyncConfig.StateTTL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewBreakerSync(tc.store, tc.cfg)
			var ce *core.ConfigError
			if !errors.As(err, &ce) || ce.Field != tc.field {
				t.Fatalf("NewBreakerSync = %v, %v; want a ConfigError naming %s", s, err, tc.field)
			}
		})
	}
}

// TestProbeLeaseExpires: a replica that takes the fleet's probe lease and
// never reports holds it for ProbeLease; then another replica probes, and
// its verdict closes the breaker in both. The stores sync by hand.
func TestProbeLeaseExpires(t *testing.T) {
	const recovery, lease = 50 * time.Millisecond, 300 * time.Millisecond
	c := newClient(t)
	prefix := testPrefix(t, c)
	var rs [2]*replica
	var bs [2]*core.Breaker
	for i := range rs {
		st, err := NewStore(StoreConfig{Client: newClient(t), Prefix: prefix, ManualSync: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		bsync, err := NewBreakerSync(st, BreakerSyncConfig{ProbeLease: lease, DisablePubSub: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { bsync.Close() })
		rs[i] = &replica{client: c, store: st, sync: bsync, rec: &timedRecorder{}}
		bs[i] = rs[i].breaker(t, core.BreakerConfig{Name: "ledger", FailureThreshold: 1, RecoveryTimeout: recovery})
	}
	ctx := context.Background()
	sync := func(i int) {
		t.Helper()
		if err := rs[i].store.Sync(ctx); err != nil {
			t.Fatalf("replica %d: Sync: %v", i, err)
		}
	}
	sync(0)
	sync(1)
	trip(t, bs[0])
	sync(0) // publishes the open
	sync(1) // adopts it
	if bs[1].State() != core.StateOpen {
		t.Fatalf("replica 1 is %s after its round, want open", bs[1].State())
	}
	eventually(t, 5*time.Second, "the recovery timeout over", func() bool {
		return bs[0].OpenFor() == 0 && bs[1].OpenFor() == 0
	})

	// Replica 0 asks, gets the lease at its next round, probes and hangs.
	if _, err := bs[0].Allow(); !errors.Is(err, core.ErrCircuitOpen) {
		t.Fatalf("probe before any lease: %v", err)
	}
	sync(0)
	granted := time.Now()
	if _, err := bs[0].Allow(); err != nil {
		t.Fatalf("probe under the lease refused: %v", err)
	}
	leaseKey := rs[0].store.Key("breaker-probes", "ledger")
	if ttl := c.PTTL(ctx, leaseKey).Val(); ttl <= 0 || ttl > lease {
		t.Errorf("%s TTL = %v, want in (0, %v]", leaseKey, ttl, lease)
	}

	// Replica 1 is refused until the lease runs out.
	var p core.Permit
	eventually(t, 5*time.Second, "replica 1 granted a probe", func() bool {
		_, _ = bs[1].Allow() // asks for a lease
		sync(1)
		var err error
		p, err = bs[1].Allow()
		return err == nil
	})
	waited := time.Since(granted)
	t.Logf("replica 1 probed %v after replica 0 took the lease (lease %v)", waited, lease)
	if waited < lease*8/10 {
		t.Errorf("replica 1 probed %v after replica 0's lease, before the lease of %v ran out", waited, lease)
	}
	p.Success()
	if bs[1].State() != core.StateClosed {
		t.Fatalf("replica 1 is %s after its probe succeeded", bs[1].State())
	}
	sync(1) // publishes the close
	sync(0) // adopts it
	if bs[0].State() != core.StateClosed {
		t.Errorf("replica 0 is %s after the fleet closed", bs[0].State())
	}
	if n := c.Exists(ctx, leaseKey).Val(); n != 0 {
		t.Errorf("the close left the probe lease behind")
	}
}
