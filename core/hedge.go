package core

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// HedgeConfig configures a Hedger.
type HedgeConfig struct {
	// Name names the hedger in String. Default "hedge".
	Name string
	// Delay is how long an attempt runs before a hedge is sent beside it,
	// and between one hedge and the next. Must be positive. With a
	// Percentile it is the floor of the delay, and the delay until the
	// hedger has seen enough attempts.
	Delay time.Duration
	// Percentile, if set, makes the delay that percentile of the recent
	// attempts' latencies (0.95: a hedge goes out once an attempt is
	// slower than 95% of the recent ones), never less than Delay. It must
	// be in (0, 1). Zero: the delay is Delay, fixed.
	Percentile float64
	// Window is how many recent attempts the Percentile is taken over.
	// Default 1000. The percentile applies once min(Window, 100)
	// attempts have been seen, and is taken again every Window/4
	// attempts. Without a Percentile it is unused.
	Window int
	// MaxHedges is how many hedges an attempt may have at most, beside
	// itself. Default 1.
	MaxHedges int
}

// Hedger sends hedges of slow attempts (PolicyConfig.Hedge): when an
// attempt has run for the hedge delay without an answer, a copy of it is
// sent beside it, and another after each further delay, up to MaxHedges;
// the first acceptable answer is taken and the other copies' contexts are
// cancelled. An answer is acceptable when it is a success (that the
// policy's Retry.ResultClassifier accepts) or a failure whose class says
// nothing against the downstream's health (permanent, permission, auth,
// concurrency: not transient, server_error, rate_limit or unknown). When
// no copy answers acceptably the group's result is the first copy's.
//
// The hedged group is one attempt for the rest of the policy: one breaker
// permit and verdict, one concurrency slot, one attempt in the retry loop.
// Each hedge costs a token of the policy's retry budget, when it has one,
// and is not sent without one. The engine waits for every copy to return
// before it ends the attempt: no copy outlives its call.
//
// The copies run concurrently: the operation must be safe to call from
// several goroutines at once, and safe to send more than once. The first
// copy's context is the group's own (a hedge that wins cancels it); it
// stays valid after the call, as any context does.
//
// Hedges are timed on the time package's timers (testing/synctest makes
// them virtual), not on the policy's Clock. A Hedger keeps the latency
// window of its Percentile: share one between the policies that call one
// downstream, or give each its own. It is safe for concurrent use.
type Hedger struct {
	name       string
	delay      time.Duration
	pct        float64
	maxHedges  int
	cur        atomic.Int64 // the delay in force, ns
	samples    []atomic.Int64
	next       atomic.Uint64 // samples recorded
	every      uint64        // recompute the percentile every so many samples
	minSamples uint64
	timers     sync.Pool  // *hedgeTimer: a timer and a results channel no call holds
	mu         sync.Mutex // held to recompute
	scratch    []int64
}

// NewHedger returns a hedger, or a *ConfigError naming the first invalid
// field.
func NewHedger(cfg HedgeConfig) (*Hedger, error) {
	switch {
	case cfg.Delay <= 0:
		return nil, cfgErr("HedgeConfig.Delay", "must be positive")
	case cfg.Percentile < 0 || cfg.Percentile >= 1 || cfg.Percentile != cfg.Percentile:
		return nil, cfgErr("HedgeConfig.Percentile", "must be in (0, 1), or 0 for a fixed Delay")
	case cfg.Window < 0:
		return nil, cfgErr("HedgeConfig.Window", "must not be negative")
	case cfg.MaxHedges < 0:
		return nil, cfgErr("HedgeConfig.MaxHedges", "must not be negative")
	}
	if cfg.Name == "" {
		cfg.Name = "hedge"
	}
	if cfg.MaxHedges == 0 {
		cfg.MaxHedges = 1
	}
	if cfg.Window == 0 {
		cfg.Window = 1000
	}
	h := &Hedger{name: cfg.Name, delay: cfg.Delay, pct: cfg.Percentile, maxHedges: cfg.MaxHedges}
	h.cur.Store(int64(cfg.Delay))
	if h.pct > 0 {
		h.samples = make([]atomic.Int64, cfg.Window)
		h.scratch = make([]int64, cfg.Window)
		h.every = uint64(max(cfg.Window/4, 1))
		h.minSamples = uint64(min(cfg.Window, 100))
	}
	return h, nil
}

