package core

import (
	"github.com/redress-go/redress/internal/shard"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// ThrottlerConfig configures NewThrottler. The zero value is all defaults.
type ThrottlerConfig struct {
	// Name labels the throttler in errors and events. Default "default".
	Name string
	// K is how many requests per accepted one the client may send before
	// it starts rejecting locally: 2 (the default, as in the Google SRE
	// book) lets through twice the traffic the downstream accepts, so it
	// still sees enough requests to tell that it has recovered. Must be at
	// least 1.
	K float64
	// Window is the sliding window over which requests and accepts are
	// counted. Default 2s: short, so that the rejection rate follows the
	// downstream's health within a couple of seconds either way.
	Window time.Duration
	// MinRequests is the number of requests the window must hold before
	// anything is rejected, and the number accepted in a row after which a
	// throttler that was rejecting forgets its window. Default 10: a window
	// of a few requests says little about the downstream (the bare formula
	// rejects half of the requests that follow a single failure on a quiet
	// client, a call's own retry among them). Must not be negative.
	MinRequests int
	// MaxRejection caps the rejection probability. Default 0.9: the client
	// always sends at least a tenth of its requests, so that it sees the
	// downstream recover at once (the bare formula, which counts rejected
	// requests as requests, approaches 1 in a long outage and then sends
	// about one request per window). 1 applies the bare formula. Must be in
	// (0, 1].
	MaxRejection float64
	// Clock tells the time. Default SystemClock.
	Clock Clock
}

const throttleBuckets = 10

type throttleBucket struct {
	epoch    int64
	requests float64
	accepts  float64
}

// Throttler is client-side adaptive throttling (the Google SRE book,
// "Handling Overload"): it counts the requests sent to a downstream and
// those the downstream accepted over a short window, and rejects a new
// request locally with probability
//
//	max(0, (requests − K·accepts) / (requests + 1))
//
// so that a client sends a failing downstream about K times what it still
// accepts, instead of everything, and stops spending its own time on
// requests that would fail. Requests rejected locally count as requests
// (the rejection rate rises while the downstream stays down) and, as the
// downstream accepts again, the rate falls on its own. Two bounds keep the
// formula's small-number and deep-outage extremes out (MinRequests,
// MaxRejection): nothing is rejected below 10 requests in the window, and
// never more than 90% of the requests; and once MinRequests requests in a
// row are accepted the throttler forgets its window (the downstream has
// recovered: the refusals it counted would otherwise keep rejecting for
// most of a window).
//
// It is usable standalone (Allow, then Record) and inside a Policy. While
// the downstream accepts everything it costs one atomic load per Allow and
// one atomic add per Record: accepted requests are counted lock-free and
// folded into the window at the next rejection; nothing reads a clock. A
// Throttler is safe for concurrent use.
type Throttler struct {
	name   string
	k      float64
	min    float64 // MinRequests
	minN   int     // MinRequests, as a count of accepts in a row
	maxP   float64 // MaxRejection
	width  int64
	clock  Clock
	epoch  time.Time
	active atomic.Bool // a rejection may be due: the window holds failures
	_      [56]byte
	ok     [shard.N]paddedCount // accepted requests not yet folded into the window

	mu       sync.Mutex
	buckets  [throttleBuckets]throttleBucket
	lastFold int64
	streak   int // requests accepted in a row, counted while rejections may be due
	rejected atomic.Uint64
}

// NewThrottler returns a throttler, or a *ConfigError naming the first
// invalid field.
func NewThrottler(cfg ThrottlerConfig) (*Throttler, error) {
	if cfg.Name == "" {
		cfg.Name = "default"
	}
	if cfg.K == 0 {
		cfg.K = 2
	}
	if !(cfg.K >= 1) || math.IsInf(cfg.K, 0) {
		return nil, cfgErr("ThrottlerConfig.K", "must be a finite number of at least 1")
	}
	if cfg.Window < 0 {
		return nil, cfgErr("ThrottlerConfig.Window", "must not be negative")
	}
	if cfg.Window == 0 {
		cfg.Window = 2 * time.Second
	}
	if cfg.Window < throttleBuckets {
		return nil, cfgErr("ThrottlerConfig.Window", "must be at least 10ns")
	}
	if cfg.MinRequests < 0 {
		return nil, cfgErr("ThrottlerConfig.MinRequests", "must not be negative")
	}
	if cfg.MinRequests == 0 {
		cfg.MinRequests = 10
	}
	if cfg.MaxRejection == 0 {
		cfg.MaxRejection = 0.9
	}
	if !(cfg.MaxRejection > 0 && cfg.MaxRejection <= 1) {
		return nil, cfgErr("ThrottlerConfig.MaxRejection", "must be in (0, 1]")
	}
	if cfg.Clock != nil && isNil(cfg.Clock) {
		return nil, cfgErr("ThrottlerConfig.Clock", "holds a nil pointer (leave it nil for SystemClock)")
	}
	if cfg.Clock == nil {
		cfg.Clock = SystemClock{}
	}
	return &Throttler{name: cfg.Name, k: cfg.K, min: float64(cfg.MinRequests), minN: cfg.MinRequests, maxP: cfg.MaxRejection, width: int64(cfg.Window) / throttleBuckets, clock: cfg.Clock, epoch: cfg.Clock.Now()}, nil
}

// Name returns the throttler's name.
func (t *Throttler) Name() string { return t.name }

// Rejected returns the number of requests rejected locally so far.
func (t *Throttler) Rejected() uint64 { return t.rejected.Load() }

// Allow reports whether a request may be sent, or must be rejected
// locally (then it counts as a request the downstream did not accept). A
// request allowed must be followed by Record.
func (t *Throttler) Allow() bool {
	ok, _ := t.allow()
	return ok
}

// allow is Allow, with the rejection probability it decided on.
func (t *Throttler) allow() (bool, float64) {
	if !t.active.Load() {
		return true, 0
	}
	p := t.probability()
	if p <= 0 || rand.Float64() >= p {
		return true, p
	}
	t.rejected.Add(1)
	t.mu.Lock()
	t.bucket(t.now()).requests++
	t.mu.Unlock()
	return false, p
}

// Record records the outcome of a request Allow let through: accepted is
// whether the downstream accepted it (it answered, even with an error of
// the caller's: not an overload, an outage or a rate limit).
func (t *Throttler) Record(accepted bool) {
	if accepted && !t.active.Load() {
		t.ok[shard.Index()].n.Add(1)
		return
	}
	now := t.now()
	t.mu.Lock()
	t.fold(now)
	bk := t.bucket(now)
	bk.requests++
	if accepted {
		bk.accepts++
		t.streak++
	} else {
		t.streak = 0
	}
	if t.streak >= t.minN {
		// MinRequests accepted in a row: the downstream has recovered,
		// and the window's old refusals would otherwise keep rejecting
		// for most of the window.
		t.clear()
	} else {
		t.active.Store(t.rejects(t.totals(now)))
	}
	t.mu.Unlock()
}

// Probability returns the current probability that Allow rejects a
// request.
func (t *Throttler) Probability() float64 {
	if !t.active.Load() {
		return 0
	}
	return t.probability()
}

func (t *Throttler) probability() float64 {
	now := t.now()
	t.mu.Lock()
	t.fold(now)
	requests, accepts := t.totals(now)
	active := t.rejects(requests, accepts)
	t.active.Store(active)
	t.mu.Unlock()
	if !active {
		return 0
	}
	return min((requests-t.k*accepts)/(requests+1), t.maxP)
}

// rejects reports whether a window of requests and accepts makes Allow
// reject at all.
func (t *Throttler) rejects(requests, accepts float64) bool {
	return requests >= t.min && requests > t.k*accepts
}

func (t *Throttler) now() int64 { return int64(t.clock.Now().Sub(t.epoch)) }

// bucket returns the bucket of time now, cleared if it held an older
// interval; t.mu must be held.
func (t *Throttler) bucket(now int64) *throttleBucket {
	e := now / t.width
	bk := &t.buckets[int(uint64(e)%throttleBuckets)]
	if bk.epoch != e {
		*bk = throttleBucket{epoch: e}
	}
	return bk
}

// fold moves the lock-free count of accepted requests into the window,
// spread evenly over the time since the last fold; t.mu must be held.
func (t *Throttler) fold(now int64) {
	var n int64
	for i := range t.ok {
		n += t.ok[i].n.Swap(0)
	}
	if n > 0 {
		dt := now - t.lastFold
		window := t.width * throttleBuckets
		if dt > window {
			n = int64(float64(n) * float64(window) / float64(dt))
		}
		// Spread over the buckets the interval covers, newest last.
		first := max(t.lastFold, now-window+1) / t.width
		last := now / t.width
		span := last - first + 1
		each, rest := float64(n)/float64(span), float64(n)
		for e := first; e <= last; e++ {
			bk := t.bucket(e * t.width)
			share := each
			if e == last {
				share = rest
			}
			bk.requests += share
			bk.accepts += share
			rest -= share
		}
	}
	t.lastFold = now
}

// totals sums the window at now; t.mu must be held.
func (t *Throttler) totals(now int64) (requests, accepts float64) {
	cur := now / t.width
	for i := range t.buckets {
		bk := &t.buckets[i]
		if bk.epoch > cur-throttleBuckets && bk.epoch <= cur {
			requests += bk.requests
			accepts += bk.accepts
		}
	}
	return requests, accepts
}

// reset forgets the window: the outage it counted is over.
func (t *Throttler) reset() {
	t.mu.Lock()
	for i := range t.ok {
		t.ok[i].n.Store(0)
	}
	t.clear()
	t.mu.Unlock()
}

// clear empties the window; t.mu must be held.
func (t *Throttler) clear() {
	t.buckets = [throttleBuckets]throttleBucket{}
	t.streak = 0
	t.active.Store(false)
}
