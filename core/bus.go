package core

import (
	"context"
	"fmt"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
)

// Subscriber receives events from a Bus. It is the back end of the engine's
// telemetry, in the manner of slog.Handler: Events is the fast path asked
// once when the subscriber is added, so an event nobody wants is never built.
//
// Handle is called synchronously, in subscription order, on the goroutine of
// the call being observed. It must be quick: put a slow sink behind NewAsync.
// It must not call back into the policy that published the event. A panic in
// Handle is recovered and reported to the bus's panic handler; the call goes on.
type Subscriber interface {
	// Events returns the set of events the subscriber wants. It is read once,
	// when the subscriber is added to a bus.
	Events() EventSet
	// Handle receives one event. ctx is the operation's context (for
	// attempt_start and attempt_end, the attempt's), as decorated by the
	// subscribers before it.
	Handle(ctx context.Context, e Event)
}

// ContextDecorator is an optional interface of a Subscriber that wants to put
// something into the context of an operation and of each attempt (the OTel
// subscriber puts its spans there, so that client spans made inside an
// attempt are their children). For operation_start and attempt_start events
// the bus calls Decorate instead of Handle, and the context it returns is the
// one the operation (or the attempt) then runs with.
type ContextDecorator interface {
	// Decorate handles e and returns the context the operation or attempt
	// runs with (ctx itself, or one derived from it; nil means ctx).
	Decorate(ctx context.Context, e Event) context.Context
}

// DurationFree is an optional interface of a Subscriber that never reads an
// event's AttemptDuration or Elapsed: one that makes spans (the tracer times
// them itself) or only counts events. When every subscriber of a bus that
// wants attempt_end, retry or terminal events is DurationFree and says
// true, the engine skips the clock reads those durations need (unless a
// deadline, a timeline or Execute's Outcome needs them) and the events carry
// zero durations (OnAttempt hooks still get theirs). DurationFree is asked
// once, when the subscriber is added.
type DurationFree interface {
	// DurationFree reports whether the subscriber never reads durations.
	DurationFree() bool
}

// SubscriberPanic describes a panic recovered from a subscriber.
type SubscriberPanic struct {
	// Subscriber is the subscriber that panicked.
	Subscriber Subscriber
	// Event is the kind of event it was handling.
	Event EventKind
	// Value is the value passed to panic.
	Value any
	// Stack is the goroutine's stack at the panic.
	Stack []byte
}

// Bus delivers events to subscribers. The zero value is not usable; use
// NewBus. A nil *Bus is valid and delivers nothing. A Bus is safe for
// concurrent use and may be shared by many policies, breakers and wrappers.
type Bus struct {
	snap    atomic.Pointer[busSnapshot]
	mu      sync.Mutex // serialises Subscribe and unsubscribe
	panics  atomic.Uint64
	onPanic atomic.Pointer[func(SubscriberPanic)]
}

type busEntry struct {
	id   uint64
	sub  Subscriber
	dec  ContextDecorator
	want EventSet
	// timed: the subscriber reads durations (it is not DurationFree)
	timed bool
}

type busSnapshot struct {
	entries []busEntry
	mask    EventSet
	timed   EventSet // the events wanted by subscribers that read durations
	nextID  uint64
}

// NewBus returns a bus with the given subscribers, in that order.
func NewBus(subs ...Subscriber) *Bus {
	b := &Bus{}
	b.snap.Store(&busSnapshot{})
	for _, s := range subs {
		b.Subscribe(s)
	}
	return b
}

