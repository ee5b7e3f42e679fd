package core

import (
	"context"
	"errors"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// ConcurrencyLimiter bounds how many attempts are in flight at once
// (PolicyConfig.Concurrency). The policy asks it for a slot before every
// attempt, after the rate limiter and before the breaker, and gives the
// slot back when the attempt ends, with what became of it. NewBulkhead and
// NewAdaptiveLimiter are the two this package provides. Implementations
// must be safe for concurrent use.
type ConcurrencyLimiter interface {
	// Acquire takes a slot, waiting for one if the limiter queues. It
	// returns a token to hand back to Release, or an error: a
	// *ConcurrencyLimitedError when there is no slot (the attempt is not
	// made; the call stops with StopConcurrencyLimited), ctx's error when
	// ctx ended during a wait.
	Acquire(ctx context.Context) (token int64, err error)
	// Release gives back the slot Acquire granted with token.
	Release(token int64, o SlotOutcome)
	// Name names the limiter in errors.
	Name() string
}

// SlotOutcome is what became of an attempt that held a slot.
type SlotOutcome uint8

const (
	// SlotSucceeded: the downstream answered, with a success or with a
	// failure that says nothing of its health (permanent, auth, ...).
	SlotSucceeded SlotOutcome = iota
	// SlotFailed: the attempt failed in a way that counts against the
	// downstream's health (transient, timeout, server error, rate limit,
	// unknown).
	SlotFailed
	// SlotIgnored: the attempt was not made after all (the breaker
	// refused it), or the caller canceled it; its latency means nothing.
	SlotIgnored
)

// ErrConcurrencyLimited matches (errors.Is) every refusal by a
// ConcurrencyLimiter.
var ErrConcurrencyLimited = errors.New("redress: concurrency limit reached")

// ConcurrencyLimitedError is the typed error of an attempt a
// ConcurrencyLimiter refused; the request never reached the downstream. It
// is a rate limit (Classified: ClassRateLimit, reason
// "concurrency_limited"), so a retry, if the policy makes one, backs off
// like one.
type ConcurrencyLimitedError struct {
	// Limiter is the name of the limiter that refused.
	Limiter string
	// Limit is its limit when it refused.
	Limit int
	// InFlight is how many attempts held a slot.
	InFlight int
}

// Error implements error.
func (e *ConcurrencyLimitedError) Error() string {
	return "redress: concurrency limiter " + strconv.Quote(e.Limiter) + " refused the request locally (" + strconv.Itoa(e.InFlight) + " in flight, limit " + strconv.Itoa(e.Limit) + ")"
}

// Is matches ErrConcurrencyLimited.
func (e *ConcurrencyLimitedError) Is(target error) bool { return target == ErrConcurrencyLimited }

// RedressClassification implements Classified.
func (e *ConcurrencyLimitedError) RedressClassification() Classification {
	return Classification{Class: ClassRateLimit, Reason: "concurrency_limited"}
}

// BulkheadConfig configures a Bulkhead.
type BulkheadConfig struct {
	// Name names the bulkhead in its errors. Default "bulkhead".
	Name string
	// MaxConcurrent is how many attempts may be in flight at once. Must be
	// positive.
	MaxConcurrent int
	// MaxQueue is how many attempts may wait for a slot. Default 0: an
	// attempt with no slot is refused at once.
	MaxQueue int
	// MaxWait is how long a queued attempt waits for a slot before it is
	// refused. Required (positive) when MaxQueue is set.
	MaxWait time.Duration
}

// Bulkhead is a fixed concurrency limit with an optional bounded queue:
// a ConcurrencyLimiter. Share one between the policies that call one
// downstream to bound their sum. It is safe for concurrent use.
type Bulkhead struct {
	name     string
	slots    chan struct{}
	queued   atomic.Int64
	maxQueue int64
	maxWait  time.Duration
}

// NewBulkhead returns a bulkhead, or a *ConfigError naming the first
// invalid field.
func NewBulkhead(cfg BulkheadConfig) (*Bulkhead, error) {
	switch {
	case cfg.MaxConcurrent <= 0:
		return nil, cfgErr("BulkheadConfig.MaxConcurrent", "must be positive")
	case cfg.MaxQueue < 0:
		return nil, cfgErr("BulkheadConfig.MaxQueue", "must not be negative")
	case cfg.MaxWait < 0:
		return nil, cfgErr("BulkheadConfig.MaxWait", "must not be negative")
	case cfg.MaxQueue > 0 && cfg.MaxWait == 0:
		return nil, cfgErr("BulkheadConfig.MaxWait", "must be positive when MaxQueue is set (how long a queued attempt waits)")
	case cfg.MaxQueue == 0 && cfg.MaxWait > 0:
		return nil, cfgErr("BulkheadConfig.MaxQueue", "must be positive when MaxWait is set (how many attempts may wait)")
	}
	if cfg.Name == "" {
		cfg.Name = "bulkhead"
	}
	return &Bulkhead{name: cfg.Name, slots: make(chan struct{}, cfg.MaxConcurrent), maxQueue: int64(cfg.MaxQueue), maxWait: cfg.MaxWait}, nil
}

// Name returns the bulkhead's name.
func (b *Bulkhead) Name() string { return b.name }

// InFlight returns how many slots are taken.
func (b *Bulkhead) InFlight() int { return len(b.slots) }

// Acquire implements ConcurrencyLimiter: a free slot at once, else a place
// in the queue for up to MaxWait, else a *ConcurrencyLimitedError.
func (b *Bulkhead) Acquire(ctx context.Context) (int64, error) {
	select {
	case b.slots <- struct{}{}:
		return 0, nil
	default:
	}
	if b.maxQueue == 0 {
		return 0, b.refusal()
	}
	if b.queued.Add(1) > b.maxQueue {
		b.queued.Add(-1)
		return 0, b.refusal()
	}
	defer b.queued.Add(-1)
	t := time.NewTimer(b.maxWait)
	defer t.Stop()
	select {
	case b.slots <- struct{}{}:
		return 0, nil
	case <-t.C:
		return 0, b.refusal()
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

func (b *Bulkhead) refusal() error {
	return &ConcurrencyLimitedError{Limiter: b.name, Limit: cap(b.slots), InFlight: len(b.slots)}
}

// Release implements ConcurrencyLimiter.
func (b *Bulkhead) Release(int64, SlotOutcome) {
	select {
	case <-b.slots:
	default: // more releases than acquisitions: a caller's bug, not a reason to block
	}
}

// String describes the bulkhead.
func (b *Bulkhead) String() string {
	return "bulkhead " + strconv.Quote(b.name) + " (" + strconv.Itoa(cap(b.slots)) + " at once, queue " + strconv.FormatInt(b.maxQueue, 10) + ")"
}

// AdaptiveLimiterConfig configures an AdaptiveLimiter. Every zero field
// takes its default.
type AdaptiveLimiterConfig struct {
	// Name names the limiter in its errors. Default "adaptive".
	Name string
	// InitialLimit is the limit it starts from. Default 20.
	InitialLimit int
	// MinLimit is the lowest limit it goes to. Default 1.
	MinLimit int
	// MaxLimit is the highest limit it goes to. Default 200.
	MaxLimit int
	// Smoothing is the weight of each new, higher estimate of the limit,
	// in (0, 1]: the limit grows slowly and shrinks at once. Default 0.2.
	Smoothing float64
	// Window is how many attempts' latencies make one sample, at least.
	// Default 10.
	Window int
	// WindowTime is how long one sample lasts, at least. Default 100ms.
	WindowTime time.Duration
	// Clock times the attempts. Default SystemClock.
	Clock Clock
}

// AdaptiveLimiter is a ConcurrencyLimiter that finds its limit from
// latency, as the gradient limiters of Netflix's concurrency-limits do.
// Attempts' latencies are averaged over windows (Window attempts and
// WindowTime, whichever is longer); a baseline tracks the downstream's
// latency unloaded (it drops at once to a window's average below it and
// rises toward a higher one by a hundredth per window). Each window the
// limit moves toward limit × baseline/average + √limit: while latency
// holds at the baseline it grows by about its square root (headroom for a
// queue), smoothed (Smoothing); when requests start queueing at the
// downstream, latency rises and the limit shrinks in proportion at once
// (at most halving per window). A
// failure against the downstream's health cuts it by a tenth. It does not
// grow in a window where fewer than half its slots were used (nothing to
// learn then). An attempt over the limit is refused at once. It is safe
// for concurrent use.
type AdaptiveLimiter struct {
	name      string
	clock     Clock
	epoch     time.Time
	minLimit  float64
	maxLimit  float64
	smoothing float64
	window    int
	windowNs  int64
	mono      bool // clock is SystemClock

	mu       sync.Mutex
	wstart   int64 // this window's first sample, ns since epoch
	limit    float64
	inFlight int
	long     float64 // the long-term average latency, ns (0: none yet)
	sum      float64 // this window's latencies, ns
	n        int     // this window's samples
	maxInUse int     // the most slots in use during this window
}

// NewAdaptiveLimiter returns an adaptive limiter, or a *ConfigError naming
// the first invalid field.
func NewAdaptiveLimiter(cfg AdaptiveLimiterConfig) (*AdaptiveLimiter, error) {
	if cfg.Name == "" {
		cfg.Name = "adaptive"
	}
	if cfg.InitialLimit == 0 {
		cfg.InitialLimit = 20
	}
	if cfg.MinLimit == 0 {
		cfg.MinLimit = 1
	}
	if cfg.MaxLimit == 0 {
		cfg.MaxLimit = max(200, cfg.InitialLimit)
	}
	if cfg.Smoothing == 0 {
		cfg.Smoothing = 0.2
	}
	if cfg.Window == 0 {
		cfg.Window = 10
	}
	if cfg.WindowTime == 0 {
		cfg.WindowTime = 100 * time.Millisecond
	}
	switch {
	case cfg.MinLimit < 0:
		return nil, cfgErr("AdaptiveLimiterConfig.MinLimit", "must not be negative")
	case cfg.MaxLimit < cfg.MinLimit:
		return nil, cfgErr("AdaptiveLimiterConfig.MaxLimit", "must not be below MinLimit")
	case cfg.InitialLimit < cfg.MinLimit || cfg.InitialLimit > cfg.MaxLimit:
		return nil, cfgErr("AdaptiveLimiterConfig.InitialLimit", "must be within [MinLimit, MaxLimit]")
	case !(cfg.Smoothing > 0 && cfg.Smoothing <= 1):
		return nil, cfgErr("AdaptiveLimiterConfig.Smoothing", "must be in (0, 1]")
	case cfg.Window < 0:
		return nil, cfgErr("AdaptiveLimiterConfig.Window", "must not be negative")
	case cfg.WindowTime < 0:
		return nil, cfgErr("AdaptiveLimiterConfig.WindowTime", "must not be negative")
	case cfg.Clock != nil && isNil(cfg.Clock):
		return nil, cfgErr("AdaptiveLimiterConfig.Clock", "holds a nil pointer (leave it nil for SystemClock)")
	}
	if cfg.Clock == nil {
		cfg.Clock = SystemClock{}
	}
	l := &AdaptiveLimiter{
		name: cfg.Name, clock: cfg.Clock, epoch: cfg.Clock.Now(),
		minLimit: float64(cfg.MinLimit), maxLimit: float64(cfg.MaxLimit),
		smoothing: cfg.Smoothing, window: cfg.Window, windowNs: int64(cfg.WindowTime), limit: float64(cfg.InitialLimit),
	}
	_, l.mono = cfg.Clock.(SystemClock)
	return l, nil
}

// Name returns the limiter's name.
func (l *AdaptiveLimiter) Name() string { return l.name }

// now is the time since the limiter's epoch: on the monotonic clock alone
// (time.Since, cheaper than time.Now) with SystemClock.
func (l *AdaptiveLimiter) now() int64 {
	if l.mono {
		return int64(time.Since(l.epoch))
	}
	return int64(l.clock.Now().Sub(l.epoch))
}

// Limit returns the current limit.
func (l *AdaptiveLimiter) Limit() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return int(l.limit)
}

// InFlight returns how many slots are taken.
func (l *AdaptiveLimiter) InFlight() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.inFlight
}

// Acquire implements ConcurrencyLimiter. It never waits: the token is the
// attempt's start, to time it.
func (l *AdaptiveLimiter) Acquire(context.Context) (int64, error) {
	now := l.now()
	l.mu.Lock()
	if l.inFlight >= int(l.limit) {
		err := &ConcurrencyLimitedError{Limiter: l.name, Limit: int(l.limit), InFlight: l.inFlight}
		l.mu.Unlock()
		return 0, err
	}
	l.inFlight++
	l.maxInUse = max(l.maxInUse, l.inFlight)
	l.mu.Unlock()
	return now, nil
}

// Release implements ConcurrencyLimiter: it learns from the attempt's
// latency and outcome.
func (l *AdaptiveLimiter) Release(token int64, o SlotOutcome) {
	now := l.now()
	rtt := float64(now - token)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.inFlight > 0 {
		l.inFlight--
	}
	switch o {
	case SlotIgnored:
		return
	case SlotFailed:
		l.set(l.limit * 0.9)
		return
	}
	if l.n == 0 {
		l.wstart = now
	}
	l.sum += max(rtt, 1)
	l.n++
	if l.n < l.window || now-l.wstart < l.windowNs {
		return
	}
	short := l.sum / float64(l.n)
	inUse := l.maxInUse
	l.sum, l.n, l.maxInUse = 0, 0, l.inFlight
	if l.long == 0 || short < l.long {
		l.long = short
	} else {
		// The baseline rises slowly toward a higher latency (the
		// downstream got slower for good), over about a hundred windows.
		l.long += (short - l.long) / 100
	}
	gradient := min(max(l.long/short, 0.5), 1)
	next := l.limit*gradient + math.Sqrt(l.limit)
	if float64(inUse) < l.limit/2 {
		next = min(next, l.limit) // app-limited: no evidence the downstream takes more
	}
	if next < l.limit {
		l.set(next) // down at once: requests are queueing at the downstream
		return
	}
	l.set(l.limit*(1-l.smoothing) + next*l.smoothing)
}

func (l *AdaptiveLimiter) set(v float64) { l.limit = min(max(v, l.minLimit), l.maxLimit) }

// String describes the limiter.
func (l *AdaptiveLimiter) String() string {
	return "adaptive limiter " + strconv.Quote(l.name) + " (limit " + strconv.Itoa(l.Limit()) + ")"
}
