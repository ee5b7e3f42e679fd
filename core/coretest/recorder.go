package coretest

import (
	"context"
	"sync"

	"github.com/redress-go/redress/core"
)

// Recorder is a subscriber that keeps every event it is given. It is safe
// for concurrent use. The zero value wants every event.
type Recorder struct {
	// Want, if non-zero, is the set of events recorded; zero means all.
	Want core.EventSet

	mu     sync.Mutex
	events []core.Event
}

// Events implements core.Subscriber.
func (r *Recorder) Events() core.EventSet {
	if r.Want == 0 {
		return core.AllEvents
	}
	return r.Want
}

// Handle implements core.Subscriber.
func (r *Recorder) Handle(_ context.Context, e core.Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

// All returns a copy of the events recorded so far.
func (r *Recorder) All() []core.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]core.Event(nil), r.events...)
}

// Names returns the names of the events recorded so far, in order.
func (r *Recorder) Names() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, len(r.events))
	for i, e := range r.events {
		out[i] = e.Kind.String()
	}
	return out
}

// Count returns how many events of kind k were recorded.
func (r *Recorder) Count(k core.EventKind) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range r.events {
		if e.Kind == k {
			n++
		}
	}
	return n
}

// Reset forgets every event.
func (r *Recorder) Reset() {
	r.mu.Lock()
	r.events = nil
	r.mu.Unlock()
}

// NewRecordingPolicy returns a policy built from cfg with a Recorder on its
// bus (added after any subscriber cfg.Bus has), a FakeClock as clock and
// sleeper (unless cfg sets them), for users' tests: retries are instant and
// every decision is recorded.
func NewRecordingPolicy(cfg core.PolicyConfig) (*core.Policy, *Recorder, *FakeClock, error) {
	rec := &Recorder{}
	if cfg.Bus == nil {
		cfg.Bus = core.NewBus()
	}
	cfg.Bus.Subscribe(rec)
	clk := NewFakeClock(StartTime)
	if cfg.Clock == nil {
		cfg.Clock = clk
	}
	if cfg.Sleeper == nil {
		cfg.Sleeper = clk
	}
	p, err := core.NewPolicy(cfg)
	return p, rec, clk, err
}

// PassThrough returns a policy that runs every operation exactly once and
// never retries: a stand-in for code under test that takes a *core.Policy.
func PassThrough() *core.Policy {
	p, err := core.NewPolicy(core.PolicyConfig{Name: "passthrough", Retry: core.RetryConfig{MaxAttempts: 1}})
	if err != nil {
		panic(err) // unreachable: the configuration is constant and valid
	}
	return p
}