// Delay returns the hedge delay in force: Delay, or the Percentile of the
// recent attempts' latencies when that is longer.
func (h *Hedger) Delay() time.Duration { return time.Duration(h.cur.Load()) }

// MaxHedges returns how many hedges an attempt may have.
func (h *Hedger) MaxHedges() int { return h.maxHedges }

// String describes the hedger.
func (h *Hedger) String() string {
	s := "hedger " + strconv.Quote(h.name) + " (after " + h.delay.String()
	if h.pct > 0 {
		s += " or p" + strconv.FormatFloat(h.pct*100, 'g', -1, 64) + " of " + strconv.Itoa(len(h.samples)) + " attempts"
	}
	return s + ", up to " + strconv.Itoa(h.maxHedges) + " hedges)"
}

// observe records the latency d of an attempt's first copy (cut short
// when a hedge won: a copy cut after the delay is still above the
// percentile, which depends only on how many samples lie above it).
func (h *Hedger) observe(d time.Duration) {
	n := h.next.Add(1)
	h.samples[(n-1)%uint64(len(h.samples))].Store(int64(d))
	if n >= h.minSamples && (n == h.minSamples || n%h.every == 0) && h.mu.TryLock() {
		h.recompute(min(n, uint64(len(h.samples))))
		h.mu.Unlock()
	}
}

// recompute sets the delay in force from the n samples of the window.
func (h *Hedger) recompute(n uint64) {
	buf := h.scratch[:n]
	for i := range buf {
		buf[i] = h.samples[i].Load()
	}
	k := int(h.pct * float64(len(buf)))
	// A nanosecond past the sample: a hedge goes out once the attempt is
	// slower than it, never at the instant an attempt as slow ends.
	h.cur.Store(max(selectKth(buf, min(k, len(buf)-1))+1, int64(h.delay)))
}

// selectKth returns the k-th smallest of a (reordering it): Hoare's
// quickselect, median-of-three pivot.
func selectKth(a []int64, k int) int64 {
	lo, hi := 0, len(a)-1
	for lo < hi {
		mid := lo + (hi-lo)/2
		if a[mid] < a[lo] {
			a[mid], a[lo] = a[lo], a[mid]
		}
		if a[hi] < a[lo] {
			a[hi], a[lo] = a[lo], a[hi]
		}
		if a[hi] < a[mid] {
			a[hi], a[mid] = a[mid], a[hi]
		}
		p := a[mid]
		i, j := lo, hi
		for i <= j {
			for a[i] < p {
				i++
			}
			for a[j] > p {
				j--
			}
			if i <= j {
				a[i], a[j] = a[j], a[i]
				i++
				j--
			}
		}
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return a[k]
		}
	}
	return a[k]
}

// hedgeResult is what a hedge returned.
type hedgeResult struct {
	n   int
	v   any
	err error
}

// hedgeGroup is one hedged attempt: the first copy runs on the caller's
// goroutine, on the group itself as its context (so that a winning hedge
// can cancel it), the hedges on goroutines the group's timer starts. A
// group is made per call.
type hedgeGroup struct {
	parent context.Context // the attempt's context
	h      *Hedger
	p      *Policy
	ht     *hedgeTimer
	delay  time.Duration

	mu        sync.Mutex
	done      chan struct{} // made by the first Done; closed when the first copy is cancelled
	err       error         // why done was closed
	closed    bool          // done is closed
	watching  bool          // stop watches the parent
	stop      func() bool   // stops the parent watch
	over      bool          // the first copy has returned: no further hedge
	sent      int           // hedges sent
	decided   bool
	winner    int // the copy whose answer is taken, 0 the first
	cancels   []context.CancelFunc
	remaining []float64 // the budget's balance after each hedge's token, -1 without a budget
	fn        any       // func(context.Context) (T, error), func(context.Context, int) (T, error) or func(context.Context) error
	start     hedgeStarter
	publish   bool // the bus wants hedge or hedge_won
	valued    bool // the copies' values go to the ResultClassifier
}

