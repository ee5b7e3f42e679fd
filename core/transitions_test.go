package core_test

import (
	"context"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redress-go/redress/core"
	"github.com/redress-go/redress/core/coretest"
)

// circuitLog records circuit transition events in the order they are handled.
type circuitLog struct {
	mu  sync.Mutex
	evs []core.Event
}

func (l *circuitLog) Events() core.EventSet { return core.CircuitEvents }
func (l *circuitLog) Handle(_ context.Context, e core.Event) {
	if e.Kind == core.EventCircuitRejected {
		return
	}
	l.mu.Lock()
	l.evs = append(l.evs, e)
	l.mu.Unlock()
}

// checkChain fails unless the events form one chain of transitions from
// closed to the breaker's current state: each one leaves the state the
// previous one entered, so none is missing, doubled or out of order.
func (l *circuitLog) checkChain(t *testing.T, b *core.Breaker) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	state := core.StateClosed
	for i, e := range l.evs {
		if e.PrevBreakerState != state {
			t.Fatalf("event %d (%s): from %v, but the previous event entered %v (%d events)", i, e.Kind, e.PrevBreakerState, state, len(l.evs))
		}
		if e.Breaker != b {
			t.Fatalf("event %d names breaker %v", i, e.Breaker)
		}
		state = e.BreakerState
	}
	if got := b.State(); got != state {
		t.Fatalf("State() = %v, but the events end in %v (%d events)", got, state, len(l.evs))
	}
	if len(l.evs) < 3 {
		t.Fatalf("only %d transitions: the load did not exercise the breaker", len(l.evs))
	}
}

// TestBreakerTransitionsPublishedOnceInOrder drives one breaker from many
// goroutines through every way a call reaches it (the engine, the fast
// path, Inline, standalone Allow and Reset) while the clock moves past its
// recovery timeout again and again: the subscriber must see every
// transition once, in order.
func TestBreakerTransitionsPublishedOnceInOrder(t *testing.T) {
	for _, tc := range []struct {
		name       string
		policyBus  bool // the subscriber is on the policy's bus, not the breaker's
		observed   bool // the policy's bus has a subscriber (no fast path)
		standalone bool // some callers use Allow/Permit and Reset directly
	}{
		{name: "policy bus", policyBus: true, observed: true},
		{name: "breaker bus, fast path and Inline"},
		{name: "breaker bus, standalone mixed in", standalone: true},
		{name: "policy bus, standalone mixed in", policyBus: true, observed: true, standalone: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := coretest.NewFakeClock(time.Unix(0, 0))
			log := &circuitLog{}
			bcfg := core.BreakerConfig{FailureThreshold: 1, RecoveryTimeout: 10 * time.Millisecond, HalfOpenProbes: 2, Clock: clk}
			if !tc.policyBus {
				bcfg.Bus = core.NewBus(log)
			}
			br := mustBreaker(t, bcfg)
			pcfg := core.PolicyConfig{
				Breaker: br, Clock: clk, Sleeper: coretest.InstantSleeper{},
				Retry: core.RetryConfig{MaxAttempts: 2},
			}
			if tc.policyBus {
				pcfg.Bus = core.NewBus(log)
			} else if tc.observed {
				pcfg.Bus = core.NewBus(&coretest.Recorder{})
			}
			p, err := core.NewPolicy(pcfg)
			if err != nil {
				t.Fatal(err)
			}
			if p.Observed() != tc.observed {
				t.Fatalf("Observed() = %v", p.Observed())
			}
			fail := coretest.ClassErr(core.ClassTransient)
			const workers, calls = 8, 400
			var wg sync.WaitGroup
			for w := range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					rng := rand.New(rand.NewPCG(uint64(w), 7))
					op := func(context.Context) error {
						if rng.IntN(3) == 0 {
							return nil
						}
						return fail
					}
					for i := range calls {
						if i%4 == 0 { // the clock moves on as the calls run: 800ms in all
							clk.Advance(time.Millisecond)
						}
						switch {
						case tc.standalone && i%7 == 3:
							if permit, err := br.Allow(); err == nil {
								if op(context.Background()) == nil {
									permit.Success()
								} else {
									permit.Failure(core.ClassTransient)
								}
							}
						case tc.standalone && i%97 == 50:
							br.Reset()
						case i%2 == 0:
							_ = runStep(p, context.Background(), nil, op)
						default:
							_ = p.Run(context.Background(), op)
						}
					}
				}()
			}
			wg.Wait()
			log.checkChain(t, br)
		})
	}
}