// Subscribe adds s after the subscribers already there and returns a function
// that removes it. A nil s is ignored.
func (b *Bus) Subscribe(s Subscriber) (unsubscribe func()) {
	if b == nil || s == nil {
		return func() {}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	old := b.load()
	n := &busSnapshot{nextID: old.nextID + 1}
	n.entries = append(append([]busEntry(nil), old.entries...), busEntry{
		id: n.nextID, sub: s, want: s.Events(),
	})
	if d, ok := s.(ContextDecorator); ok {
		n.entries[len(n.entries)-1].dec = d
	}
	df, ok := s.(DurationFree)
	n.entries[len(n.entries)-1].timed = !ok || !df.DurationFree()
	n.recompute()
	b.snap.Store(n)
	id := n.nextID
	return func() { b.unsubscribe(id) }
}

func (b *Bus) unsubscribe(id uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	old := b.load()
	n := &busSnapshot{nextID: old.nextID}
	for _, e := range old.entries {
		if e.id != id {
			n.entries = append(n.entries, e)
		}
	}
	n.recompute()
	b.snap.Store(n)
}

func (s *busSnapshot) recompute() {
	s.mask, s.timed = 0, 0
	for _, e := range s.entries {
		s.mask |= e.want
		if e.timed {
			s.timed |= e.want
		}
	}
}

func (b *Bus) load() *busSnapshot {
	s := b.snap.Load()
	if s == nil {
		return &busSnapshot{}
	}
	return s
}

// Wants reports whether any subscriber wants events of kind k. Publishers
// check it before building an event.
func (b *Bus) Wants(k EventKind) bool {
	return b != nil && b.mask().Has(k)
}

func (b *Bus) mask() EventSet {
	all, _ := b.masks()
	return all
}

// masks returns the events wanted, and those wanted with durations.
func (b *Bus) masks() (all, timed EventSet) {
	if b == nil {
		return 0, 0
	}
	s := b.snap.Load()
	if s == nil {
		return 0, 0
	}
	return s.mask, s.timed
}

// Publish delivers e to every subscriber that wants it, in order. Use it
// from wrappers that publish events of their own; check Wants first.
func (b *Bus) Publish(ctx context.Context, e Event) {
	b.publish(ctx, &e)
}

// publish is Publish without copying the event on the way: the engine
// builds events on its stack and hands each subscriber its own copy.
func (b *Bus) publish(ctx context.Context, e *Event) {
	if b == nil {
		return
	}
	s := b.snap.Load()
	if s == nil || !s.mask.Has(e.Kind) {
		return
	}
	for i := range s.entries {
		en := &s.entries[i]
		if en.want.Has(e.Kind) {
			b.handle(en, ctx, e)
		}
	}
}

// PublishDecorate delivers e like Publish, but lets ContextDecorator
// subscribers decorate ctx, and returns the decorated context. The engine
// uses it for operation_start and attempt_start.
func (b *Bus) PublishDecorate(ctx context.Context, e Event) context.Context {
	return b.publishDecorate(ctx, &e)
}

func (b *Bus) publishDecorate(ctx context.Context, e *Event) context.Context {
	if b == nil {
		return ctx
	}
	s := b.snap.Load()
	if s == nil || !s.mask.Has(e.Kind) {
		return ctx
	}
	for i := range s.entries {
		en := &s.entries[i]
		if !en.want.Has(e.Kind) {
			continue
		}
		if en.dec != nil {
			ctx = b.decorate(en, ctx, e)
		} else {
			b.handle(en, ctx, e)
		}
	}
	return ctx
}

func (b *Bus) handle(en *busEntry, ctx context.Context, e *Event) {
	defer func() {
		if v := recover(); v != nil {
			b.reportPanic(en.sub, e.Kind, v)
		}
	}()
	en.sub.Handle(ctx, *e)
}

func (b *Bus) decorate(en *busEntry, ctx context.Context, e *Event) (out context.Context) {
	out = ctx
	defer func() {
		if v := recover(); v != nil {
			out = ctx
			b.reportPanic(en.sub, e.Kind, v)
		}
	}()
	if c := en.dec.Decorate(ctx, *e); c != nil {
		out = c
	}
	return out
}

// SetPanicHandler sets the function told of each panic recovered from a
// subscriber. The default writes one line to standard error. The handler
// must not panic; if it does, the panic is swallowed.
func (b *Bus) SetPanicHandler(h func(SubscriberPanic)) {
	if b == nil {
		return
	}
	if h == nil {
		b.onPanic.Store(nil)
		return
	}
	b.onPanic.Store(&h)
}

// Panics returns the number of subscriber panics the bus has recovered.
func (b *Bus) Panics() uint64 {
	if b == nil {
		return 0
	}
	return b.panics.Load()
}

func (b *Bus) reportPanic(s Subscriber, k EventKind, v any) {
	b.panics.Add(1)
	p := SubscriberPanic{Subscriber: s, Event: k, Value: v, Stack: debug.Stack()}
	defer func() { _ = recover() }()
	if h := b.onPanic.Load(); h != nil {
		(*h)(p)
		return
	}
	fmt.Fprintf(os.Stderr, "redress: subscriber %T panicked on %s: %v\n", s, k, v)
}