// Deadline implements context.Context: the attempt's.
func (g *hedgeGroup) Deadline() (time.Time, bool) { return g.parent.Deadline() }

// Value implements context.Context: the attempt's.
func (g *hedgeGroup) Value(key any) any { return g.parent.Value(key) }

// Done implements context.Context: closed when the attempt's context
// ends or a hedge's answer is taken.
func (g *hedgeGroup) Done() <-chan struct{} {
	g.mu.Lock()
	if g.done == nil {
		if g.closed {
			g.done = closedChan
		} else {
			g.done = make(chan struct{})
		}
	}
	if !g.watching && !g.closed && g.parent.Done() != nil {
		g.watching = true
		g.stop = context.AfterFunc(g.parent, g.parentDone)
	}
	d := g.done
	g.mu.Unlock()
	return d
}

// closedChan is the Done of a group cancelled before anyone asked for it.
var closedChan = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

// hedgeTimer is what a hedged call borrows from its Hedger and gives back
// when no hedge was sent: the timer that sends the hedges (armed for the
// group g) and the channel the hedges report on. The group itself, the
// first copy's context, is made per call: an operation may keep its
// context past its return.
type hedgeTimer struct {
	t       *time.Timer
	g       atomic.Pointer[hedgeGroup]
	results chan hedgeResult
	ev      Event // the template of the group's events (the caller's goroutine only)
}

func (ht *hedgeTimer) fire() {
	if g := ht.g.Load(); g != nil {
		g.fire()
	}
}

// Err implements context.Context.
func (g *hedgeGroup) Err() error {
	g.mu.Lock()
	err := g.err
	g.mu.Unlock()
	if err != nil {
		return err
	}
	return g.parent.Err()
}

// String names the context (as the context package's do).
func (g *hedgeGroup) String() string { return "redress.hedgeGroup" }

func (g *hedgeGroup) parentDone() {
	g.mu.Lock()
	g.cancelFirst(g.parent.Err())
	g.mu.Unlock()
}

// cancelFirst cancels the first copy with err; g.mu is held.
func (g *hedgeGroup) cancelFirst(err error) {
	if !g.closed {
		g.closed = true
		g.err = err
		if g.done != nil {
			close(g.done)
		}
	}
}

// fire sends the next hedge, if the group still wants one and the budget
// grants it, and arms the timer for the one after; it runs on the timer's
// goroutine, and publishes nothing (the caller publishes the hedges sent
// once the first copy has returned, on its own goroutine).
func (g *hedgeGroup) fire() {
	g.mu.Lock()
	if g.over || g.decided || g.sent >= g.h.maxHedges || g.parent.Err() != nil {
		g.mu.Unlock()
		return
	}
	remaining := -1.0
	if b := g.p.budget; b != nil {
		ok, rem, _ := b.withdraw()
		if !ok {
			g.mu.Unlock()
			return // no token, no hedge (a token taken is spent: hedges are not refunded)
		}
		remaining = rem
	}
	g.sent++
	n := g.sent
	ctx, cancel := context.WithCancel(g.parent)
	g.cancels = append(g.cancels, cancel)
	g.remaining = append(g.remaining, remaining)
	g.mu.Unlock()
	g.start.start(g, ctx, n)
	if n < g.h.maxHedges {
		g.ht.t.Reset(g.delay)
	}
}

// report records hedge n's answer: an acceptable one, first, wins, and
// the other copies are cancelled.
func (g *hedgeGroup) report(n int, v any, err error, ok bool) {
	g.mu.Lock()
	if ok && !g.decided {
		g.decided, g.winner = true, n
		g.cancelFirst(context.Canceled)
		for i, c := range g.cancels {
			if i+1 != n {
				c()
			}
		}
	}
	g.mu.Unlock()
	g.ht.results <- hedgeResult{n: n, v: v, err: err}
}

