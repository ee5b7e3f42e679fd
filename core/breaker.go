package core

import (
	"context"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// BreakerState is the state of a circuit breaker.
type BreakerState uint8

// The breaker states.
const (
	// StateClosed lets every call through and counts failures.
	StateClosed BreakerState = iota
	// StateOpen rejects every call until the recovery timeout has passed.
	StateOpen
	// StateHalfOpen lets a bounded number of probes through: a probe's
	// success closes the breaker, its failure opens it again.
	StateHalfOpen
)

// String returns "closed", "open" or "half_open".
func (s BreakerState) String() string {
	switch s {
	case StateClosed:
		return "closed"
	case StateOpen:
		return "open"
	case StateHalfOpen:
		return "half_open"
	}
	return "invalid"
}

// BreakerStates returns the three states.
func BreakerStates() []BreakerState { return []BreakerState{StateClosed, StateOpen, StateHalfOpen} }

// BreakerConfig configures NewBreaker. The zero value is all defaults.
type BreakerConfig struct {
	// Name labels the breaker in errors and events. Default "default".
	Name string
	// FailureThreshold opens the breaker when this many failures of a TripOn
	// class happened within Window. Default 5. Zero means the default, unless
	// FailureRatio is set, in which case zero disables the count threshold.
	FailureThreshold int
	// ClassThresholds opens the breaker when one class alone reaches its
	// count within Window, whether or not the class is in TripOn.
	ClassThresholds map[Class]int
	// TripOn is the set of classes that count as failures for
	// FailureThreshold and FailureRatio. Default: transient and server error.
	// Other failures count as healthy calls: the downstream answered.
	TripOn ClassSet
	// FailureRatio opens the breaker when the share of TripOn failures among
	// all calls within Window reaches it, once there were at least MinCalls
	// calls. Zero disables it. Must be in [0, 1].
	FailureRatio float64
	// MinCalls is the number of calls in Window needed before FailureRatio
	// applies. Default 20.
	MinCalls int
	// Window is the rolling window over which failures are counted.
	// Default 60s.
	Window time.Duration
	// RecoveryTimeout is how long the breaker stays open before it lets
	// probes through. Default 30s.
	RecoveryTimeout time.Duration
	// HalfOpenProbes is the number of calls let through at once while
	// half-open. Default 1.
	HalfOpenProbes int
	// ConsecutiveFailures opens the breaker when this many TripOn failures
	// came in a row, with no healthy call between them, whatever the
	// window holds: a breaker that saw a long healthy history still opens
	// within a few failures of a hard outage. Zero disables it.
	ConsecutiveFailures int
	// RampUp makes recovery gradual: once half-open, the breaker admits
	// HalfOpenProbes calls at once and, beyond them, a share of the calls
	// that grows linearly from 0 to all over RampUp; the first success
	// after RampUp closes it, and it reopens once TripOn failures are the
	// majority of the half-open period's verdicts (at least 3, and at
	// least HalfOpenProbes), so that a downstream's usual few failures do
	// not flap it. Zero: the first probe that succeeds closes it at once,
	// the first that fails reopens it.
	RampUp time.Duration
	// Throttle, if set, gives the breaker a Throttler built from it
	// (client-side adaptive throttling; its Name and Clock default to the
	// breaker's): while the breaker is closed, a call it admits is still
	// rejected locally, with a *ThrottledError (StopThrottled), at the
	// throttler's rate once the downstream accepts too few of the recent
	// requests. It covers what the breaker does not trip on — rate limits
	// without a Retry-After hint, unknown failures — and overloads below its
	// trip; the breaker's probes and ramp are never throttled, and a breaker
	// that closes clears its throttler (the outage it counted is over).
	// DownstreamBreakerConfig sets it. Nil: no throttler.
	Throttle *ThrottlerConfig
	// Clock tells the time. Default SystemClock.
	Clock Clock
	// Bus receives the breaker's transition events (with those of every
	// policy's bus the breaker serves, see Breaker) and, when it is used
	// standalone (Allow / Permit), its rejections. Nil: none.
	Bus *Bus
	// Sync, if set, shares the breaker's state beyond the process (the
	// Redis-backed breakers of contrib/redis): NewBreaker joins each
	// breaker it returns to it, and a BreakerGroup each breaker it keeps,
	// under the breaker's name. Nil: the breaker is local, and pays
	// nothing for the option.
	Sync BreakerSync
}

// DownstreamBreakerConfig returns the template of the breakers the
// wrappers keep per downstream (redresshttp per host, redressgrpc per
// target): it opens after 20 TripOn failures in a row, or when at least
// half of at least 10 calls of the last 2s failed (a recent rate, so that a
// hard outage opens it within a few failures whatever the healthy traffic
// before it, while 30% of failures at random never does); after 250ms it
// lets 3 probes through and ramps the admitted share up over 500ms
// (traffic is back within about a second of the downstream healing).
// TripOn: transient faults and server errors. While closed it throttles
// (Throttle: K 2 over 2s): a downstream that accepts less than half of the
// recent requests — a rate limit without hints, say — is sent about twice
// what it accepts. Each call to it returns a fresh config.
func DownstreamBreakerConfig() BreakerConfig {
	return BreakerConfig{
		FailureRatio:        0.5,
		MinCalls:            10,
		Window:              2 * time.Second,
		ConsecutiveFailures: 20,
		RecoveryTimeout:     250 * time.Millisecond,
		HalfOpenProbes:      3,
		RampUp:              500 * time.Millisecond,
		TripOn:              SetOf(ClassTransient, ClassServerError),
		Throttle:            &ThrottlerConfig{},
	}
}

const breakerBuckets = 10

type breakerBucket struct {
	epoch    int64 // which bucket-width interval this bucket holds
	calls    int64
	failures int64 // TripOn failures
	byClass  [numClasses]int64
}

// Breaker is a circuit breaker: closed, open, half-open. It trips on a
// rolling window of classified failures and rejects calls instantly while
// open. A Breaker is safe for concurrent use and may be shared by several
// policies; the usual way to use it is PolicyConfig.Breaker. Wrappers may use
// it standalone with Allow and the returned Permit.
//
// On the success path of a closed breaker, Allow and Permit.Success do two
// atomic operations and read no clock: successes are counted lock-free and
// folded into the window when the next failure is recorded, spread evenly
// over the time since the previous fold (an estimate that is exact when
// traffic is steady).
//
// Transitions: every state change (circuit_opened, circuit_half_open,
// circuit_closed) is published exactly once on each bus the breaker serves
// (BreakerConfig.Bus, and the bus of every policy that has used it, from
// that use on), in the order the changes were made: for one breaker, a
// subscriber sees each event's PrevBreakerState equal to the previous
// event's BreakerState. An event is published by the goroutine that made
// the change, or, when an earlier change of the same breaker is still being
// published on another goroutine, by that goroutine right after it; a call
// therefore may return before the event of a change it made is handled,
// and may publish, before it returns, the events of changes other calls made
// meanwhile (keep subscribers fast, or behind NewAsync); a queued event is
// handed the context of the call that made the change, which may have
// ended by then.
type Breaker struct {
	name        string
	threshold   int64
	classThresh [numClasses]int64
	hasClassT   bool
	tripOn      ClassSet
	ratio       float64
	minCalls    int64
	window      time.Duration
	width       int64 // bucket width, ns
	recovery    time.Duration
	probes      int64
	consecMax   int64
	rampUp      int64 // ns
	clock       Clock
	bus         *Bus
	throttler   *Throttler // nil: BreakerConfig.Throttle unset
	epoch       time.Time

	// state packs the state (low 2 bits) and a generation counter.
	state      atomic.Uint64
	holdUntil  atomic.Int64 // ns since epoch: refuse calls until then (Hold); 0: none
	lastFail   atomic.Int64 // ns since epoch of the last TripOn failure, 0: none yet
	_          [40]byte
	pending    atomic.Int64 // healthy calls not yet folded into the window
	consec     atomic.Int64 // TripOn failures in a row (with ConsecutiveFailures)
	_          [48]byte
	inflight   atomic.Int64 // probes admitted in the current half-open period
	openedAt   atomic.Int64 // ns since epoch
	halfAt     atomic.Int64 // ns since epoch: start of the half-open period
	rejections atomic.Uint64

	mu       sync.Mutex // guards buckets, lastFold and seq, and serialises transitions
	buckets  [breakerBuckets]breakerBucket
	lastFold int64
	seq      uint64 // transitions made
	rampOK   int64  // successes in the current half-open period (RampUp)
	rampFail int64  // TripOn failures in the current half-open period (RampUp)

	buses atomic.Pointer[[]*Bus] // where transitions are published

	pubMu   sync.Mutex // guards the fields below
	pubNext uint64     // seq of the next transition to publish
	pubBusy bool       // a goroutine is publishing
	pubQ    []queuedTransition

	link  BreakerLink  // nil: BreakerConfig.Sync unset
	limit atomic.Int64 // probes of the current half-open period (HalfOpenProbes, or fewer as the link granted)
}

// queuedTransition is a transition made while an earlier one of the same
// breaker was not yet published.
type queuedTransition struct {
	ctx context.Context
	tr  transition
	e   Event
	has bool // e was built by the maker
}

// NewBreaker returns a closed breaker, or a *ConfigError naming the first
// invalid field. With BreakerConfig.Sync set, the breaker is joined to it
// before it is returned.
func NewBreaker(cfg BreakerConfig) (*Breaker, error) {
	b, err := newBreaker(cfg)
	if err != nil {
		return nil, err
	}
	if cfg.Sync != nil {
		b.link = cfg.Sync.Join(b)
	}
	return b, nil
}

// newBreaker is NewBreaker without joining BreakerConfig.Sync.
func newBreaker(cfg BreakerConfig) (*Breaker, error) {
	if cfg.Name == "" {
		cfg.Name = "default"
	}
	if cfg.FailureThreshold < 0 {
		return nil, cfgErr("BreakerConfig.FailureThreshold", "must not be negative")
	}
	if !(cfg.FailureRatio >= 0 && cfg.FailureRatio <= 1) {
		return nil, cfgErr("BreakerConfig.FailureRatio", "must be in [0, 1]")
	}
	if cfg.FailureThreshold == 0 && cfg.FailureRatio == 0 {
		cfg.FailureThreshold = 5
	}
	if cfg.MinCalls < 0 {
		return nil, cfgErr("BreakerConfig.MinCalls", "must not be negative")
	}
	if cfg.MinCalls == 0 {
		cfg.MinCalls = 20
	}
	if cfg.Window < 0 {
		return nil, cfgErr("BreakerConfig.Window", "must not be negative")
	}
	if cfg.Window == 0 {
		cfg.Window = 60 * time.Second
	}
	if cfg.Window < breakerBuckets {
		return nil, cfgErr("BreakerConfig.Window", "must be at least 10ns")
	}
	if cfg.RecoveryTimeout < 0 {
		return nil, cfgErr("BreakerConfig.RecoveryTimeout", "must not be negative")
	}
	if cfg.RecoveryTimeout == 0 {
		cfg.RecoveryTimeout = 30 * time.Second
	}
	if cfg.HalfOpenProbes < 0 {
		return nil, cfgErr("BreakerConfig.HalfOpenProbes", "must not be negative")
	}
	if cfg.HalfOpenProbes == 0 {
		cfg.HalfOpenProbes = 1
	}
	if cfg.ConsecutiveFailures < 0 {
		return nil, cfgErr("BreakerConfig.ConsecutiveFailures", "must not be negative")
	}
	if cfg.RampUp < 0 {
		return nil, cfgErr("BreakerConfig.RampUp", "must not be negative")
	}
	if cfg.TripOn&^(1<<numClasses-1) != 0 {
		return nil, cfgErr("BreakerConfig.TripOn", "has an invalid class")
	}
	if cfg.TripOn == 0 {
		cfg.TripOn = SetOf(ClassTransient, ClassServerError)
	}
	if cfg.Clock != nil && isNil(cfg.Clock) {
		return nil, cfgErr("BreakerConfig.Clock", "holds a nil pointer (leave it nil for SystemClock)")
	}
	if cfg.Sync != nil && isNil(cfg.Sync) {
		return nil, cfgErr("BreakerConfig.Sync", "holds a nil pointer (leave it nil for a local breaker)")
	}
	if cfg.Clock == nil {
		cfg.Clock = SystemClock{}
	}
	b := &Breaker{
		name:      cfg.Name,
		threshold: int64(cfg.FailureThreshold),
		tripOn:    cfg.TripOn,
		ratio:     cfg.FailureRatio,
		minCalls:  int64(cfg.MinCalls),
		window:    cfg.Window,
		width:     int64(cfg.Window) / breakerBuckets,
		recovery:  cfg.RecoveryTimeout,
		probes:    int64(cfg.HalfOpenProbes),
		consecMax: int64(cfg.ConsecutiveFailures),
		rampUp:    int64(cfg.RampUp),
		clock:     cfg.Clock,
		bus:       cfg.Bus,
		pubNext:   1,
	}
	if cfg.Throttle != nil {
		tc := *cfg.Throttle
		if tc.Name == "" {
			tc.Name = cfg.Name
		}
		if tc.Clock == nil {
			tc.Clock = cfg.Clock
		}
		th, err := NewThrottler(tc)
		if err != nil {
			if ce, ok := err.(*ConfigError); ok {
				return nil, cfgErr("BreakerConfig.Throttle."+strings.TrimPrefix(ce.Field, "ThrottlerConfig."), ce.Reason)
			}
			return nil, err
		}
		b.throttler = th
	}
	b.attach(cfg.Bus)
	for c, n := range cfg.ClassThresholds {
		if !c.Valid() {
			return nil, cfgErr("BreakerConfig.ClassThresholds", "has an invalid class")
		}
		if n < 0 {
			return nil, cfgErr("BreakerConfig.ClassThresholds["+c.String()+"]", "must not be negative")
		}
		if n > 0 {
			b.classThresh[c] = int64(n)
			b.hasClassT = true
		}
	}
	b.epoch = cfg.Clock.Now()
	b.limit.Store(b.probes)
	return b, nil
}

// Name returns the breaker's name.
func (b *Breaker) Name() string { return b.name }

// State returns the current state. An open breaker whose recovery timeout
// has passed reports open until the next call moves it to half-open.
func (b *Breaker) State() BreakerState { return BreakerState(b.state.Load() & 3) }

// openFor returns how long the breaker will go on refusing calls: the time
// left before an open breaker lets probes through, zero otherwise.
func (b *Breaker) openFor() time.Duration {
	if BreakerState(b.state.Load()&3) != StateOpen {
		return 0
	}
	wait := b.openedAt.Load() + int64(b.recovery) - b.since(b.clock.Now())
	return time.Duration(max(wait, 0))
}

// Rejections returns the number of calls refused so far.
func (b *Breaker) Rejections() uint64 { return b.rejections.Load() }

func (b *Breaker) since(t time.Time) int64 { return int64(t.Sub(b.epoch)) }

// Permit is the admission of one call by a Breaker. Exactly one of Success,
// Failure or Cancel should be called when the call ends; calling none leaks
// a half-open probe slot until the breaker next changes state.
type Permit struct {
	b     *Breaker
	gen   uint64
	probe bool
	ramp  bool // a half-open permit of the ramp's share: no probe slot
}

// transition is a state change to publish after the lock is released, with
// emit. Every transition made (ok) must be emitted exactly once: seq orders
// them, and a transition never emitted would hold back every later one.
type transition struct {
	from, to BreakerState
	by       uint8 // 0: no transition; byBreaker or byAdopt
	seq      uint64
}

// Who made a transition: the breaker itself, or Adopt (not told to the
// link). One field, so that a transition stays four words in registers.
const (
	byBreaker = 1 + iota
	byAdopt
)

// made records a transition; b.mu must be held.
func (b *Breaker) made(from, to BreakerState) transition {
	b.seq++
	return transition{from: from, to: to, by: byBreaker, seq: b.seq}
}

// attach adds bus to the buses the breaker publishes its transitions on.
func (b *Breaker) attach(bus *Bus) {
	if bus == nil || b.serves(bus) {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.serves(bus) {
		return
	}
	var next []*Bus
	if cur := b.buses.Load(); cur != nil {
		next = append(next, *cur...)
	}
	next = append(next, bus)
	b.buses.Store(&next)
}

// serves reports whether bus is among the breaker's buses.
func (b *Breaker) serves(bus *Bus) bool {
	if cur := b.buses.Load(); cur != nil {
		for _, x := range *cur {
			if x == bus {
				return true
			}
		}
	}
	return false
}

// wants reports whether a bus the breaker serves wants the event of tr.
func (b *Breaker) wants(tr transition) bool {
	if tr.by == 0 {
		return false
	}
	if cur := b.buses.Load(); cur != nil {
		k := transitionKind(tr.to)
		for _, x := range *cur {
			if x.Wants(k) {
				return true
			}
		}
	}
	return false
}

// emit publishes tr, a transition this breaker made, on its buses, after
// every transition made before it. e is its event as the maker built it
// (policy, operation, labels), or nil for one naming the breaker only; the
// kind and states are set here. It does nothing for a zero transition.
func (b *Breaker) emit(ctx context.Context, tr transition, e *Event) {
	if tr.by == 0 {
		return
	}
	b.pubMu.Lock()
	if b.pubBusy || tr.seq != b.pubNext {
		// An earlier transition is being published, or is not yet emitted:
		// whoever publishes it publishes this one after it.
		q := queuedTransition{ctx: ctx, tr: tr}
		if e != nil {
			q.e, q.has = *e, true
		}
		b.pubQ = append(b.pubQ, q)
		b.pubMu.Unlock()
		return
	}
	b.pubBusy = true
	b.pubMu.Unlock()
	defer b.drain()
	b.deliver(ctx, tr, e)
}

// drain marks the transition just published as done, then publishes the
// next one in order if it is queued, or gives up the publisher's role. Each
// delivery defers the next drain, so the role is handed on even when a
// subscriber ends its goroutine (runtime.Goexit, which recover does not
// stop).
func (b *Breaker) drain() {
	b.pubMu.Lock()
	b.pubNext++
	i := slices.IndexFunc(b.pubQ, func(q queuedTransition) bool { return q.tr.seq == b.pubNext })
	if i < 0 {
		b.pubBusy = false
		b.pubMu.Unlock()
		return
	}
	q := b.pubQ[i]
	b.pubQ = slices.Delete(b.pubQ, i, i+1)
	b.pubMu.Unlock()
	defer b.drain()
	var e *Event
	if q.has {
		e = &q.e
	}
	b.deliver(q.ctx, q.tr, e)
}

// deliver tells the link of tr (when the breaker made it itself) and
// publishes its event on every bus that wants it.
func (b *Breaker) deliver(ctx context.Context, tr transition, e *Event) {
	if b.link != nil && tr.by == byBreaker {
		bt := BreakerTransition{From: tr.from, To: tr.to}
		if tr.to == StateOpen {
			bt.OpenFor = b.recovery
		}
		b.link.Transitioned(bt)
	}
	cur := b.buses.Load()
	if cur == nil {
		return
	}
	k := transitionKind(tr.to)
	var own Event
	for _, bus := range *cur {
		if !bus.Wants(k) {
			continue
		}
		if e == nil {
			own = Event{Policy: b.name}
			e = &own
		}
		e.Kind, e.Breaker, e.BreakerState, e.PrevBreakerState = k, b, tr.to, tr.from
		bus.publish(ctx, e)
	}
}

// Allow asks whether a call may proceed now. It returns a *CircuitOpenError
// when the breaker refuses.
func (b *Breaker) Allow() (Permit, error) {
	if p, ok := b.closedPermit(); ok && b.throttler == nil {
		return p, nil // closed, not held, nothing to throttle: no transition, no event
	}
	return b.allowSlow()
}

// allowSlow is Allow past a closed breaker without a throttler.
func (b *Breaker) allowSlow() (Permit, error) {
	p, err, tr := b.allow()
	if err == nil {
		if err = b.throttle(p); err != nil {
			p = Permit{}
		}
	}
	b.publishStandalone(tr, err)
	return p, err
}

// closedPermit returns a permit and true when the breaker is closed (one
// atomic load, inlined); else allow decides.
func (b *Breaker) closedPermit() (Permit, bool) {
	s := b.state.Load()
	return Permit{b: b, gen: s >> 2}, BreakerState(s&3) == StateClosed && b.holdUntil.Load() == 0
}

// Hold makes the breaker refuse calls for d, with a *HeldError carrying
// the wait that remains, whatever its state: the downstream asked callers
// to wait (a 429 or 503 with Retry-After, a gRPC pushback). A policy holds
// its call's breaker on such a failure by itself; a standalone user calls
// Hold. A hold never shortens one in force. d ≤ 0 does nothing.
func (b *Breaker) Hold(d time.Duration) { b.hold(d) }

// hold is Hold; it returns the end of the hold now in force (ns since
// epoch), 0 when d ≤ 0.
func (b *Breaker) hold(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	until := b.since(b.clock.Now()) + int64(d)
	for {
		cur := b.holdUntil.Load()
		if cur >= until {
			return cur
		}
		if b.holdUntil.CompareAndSwap(cur, until) {
			return until
		}
	}
}

// Failing reports whether the breaker's downstream is failing now: the
// breaker is open or half-open, held, or saw a TripOn failure within its
// Window. Cheap when no such failure is recent (one atomic load);
// otherwise it reads the clock. Wrappers use it to pay for something only
// while a downstream fails (redresshttp's attempt marker).
func (b *Breaker) Failing() bool {
	lf := b.lastFail.Load()
	if lf == 0 {
		return false
	}
	if BreakerState(b.state.Load()&3) != StateClosed || b.holdUntil.Load() != 0 {
		return true
	}
	if b.since(b.clock.Now())-lf < int64(b.window) {
		return true
	}
	// The failure has left the window: forget it, so that a healthy
	// breaker's callers read no clock again until the next one.
	b.lastFail.CompareAndSwap(lf, 0)
	return false
}

// HeldFor returns the wait that remains of the hold in force now (see
// Hold), 0 for none. Code that shares holds beyond the process
// (contrib/redis) reads it.
func (b *Breaker) HeldFor() time.Duration { return b.heldFor() }

// heldFor returns the wait that remains of a hold now (0 for none).
func (b *Breaker) heldFor() time.Duration {
	if b.holdUntil.Load() == 0 {
		return 0
	}
	return b.held(b.since(b.clock.Now()))
}

// held returns the wait that remains of a hold at t (ns since epoch), or
// 0 when none is in force (clearing one that has elapsed).
func (b *Breaker) held(t int64) time.Duration {
	h := b.holdUntil.Load()
	if h == 0 {
		return 0
	}
	if t < h {
		return time.Duration(h - t)
	}
	b.holdUntil.CompareAndSwap(h, 0)
	return 0
}

// allow is Allow without publishing: the caller emits the transition it
// returns (at most one: open to half-open).
func (b *Breaker) allow() (Permit, error, transition) {
	if b.holdUntil.Load() != 0 {
		if wait := b.held(b.since(b.clock.Now())); wait > 0 {
			b.rejections.Add(1)
			return Permit{}, &HeldError{Breaker: b.name, RetryIn: wait}, transition{}
		}
	}
	return b.allowState()
}

// allowState is allow without the hold: the admission of the breaker's
// state alone.
func (b *Breaker) allowState() (Permit, error, transition) {
	for {
		s := b.state.Load()
		switch BreakerState(s & 3) {
		case StateClosed:
			return Permit{b: b, gen: s >> 2}, nil, transition{}
		case StateOpen:
			now := b.since(b.clock.Now())
			wait := b.openedAt.Load() + int64(b.recovery) - now
			if wait > 0 {
				b.rejections.Add(1)
				return Permit{}, &CircuitOpenError{Breaker: b.name, State: StateOpen, RetryIn: time.Duration(wait)}, transition{}
			}
			b.mu.Lock()
			if b.state.Load() != s {
				b.mu.Unlock()
				continue // another call moved it first
			}
			limit := b.probes
			if b.link != nil {
				n, retry := b.link.Probes(int(b.probes))
				if n <= 0 {
					// Another process probes for the fleet: stay open.
					b.mu.Unlock()
					b.rejections.Add(1)
					return Permit{}, &CircuitOpenError{Breaker: b.name, State: StateOpen, RetryIn: max(retry, 0)}, transition{}
				}
				limit = min(int64(n), b.probes)
			}
			b.limit.Store(limit)
			b.inflight.Store(1) // this call's probe
			b.halfAt.Store(now)
			b.rampOK, b.rampFail = 0, 0
			half := ((s>>2)+1)<<2 | uint64(StateHalfOpen)
			b.state.Store(half)
			tr := b.made(StateOpen, StateHalfOpen)
			b.mu.Unlock()
			return Permit{b: b, gen: half >> 2, probe: true}, nil, tr
		default: // half-open
			if b.inflight.Add(1) <= b.limit.Load() && b.state.Load() == s {
				return Permit{b: b, gen: s >> 2, probe: true}, nil, transition{}
			}
			b.inflight.Add(-1)
			if b.rampUp > 0 && b.rampAdmits(b.since(b.clock.Now())) && b.state.Load() == s {
				// Beyond the probes, the ramp's share: a permit that
				// holds no probe slot, whose verdict counts all the same.
				return Permit{b: b, gen: s >> 2, probe: true, ramp: true}, nil, transition{}
			}
			// Probes that never report (a permit dropped without Success,
			// Failure or Cancel) must not wedge the breaker: after a recovery
			// timeout without a verdict, a new probe period begins (not a
			// transition: the breaker stays half-open).
			// (With RampUp the ramp admits every call once it is over, and
			// their verdicts move the breaker.)
			if now := b.since(b.clock.Now()); b.rampUp == 0 && now-b.halfAt.Load() >= int64(b.recovery) {
				b.mu.Lock()
				if b.state.Load() == s {
					if b.link != nil {
						// A new probe period needs the fleet's leave too.
						n, retry := b.link.Probes(int(b.probes))
						if n <= 0 {
							b.mu.Unlock()
							b.rejections.Add(1)
							return Permit{}, &CircuitOpenError{Breaker: b.name, State: StateHalfOpen, RetryIn: max(retry, 0)}, transition{}
						}
						b.limit.Store(min(int64(n), b.probes))
					}
					b.inflight.Store(0)
					b.halfAt.Store(now)
					b.state.Store(((s>>2)+1)<<2 | uint64(StateHalfOpen))
				}
				b.mu.Unlock()
				continue
			}
			b.rejections.Add(1)
			return Permit{}, &CircuitOpenError{Breaker: b.name, State: StateHalfOpen}, transition{}
		}
	}
}

// Success records that the admitted call succeeded.
func (p Permit) Success() {
	if b := p.b; b != nil && !p.probe && b.throttler == nil {
		b.closedSuccess() // no transition, no event
		return
	}
	p.succeeded()
}

// succeeded is Success for a probe's permit, or a breaker with a
// throttler.
func (p Permit) succeeded() {
	if p.b == nil {
		return
	}
	p.b.throttleSuccess()
	p.b.publishStandalone(p.success(), nil)
}

// Failure records that the admitted call failed with class c.
func (p Permit) Failure(c Class) {
	if p.b == nil {
		return
	}
	p.b.throttleFailure(c)
	p.b.publishStandalone(p.failure(c, p.b.clock.Now()), nil)
}

// Cancel records that the call ended without a verdict on the downstream
// (the caller gave up): it counts neither way and frees its probe slot.
func (p Permit) Cancel() {
	if p.b != nil && p.probe && !p.ramp && p.b.state.Load()>>2 == p.gen {
		p.b.inflight.Add(-1)
	}
}

func (p Permit) success() transition {
	if p.probe {
		return p.probeSucceeded()
	}
	p.b.closedSuccess()
	return transition{}
}

// closedSuccess is success for a permit of the closed breaker b (inlined).
// A healthy call breaks a run of consecutive failures (read first: the
// success path of a healthy breaker writes nothing shared for it).
func (b *Breaker) closedSuccess() {
	if b.ratio > 0 {
		b.pending.Add(1)
	}
	if b.consecMax > 0 && b.consec.Load() != 0 {
		b.consec.Store(0)
	}
}

// rampAdmits reports whether a call at t (ns since epoch), beyond the
// half-open probes, falls in the ramp's share: the time since the
// breaker went half-open over RampUp.
func (b *Breaker) rampAdmits(t int64) bool {
	el := t - b.halfAt.Load()
	if el >= b.rampUp {
		return true
	}
	return el > 0 && rand.Int64N(b.rampUp) < el
}

// probeSucceeded is success for a half-open probe.
func (p Permit) probeSucceeded() transition {
	b := p.b
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.state.Load()
	if s>>2 != p.gen || BreakerState(s&3) != StateHalfOpen {
		return transition{}
	}
	t := b.since(b.clock.Now())
	if b.rampUp > 0 && t-b.halfAt.Load() < b.rampUp {
		// Still ramping: the probe's slot serves the next call.
		b.rampOK++
		if !p.ramp {
			b.inflight.Add(-1)
		}
		return transition{}
	}
	b.reset(t)
	b.state.Store((p.gen+1)<<2 | uint64(StateClosed))
	return b.made(StateHalfOpen, StateClosed)
}

func (b *Breaker) trips(c Class) bool {
	return b.tripOn.Has(c) || (c.Valid() && b.classThresh[c] > 0)
}

func (p Permit) failure(c Class, now time.Time) transition {
	b := p.b
	if !b.trips(c) {
		// The downstream answered: healthy for the breaker.
		return p.success()
	}
	t := b.since(now)
	if b.tripOn.Has(c) {
		b.lastFail.Store(max(t, 1))
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.state.Load()
	if s>>2 != p.gen {
		return transition{}
	}
	switch BreakerState(s & 3) {
	case StateHalfOpen:
		if b.rampUp > 0 {
			// Ramping: a downstream with a few failures of its own must
			// not flap the breaker; it reopens once failures are the
			// majority of the period's verdicts (at least HalfOpenProbes
			// of them, and 3).
			b.rampFail++
			if b.rampFail < max(b.probes, 3) || b.rampFail <= b.rampOK {
				if !p.ramp {
					b.inflight.Add(-1)
				}
				return transition{}
			}
		}
		b.open(p.gen, t)
		return b.made(StateHalfOpen, StateOpen)
	case StateClosed:
		if b.consecMax > 0 && b.tripOn.Has(c) && b.consec.Add(1) >= b.consecMax {
			b.open(p.gen, t)
			return b.made(StateClosed, StateOpen)
		}
		b.fold(t)
		bk := b.bucket(t)
		bk.calls++
		if b.tripOn.Has(c) {
			bk.failures++
		}
		if c.Valid() {
			bk.byClass[c]++
		}
		if b.shouldOpen(t, c) {
			b.open(p.gen, t)
			return b.made(StateClosed, StateOpen)
		}
	}
	return transition{}
}

// open moves to open; b.mu must be held.
func (b *Breaker) open(gen uint64, t int64) {
	b.openedAt.Store(t)
	b.state.Store((gen+1)<<2 | uint64(StateOpen))
}

// reset clears the window and the throttler's; b.mu must be held.
func (b *Breaker) reset(t int64) {
	b.buckets = [breakerBuckets]breakerBucket{}
	b.pending.Store(0)
	b.consec.Store(0)
	b.lastFold = t
	if b.throttler != nil {
		b.throttler.reset()
	}
}

// Throttler returns the breaker's throttler (BreakerConfig.Throttle), or
// nil.
func (b *Breaker) Throttler() *Throttler { return b.throttler }

// throttle returns a *ThrottledError when the breaker's throttler rejects
// a call its closed state admitted (p), else nil.
func (b *Breaker) throttle(p Permit) error {
	if b.throttler == nil || p.probe {
		return nil
	}
	if ok, prob := b.throttler.allow(); !ok {
		return &ThrottledError{Throttler: b.throttler.name, Probability: prob}
	}
	return nil
}

// throttleSuccess records an accepted attempt in the breaker's throttler.
func (b *Breaker) throttleSuccess() {
	if b.throttler != nil {
		b.throttler.Record(true)
	}
}

// throttleFailure records a failed attempt of class c in the breaker's
// throttler: not accepted when it counts against the downstream's health,
// and not at all when the breaker trips on it (an outage is the breaker's
// to handle: a throttler counting it would starve the breaker of the
// failures it opens on, and recover slower than its ramp).
func (b *Breaker) throttleFailure(c Class) {
	if b.throttler != nil && !b.trips(c) {
		b.throttler.Record(!againstHealth(c))
	}
}

// bucket returns the bucket for time t, clearing it if it held an older
// interval; b.mu must be held.
func (b *Breaker) bucket(t int64) *breakerBucket {
	e := t / b.width
	bk := &b.buckets[int(uint64(e)%breakerBuckets)]
	if bk.epoch != e {
		*bk = breakerBucket{epoch: e}
	}
	return bk
}

// fold moves the lock-free healthy-call count into the window, spread evenly
// since the last fold; b.mu must be held.
func (b *Breaker) fold(t int64) {
	n := b.pending.Swap(0)
	if n > 0 {
		if dt := t - b.lastFold; dt > int64(b.window) {
			n = int64(float64(n) * float64(b.window) / float64(dt))
		}
		b.bucket(t).calls += n
	}
	b.lastFold = t
}

// shouldOpen evaluates the thresholds over the window; b.mu must be held.
func (b *Breaker) shouldOpen(t int64, c Class) bool {
	cur := t / b.width
	var calls, failures, byClass int64
	for i := range b.buckets {
		bk := &b.buckets[i]
		if bk.epoch > cur-breakerBuckets && bk.epoch <= cur {
			calls += bk.calls
			failures += bk.failures
			if c.Valid() {
				byClass += bk.byClass[c]
			}
		}
	}
	if c.Valid() && b.classThresh[c] > 0 && byClass >= b.classThresh[c] {
		return true
	}
	if !b.tripOn.Has(c) {
		return false
	}
	if b.threshold > 0 && failures >= b.threshold {
		return true
	}
	return b.ratio > 0 && calls >= b.minCalls && float64(failures) >= b.ratio*float64(calls)
}

// Reset forces the breaker closed and clears its window.
func (b *Breaker) Reset() {
	b.mu.Lock()
	s := b.state.Load()
	from := BreakerState(s & 3)
	b.reset(b.since(b.clock.Now()))
	b.state.Store(((s>>2)+1)<<2 | uint64(StateClosed))
	var tr transition
	if from != StateClosed {
		tr = b.made(from, StateClosed)
	}
	b.mu.Unlock()
	b.publishStandalone(tr, nil)
}

func transitionKind(to BreakerState) EventKind {
	switch to {
	case StateOpen:
		return EventCircuitOpened
	case StateHalfOpen:
		return EventCircuitHalfOpen
	}
	return EventCircuitClosed
}

// publishStandalone emits tr and publishes a standalone rejection on the
// breaker's own bus.
func (b *Breaker) publishStandalone(tr transition, rejected error) {
	b.emit(context.Background(), tr, nil)
	if rejected == nil {
		return
	}
	r := rejectionReason(rejected)
	if k := r.Event(); b.bus.Wants(k) {
		b.bus.Publish(context.Background(), Event{
			Kind: k, Policy: b.name, Breaker: b, Err: rejected,
			StopReason: r, Outcome: OutcomeRejected, BreakerState: b.State(),
		})
	}
}
