package core

import (
	"context"
	"time"
)

// BreakerSync shares the state of breakers beyond the process, so that a
// fleet of replicas calling one downstream acts as one breaker: a breaker
// that opens in one replica opens in all, and the fleet's half-open probes
// are rationed. Set it as BreakerConfig.Sync; NewBreaker calls Join once
// for each breaker it returns, and a BreakerGroup once for each breaker it
// keeps (never for one it discards). contrib/redis implements it on Redis.
//
// The breaker never waits on its sync: a BreakerLink answers from what it
// holds in memory and does its input and output elsewhere. A breaker
// without a Sync pays nothing for it; one with a Sync pays nothing more on
// the success path of its closed state (one atomic load): the link is told
// of transitions and asked for probes only.
type BreakerSync interface {
	// Join links b, a breaker just built, to the shared state kept under
	// its name (Breaker.Name), and returns its link, or nil to leave it
	// local. It must not call b's methods that change its state before it
	// returns.
	Join(b *Breaker) BreakerLink
}

// BreakerLink is one breaker's connection to its shared state. The breaker
// calls it on the goroutine of the call that made the change or asks for a
// probe: both methods must return at once (no input or output, no wait).
type BreakerLink interface {
	// Transitioned is told each state change the breaker made itself
	// (every change but those made by Adopt), once each, in the order they
	// were made, outside the breaker's lock. It typically queues the state
	// for publication.
	Transitioned(BreakerTransition)
	// Probes is asked, with the breaker's lock held, when the recovery
	// timeout of the open breaker has passed (or a half-open period ended
	// without a verdict, see BreakerConfig.HalfOpenProbes), how many probes
	// this process may send in the half-open period about to begin; max is
	// the breaker's HalfOpenProbes, and a larger answer counts as max.
	// Zero keeps the breaker as it is and rejects the call with a
	// *CircuitOpenError whose RetryIn is retryIn: another process is
	// probing for the fleet. It must not call the breaker's methods.
	Probes(max int) (n int, retryIn time.Duration)
}

// BreakerTransition is a state change a breaker made, as told to its
// BreakerLink. Fields may be added.
type BreakerTransition struct {
	// From and To are the states before and after the change.
	From, To BreakerState
	// OpenFor is, for a change to StateOpen, how long the breaker stays
	// open before it lets probes through (its RecoveryTimeout); zero
	// otherwise.
	OpenFor time.Duration
}

// Adopt applies to the breaker a state learned from elsewhere, typically
// the fleet's state read by its BreakerLink:
//
//   - StateOpen: the breaker is open, and lets probes through once openFor
//     has passed (openFor ≤ 0: the fleet is recovering; the next call asks
//     the link for a probe). A closed breaker opens; an open one keeps its
//     state with openFor left; a half-open one reopens when openFor > 0
//     (another process reopened the fleet's breaker) and is left to its
//     probes otherwise.
//   - StateClosed: an open or half-open breaker closes, its window cleared
//     (another process's probe succeeded); a closed one is left as it is.
//   - StateHalfOpen does nothing: each process goes half-open on its own,
//     with the probes its link grants.
//
// The changes Adopt makes are published on the breaker's buses like any
// other, and are not told to the link. It reports whether the breaker's
// state changed. A pending hold (Hold) is not affected.
func (b *Breaker) Adopt(state BreakerState, openFor time.Duration) bool {
	var tr transition
	b.mu.Lock()
	s := b.state.Load()
	cur := BreakerState(s & 3)
	now := b.since(b.clock.Now())
	switch state {
	case StateOpen:
		at := now + int64(max(openFor, 0)) - int64(b.recovery)
		switch {
		case cur == StateOpen:
			b.openedAt.Store(at)
		case cur == StateClosed || openFor > 0:
			b.lastFail.Store(max(now, 1))
			b.open(s>>2, at)
			tr = b.made(cur, StateOpen)
		}
	case StateClosed:
		if cur != StateClosed {
			b.reset(now)
			b.state.Store(((s>>2)+1)<<2 | uint64(StateClosed))
			tr = b.made(cur, StateClosed)
		}
	}
	if tr.by != 0 {
		tr.by = byAdopt
	}
	b.mu.Unlock()
	b.emit(context.Background(), tr, nil)
	return tr.by != 0
}

// OpenFor returns how long the breaker goes on refusing calls before it
// lets probes through: the time left of its open state, zero when it is
// not open or its recovery timeout has passed. A hold (Hold) is not
// counted.
func (b *Breaker) OpenFor() time.Duration { return b.openFor() }