// hedgeStarter starts hedge n of a group on ctx.
type hedgeStarter interface {
	start(g *hedgeGroup, ctx context.Context, n int)
}

// starter is the hedgeStarter of a group whose copies return T (an
// empty value: storing it allocates nothing, where a generic function
// value would).
type starter[T any] struct{}

func (starter[T]) start(g *hedgeGroup, ctx context.Context, n int) {
	fn, p, valued := g.fn, g.p, g.valued
	go func() {
		var v T
		var err error
		ok := false
		defer func() {
			// A panic on a hedge's goroutine would end the process: it
			// becomes the hedge's failure (never its answer), and the
			// group still hears from every hedge it sent.
			if r := recover(); r != nil {
				err, ok = fmt.Errorf("redress: hedge %d of policy %q panicked: %v", n, p.name, r), false
			}
			g.report(n, v, err, ok)
		}()
		v, err = callCopy[T](fn, ctx, n)
		ok = p.acceptable(v, err, valued)
	}()
}

// callCopy calls fn, one of the attempt's three shapes, for copy n.
func callCopy[T any](fn any, ctx context.Context, n int) (v T, err error) {
	switch f := fn.(type) {
	case func(context.Context) (T, error):
		return f(ctx)
	case func(context.Context, int) (T, error):
		return f(ctx, n)
	case func(context.Context) error:
		return v, f(ctx)
	}
	panic("redress: hedged attempt of an unexpected type")
}

// acceptable reports whether an answer of a copy ends its hedged group:
// a success the result classifier accepts, or a failure that says
// nothing against the downstream's health.
func (p *Policy) acceptable(v any, err error, valued bool) bool {
	if err == nil {
		// Run's attempts have no value: its ResultClassifier is not asked,
		// as without hedging.
		return !valued || p.resultCl == nil || p.resultCl(v) == nil
	}
	if IsAbort(err) {
		return true // the caller's code asked to stop
	}
	cl := p.classify(err)
	return cl.Class.Valid() && !againstHealth(cl.Class)
}

