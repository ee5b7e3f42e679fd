package telemetry

import (
	"sync/atomic"

	"github.com/redress-go/redress/core"
	"github.com/redress-go/redress/internal/cowmap"
)

// Key names a (policy, operation) pair.
type Key struct{ Policy, Operation string }

// FrontSize is the number of slots of the direct-mapped lookup fronts (see
// Cache).
const FrontSize = 64

// Entry is what a Cache holds for one (policy, operation) pair: its label
// values, the breaker and budget last seen in its events (Seen), and the
// subscriber's own part, Val (its resolved label children or attribute
// sets).
type Entry[E any] struct {
	// Key is the pair's label values: the operation loses any query string
	// or fragment (a raw URL passed as an operation).
	Key  Key
	raw  Key // the names as the events carry them
	Seen Seen
	Val  E
}

// Seen remembers the breaker and the budget last seen in the events of one
// (policy, operation), so that a subscriber tracks a new one (for the state
// it reads at collection time) without a lookup per event. The zero value
// has seen none.
type Seen struct {
	breaker atomic.Pointer[core.Breaker]
	budget  atomic.Pointer[core.Budget]
}

// NewBreaker reports whether b is not nil and not the breaker last seen,
// and remembers it.
func (s *Seen) NewBreaker(b *core.Breaker) bool {
	return b != nil && s.breaker.Load() != b && s.storeBreaker(b)
}

// storeBreaker is NewBreaker's rare path, kept out of line so that
// NewBreaker inlines.
//
//go:noinline
func (s *Seen) storeBreaker(b *core.Breaker) bool {
	s.breaker.Store(b)
	return true
}

// NewBudget reports whether b is not nil and not the budget last seen, and
// remembers it.
func (s *Seen) NewBudget(b *core.Budget) bool {
	return b != nil && s.budget.Load() != b && s.storeBudget(b)
}

// storeBudget is NewBudget's rare path, kept out of line so that NewBudget
// inlines.
//
//go:noinline
func (s *Seen) storeBudget(b *core.Budget) bool {
	s.budget.Store(b)
	return true
}

// Breaker returns the breaker last seen, or nil.
func (s *Seen) Breaker() *core.Breaker { return s.breaker.Load() }

// Cache maps a (policy, operation) pair to its Entry, made on first use. A
// direct-mapped front, indexed by the addresses of the two strings
// (FrontIndex), answers most lookups with one atomic load and two string
// comparisons that stop at the pointer: the names usually come from a
// Policy or a wrapper's label cache, so the same pair arrives in the same
// memory. A miss (new strings, or two hot pairs sharing a slot) falls back
// to a copy-on-write map and takes the slot over; Get never allocates once
// the pair is known. The zero value is an empty cache, ready to use and
// safe for concurrent use; it must not be copied after first use.
type Cache[E any] struct {
	front [FrontSize]atomic.Pointer[Entry[E]]
	m     cowmap.Map[Key, *Entry[E]]
}

// Get returns the entry of (policy, op), making it first if there is none.
func (c *Cache[E]) Get(policy, op string) *Entry[E] {
	slot := &c.front[FrontIndex(policy, op)%FrontSize]
	if en := slot.Load(); en != nil && en.raw.Policy == policy && en.raw.Operation == op {
		return en
	}
	return c.miss(slot, policy, op)
}

// miss is Get past the front.
func (c *Cache[E]) miss(slot *atomic.Pointer[Entry[E]], policy, op string) *Entry[E] {
	k := Key{policy, op}
	en, ok := c.m.Load(k)
	if !ok {
		en = c.m.LoadOrStore(k, func() *Entry[E] {
			return &Entry[E]{raw: k, Key: Key{policy, CutQuery(op)}}
		})
	}
	slot.Store(en)
	return en
}

// Lazy is a value made on first use and then read with one atomic load: a
// label child or attribute set of a Cache entry. The zero value is empty.
type Lazy[V any] struct{ p atomic.Pointer[V] }

// Load returns the value, if it was stored.
func (l *Lazy[V]) Load() (V, bool) {
	if p := l.p.Load(); p != nil {
		return *p, true
	}
	var zero V
	return zero, false
}

// Store stores v (racing stores store equal values) and returns it.
func (l *Lazy[V]) Store(v V) V {
	l.p.Store(&v)
	return v
}

// LoadWrapperSet returns the value m holds for k, a label set with wrapper
// labels, storing mk() first if there is none; but once m holds
// MaxWrapperSets values it stores no more and reports false, and the
// caller records the event without wrapper labels.
func LoadWrapperSet[K comparable, V any](m *cowmap.Map[K, V], k K, mk func() V) (V, bool) {
	if v, ok := m.Load(k); ok {
		return v, true
	}
	if m.Len() >= MaxWrapperSets {
		var zero V
		return zero, false
	}
	return m.LoadOrStore(k, mk), true
}

// OperationKey keys the label set of an operation duration: the outcome,
// the stop reason and the error.type slot.
func OperationKey(outcome core.OutcomeKind, stop core.StopReason, ei int) uint32 {
	return uint32(outcome)<<16 | uint32(stop)<<8 | uint32(ei)
}