// TestFastPathPublishesHalfOpen: a call on the fast path (nothing watching
// the policy) that moves the breaker to half-open and closes it publishes
// both transitions on the breaker's bus.
func TestFastPathPublishesHalfOpen(t *testing.T) {
	clk := coretest.NewFakeClock(time.Unix(0, 0))
	log := &circuitLog{}
	br := mustBreaker(t, core.BreakerConfig{FailureThreshold: 1, RecoveryTimeout: time.Second, Clock: clk, Bus: core.NewBus(log)})
	p, err := core.NewPolicy(core.PolicyConfig{Breaker: br, Clock: clk, Sleeper: coretest.InstantSleeper{}, Retry: core.RetryConfig{MaxAttempts: 1}})
	if err != nil {
		t.Fatal(err)
	}
	_ = p.Run(context.Background(), func(context.Context) error { return coretest.ClassErr(core.ClassTransient) })
	clk.Advance(time.Second)
	if err := p.Run(context.Background(), func(context.Context) error { return nil }); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range log.evs {
		got = append(got, e.Kind.String())
	}
	eq(t, "events", got, []string{"circuit_opened", "circuit_half_open", "circuit_closed"})
	log.checkChainLen(t, br, 3)
}

func (l *circuitLog) checkChainLen(t *testing.T, b *core.Breaker, n int) {
	t.Helper()
	if len(l.evs) != n {
		t.Fatalf("%d events, want %d", len(l.evs), n)
	}
	l.checkChain(t, b)
}

// blockingLog holds the first circuit_half_open in Handle until released,
// and ends the goroutine (as t.FailNow in a subscriber would) on the second
// circuit_opened.
type blockingLog struct {
	circuitLog
	entered, release chan struct{}
	halfOpens, opens atomic.Int32
}

func (g *blockingLog) Handle(ctx context.Context, e core.Event) {
	g.circuitLog.Handle(ctx, e)
	switch e.Kind {
	case core.EventCircuitHalfOpen:
		if g.halfOpens.Add(1) == 1 {
			close(g.entered)
			<-g.release
		}
	case core.EventCircuitOpened:
		if g.opens.Add(1) == 2 {
			runtime.Goexit()
		}
	}
}

// TestTransitionsFlowAfterSubscriberGoexit: while one goroutine publishes a
// transition, another is queued behind it; the subscriber ends the
// publishing goroutine on the queued one. The breaker's later transitions
// are still published.
func TestTransitionsFlowAfterSubscriberGoexit(t *testing.T) {
	clk := coretest.NewFakeClock(time.Unix(0, 0))
	sub := &blockingLog{entered: make(chan struct{}), release: make(chan struct{})}
	br := mustBreaker(t, core.BreakerConfig{FailureThreshold: 1, RecoveryTimeout: time.Second, HalfOpenProbes: 2, Clock: clk, Bus: core.NewBus(sub)})
	if permit, err := br.Allow(); err == nil {
		permit.Failure(core.ClassTransient) // opened
	}
	clk.Advance(time.Second)
	done := make(chan struct{})
	go func() { defer close(done); _, _ = br.Allow() }() // half_open: held in the subscriber
	<-sub.entered
	permit, err := br.Allow() // the second probe
	if err != nil {
		t.Fatal(err)
	}
	permit.Failure(core.ClassTransient) // opened again: queued behind half_open
	close(sub.release)
	<-done // the publisher delivered the queued open, and the subscriber ended it
	clk.Advance(time.Second)
	if permit, err := br.Allow(); err == nil { // half_open, then closed
		permit.Success()
	}
	var got []string
	sub.mu.Lock()
	for _, e := range sub.evs {
		got = append(got, e.Kind.String())
	}
	sub.mu.Unlock()
	eq(t, "events", got, []string{"circuit_opened", "circuit_half_open", "circuit_opened", "circuit_half_open", "circuit_closed"})
}