// hedged runs the attempt Next admitted as a hedged group of the policy's
// Hedger: fn is the attempt (a func(context.Context) (T, error), a
// func(context.Context, int) (T, error), told the copy's number, or a
// func(context.Context) error); discard (if set) releases the value of a
// copy whose answer is not taken; valued: the copies' values go to the
// policy's ResultClassifier (false for Run, whose attempts have none). The
// group is allocated per call, never recycled: the first copy's context
// is the group, and an operation may keep its context past its return (a
// goroutine it started, a logger).
func hedged[T any](s *Step, fn any, discard func(T), valued bool) (T, error) {
	h := s.p.hedger
	ht, _ := h.timers.Get().(*hedgeTimer)
	if ht == nil {
		ht = &hedgeTimer{results: make(chan hedgeResult, h.maxHedges)}
	}
	g := &hedgeGroup{h: h, ht: ht, valued: valued}
	delay := h.Delay()
	g.parent, g.p, g.delay, g.start, g.fn = s.actx, s.p, delay, starter[T]{}, fn
	g.publish = s.mask.Has(EventHedge) || s.mask.Has(EventHedgeWon)
	if g.publish {
		s.event(&g.ht.ev, EventHedge, s.attempt)
	}
	// Armed once the group is set: the timer's goroutine reads it.
	ht.g.Store(g)
	if ht.t == nil {
		ht.t = time.AfterFunc(delay, ht.fire)
	} else {
		ht.t.Reset(delay)
	}
	var t0 time.Duration
	if h.pct > 0 {
		t0 = time.Since(monoEpoch)
	}
	returned := false
	defer func() {
		if !returned {
			abandon(g, discard) // the first copy panicked
		}
	}()
	v, err := callCopy[T](fn, g, 0)
	returned = true
	if h.pct > 0 {
		h.observe(time.Since(monoEpoch) - t0)
	}
	g.mu.Lock()
	g.over = true
	sent := g.sent
	if sent == 0 {
		if g.watching {
			g.stop()
		}
		g.cancelFirst(context.Canceled) // the attempt is over, as its timeout's context would say
		g.mu.Unlock()
		if ht.t.Stop() {
			// The timer will not fire: no hedge was or will be sent, and the
			// results channel is empty. (Once a hedge was sent, fire may
			// still re-arm the timer: it is not given back.)
			ht.g.Store(nil)
			if g.publish {
				ht.ev = Event{} // drop what the event template refers to
			}
			h.timers.Put(ht)
		}
		return v, err
	}
	if !g.decided && s.p.acceptable(v, err, valued) {
		g.decided, g.winner = true, 0
		for _, c := range g.cancels {
			c()
		}
	}
	g.mu.Unlock()
	ht.t.Stop()
	// The bus delivers on the caller's goroutine: the hedges sent are
	// published now, in order, before any hedge_won.
	if g.publish && s.mask.Has(EventHedge) {
		for i, rem := range g.remaining[:sent] {
			e := g.ht.ev
			e.Kind, e.Hedge = EventHedge, i+1
			if rem >= 0 {
				e.BudgetRemaining = rem
			}
			s.p.bus.publish(s.actx, &e)
		}
	}
	// Every hedge sent reports once; after the last, the winner is known.
	var hv T
	var herr error
	hn := 0
	for range sent {
		r := <-g.ht.results
		g.mu.Lock()
		won := g.decided && g.winner == r.n
		g.mu.Unlock()
		if won {
			hv, _ = r.v.(T) // a nil interface for a T that is one
			herr, hn = r.err, r.n
			continue
		}
		if discard != nil {
			if rv, ok := r.v.(T); ok {
				discard(rv)
			}
		}
	}
	g.mu.Lock()
	if g.watching {
		g.stop()
	}
	g.cancelFirst(context.Canceled)
	for _, c := range g.cancels {
		c()
	}
	g.mu.Unlock()
	if hn == 0 {
		return v, err // the first copy's answer: taken, or none was acceptable
	}
	if discard != nil {
		discard(v)
	}
	if g.publish && s.mask.Has(EventHedgeWon) {
		e := g.ht.ev
		e.Kind, e.Hedge = EventHedgeWon, hn
		s.p.bus.publish(s.actx, &e)
	}
	return hv, herr
}

// abandon ends a group whose first copy panicked: no further hedge, the
// hedges sent cancelled and waited for, their values discarded; the panic
// goes on.
func abandon[T any](g *hedgeGroup, discard func(T)) {
	g.mu.Lock()
	g.over = true
	g.decided, g.winner = true, -1 // no hedge's answer is taken
	g.cancelFirst(context.Canceled)
	if g.watching {
		g.stop()
	}
	for _, c := range g.cancels {
		c()
	}
	sent := g.sent
	g.mu.Unlock()
	g.ht.t.Stop()
	for range sent {
		r := <-g.ht.results
		if rv, ok := r.v.(T); ok && discard != nil {
			discard(rv)
		}
	}
}

// Hedged runs the attempt of s that Next admitted as a hedged group, when
// the policy has a Hedger (PolicyConfig.Hedge), and returns the answer
// taken; without one it returns attempt(s.Context(), 0). attempt is called
// once per copy, with the copy's own context and its number (0 for the
// first copy, n for hedge n), the first on the caller's goroutine, the
// hedges on their own: it must not touch the Step, and must be safe to
// run concurrently. discard, if set, is given the value of every copy
// whose answer is not taken (a wrapper closes a response body there).
// Call it between Next and End, then End the attempt with the error it
// returned; a wrapper calls it only for what is safe to send more than
// once.
func Hedged[T any](s *Step, attempt func(ctx context.Context, hedge int) (T, error), discard func(T)) (T, error) {
	if s.p == nil || s.p.hedger == nil || s.phase != stepAttempt {
		return attempt(s.actx, 0)
	}
	return hedged(s, attempt, discard, true)
}

// Hedging reports whether the policy hedges its attempts (it has a
// Hedger).
func (p *Policy) Hedging() bool { return p != nil && p.hedger != nil }
