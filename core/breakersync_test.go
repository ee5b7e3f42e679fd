package core_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/redress-go/redress/core"
	"github.com/redress-go/redress/core/coretest"
)

// fakeSync records the breakers joined and, per link, the transitions told
// and the probes asked; grant is what Probes answers.
type fakeSync struct {
	mu     sync.Mutex
	joined []string
	links  map[string]*fakeLink
}

func (s *fakeSync) Join(b *core.Breaker) core.BreakerLink {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.joined = append(s.joined, b.Name())
	if s.links == nil {
		s.links = map[string]*fakeLink{}
	}
	l := &fakeLink{grant: 1 << 30}
	s.links[b.Name()] = l
	return l
}

type fakeLink struct {
	mu    sync.Mutex
	told  []core.BreakerTransition
	asked []int // max of each Probes call
	grant int
	retry time.Duration
}

func (l *fakeLink) Transitioned(t core.BreakerTransition) {
	l.mu.Lock()
	l.told = append(l.told, t)
	l.mu.Unlock()
}

func (l *fakeLink) Probes(max int) (int, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.asked = append(l.asked, max)
	return l.grant, l.retry
}

func (l *fakeLink) set(grant int, retry time.Duration) {
	l.mu.Lock()
	l.grant, l.retry = grant, retry
	l.mu.Unlock()
}

func (l *fakeLink) transitions() []core.BreakerTransition {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]core.BreakerTransition(nil), l.told...)
}

func (l *fakeLink) probesAsked() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.asked)
}

func newSynced(t *testing.T, cfg core.BreakerConfig) (*core.Breaker, *fakeLink, *coretest.FakeClock, *coretest.Recorder) {
	t.Helper()
	s := &fakeSync{}
	cfg.Sync = s
	if cfg.Name == "" {
		cfg.Name = "db"
	}
	b, clk, rec := newBreaker(t, cfg)
	eq(t, "joined", s.joined, []string{"db"})
	return b, s.links["db"], clk, rec
}

func TestBreakerSyncIsToldOwnTransitionsOnly(t *testing.T) {
	b, l, clk, rec := newSynced(t, core.BreakerConfig{FailureThreshold: 1, RecoveryTimeout: 10 * time.Second})
	fail(t, b, core.ClassTransient)
	clk.Advance(10 * time.Second)
	succeed(t, b) // probe: half-open, then closed
	eq(t, "told", l.transitions(), []core.BreakerTransition{
		{From: core.StateClosed, To: core.StateOpen, OpenFor: 10 * time.Second},
		{From: core.StateOpen, To: core.StateHalfOpen},
		{From: core.StateHalfOpen, To: core.StateClosed},
	})
	eq(t, "probes asked once, with HalfOpenProbes", l.asked, []int{1})

	// The fleet's state, adopted: published on the bus, not told back.
	eq(t, "adopt open", b.Adopt(core.StateOpen, 3*time.Second), true)
	eq(t, "state", b.State(), core.StateOpen)
	eq(t, "open for", b.OpenFor(), 3*time.Second)
	eq(t, "failing", b.Failing(), true)
	if _, err := b.Allow(); !errors.Is(err, core.ErrCircuitOpen) {
		t.Fatalf("Allow while adopted open: %v", err)
	}
	eq(t, "adopt open again: no change", b.Adopt(core.StateOpen, time.Second), false)
	eq(t, "open for, set by the fleet", b.OpenFor(), time.Second)
	eq(t, "adopt half-open does nothing", b.Adopt(core.StateHalfOpen, 0), false)
	eq(t, "adopt closed", b.Adopt(core.StateClosed, 0), true)
	eq(t, "adopt closed again", b.Adopt(core.StateClosed, 0), false)
	eq(t, "state", b.State(), core.StateClosed)
	eq(t, "still three told", len(l.transitions()), 3)
	eq(t, "events", rec.Names(), []string{"circuit_opened", "circuit_half_open", "circuit_closed", "circuit_opened", "circuit_rejected", "circuit_closed"})
	for _, e := range rec.All() {
		if e.Kind != core.EventCircuitRejected && e.PrevBreakerState == e.BreakerState {
			t.Errorf("%s: prev state %s equals state", e.Kind, e.BreakerState)
		}
	}
}

func TestBreakerSyncRationsProbes(t *testing.T) {
	b, l, clk, rec := newSynced(t, core.BreakerConfig{FailureThreshold: 1, RecoveryTimeout: 10 * time.Second, HalfOpenProbes: 3})
	fail(t, b, core.ClassTransient)
	clk.Advance(10 * time.Second)

	// Another process probes: the breaker stays open, with the link's hint.
	l.set(0, 250*time.Millisecond)
	_, err := b.Allow()
	var coe *core.CircuitOpenError
	if !errors.As(err, &coe) || coe.State != core.StateOpen || coe.RetryIn != 250*time.Millisecond {
		t.Fatalf("gated Allow = %v, want open with RetryIn 250ms", err)
	}
	eq(t, "still open", b.State(), core.StateOpen)
	eq(t, "no half-open event", rec.Names(), []string{"circuit_opened", "circuit_rejected"})

	// One probe granted of the three: one admitted, the next refused.
	l.set(1, 0)
	p1, err := b.Allow()
	if err != nil {
		t.Fatalf("granted probe refused: %v", err)
	}
	eq(t, "half-open", b.State(), core.StateHalfOpen)
	if _, err := b.Allow(); !errors.As(err, &coe) || coe.State != core.StateHalfOpen {
		t.Fatalf("second probe admitted beyond the grant: %v", err)
	}
	// A grant larger than HalfOpenProbes counts as HalfOpenProbes.
	p1.Failure(core.ClassTransient) // reopens
	clk.Advance(10 * time.Second)
	l.set(99, 0)
	var ps []core.Permit
	for range 3 {
		p, err := b.Allow()
		if err != nil {
			t.Fatalf("probe within HalfOpenProbes refused: %v", err)
		}
		ps = append(ps, p)
	}
	if _, err := b.Allow(); err == nil {
		t.Fatal("fourth probe admitted")
	}
	for _, p := range ps {
		p.Cancel()
	}
}

func TestBreakerSyncDroppedProbePeriodAsksAgain(t *testing.T) {
	b, l, clk, _ := newSynced(t, core.BreakerConfig{FailureThreshold: 1, RecoveryTimeout: 10 * time.Second})
	fail(t, b, core.ClassTransient)
	clk.Advance(10 * time.Second)
	if _, err := b.Allow(); err != nil { // a probe never reported
		t.Fatal(err)
	}
	clk.Advance(10 * time.Second)
	l.set(0, time.Second)
	if _, err := b.Allow(); !errors.Is(err, core.ErrCircuitOpen) {
		t.Fatalf("new probe period without the fleet's grant: %v", err)
	}
	eq(t, "asked twice", l.probesAsked(), 2)
	l.set(1, 0)
	succeed(t, b)
	eq(t, "closed", b.State(), core.StateClosed)
}

func TestBreakerAdoptWhileHalfOpen(t *testing.T) {
	b, _, clk, _ := newSynced(t, core.BreakerConfig{FailureThreshold: 1, RecoveryTimeout: 10 * time.Second})
	fail(t, b, core.ClassTransient)
	clk.Advance(10 * time.Second)
	p, err := b.Allow()
	if err != nil {
		t.Fatal(err)
	}
	// The fleet recovering (open, recovery passed) leaves this process's
	// probe alone...
	eq(t, "adopt recovering", b.Adopt(core.StateOpen, 0), false)
	eq(t, "still half-open", b.State(), core.StateHalfOpen)
	// ...another process reopening the fleet's breaker reopens it, and the
	// probe admitted before does not close it.
	eq(t, "adopt reopened", b.Adopt(core.StateOpen, 4*time.Second), true)
	eq(t, "open", b.State(), core.StateOpen)
	p.Success()
	eq(t, "stale probe ignored", b.State(), core.StateOpen)
	clk.Advance(4 * time.Second)
	succeed(t, b)
	eq(t, "closed after the fleet's recovery", b.State(), core.StateClosed)

	// A closed breaker adopting a fleet that is recovering opens with
	// nothing left to wait: its next call asks for a probe.
	eq(t, "closed adopts recovering", b.Adopt(core.StateOpen, -time.Second), true)
	eq(t, "open for", b.OpenFor(), time.Duration(0))
	succeed(t, b)
	eq(t, "probed and closed", b.State(), core.StateClosed)
}

func TestBreakerSyncNotAskedOnTheSuccessPath(t *testing.T) {
	b, l, _, _ := newSynced(t, core.BreakerConfig{FailureThreshold: 1})
	pol := mustPolicy(t, core.PolicyConfig{Breaker: b})
	for range 100 {
		succeed(t, b)
		if err := pol.Run(context.Background(), func(context.Context) error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	eq(t, "told", len(l.transitions()), 0)
	eq(t, "asked", l.probesAsked(), 0)
	if n := testing.AllocsPerRun(100, func() { p, _ := b.Allow(); p.Success() }); n != 0 {
		t.Errorf("linked closed breaker allocates %v per call", n)
	}
}

func TestPolicyWithGatedBreaker(t *testing.T) {
	b, l, clk, _ := newSynced(t, core.BreakerConfig{FailureThreshold: 1, RecoveryTimeout: time.Second})
	pol := mustPolicy(t, core.PolicyConfig{Breaker: b, Retry: core.RetryConfig{MaxAttempts: 1}})
	calls := 0
	op := func(context.Context) error { calls++; return core.Transient(errors.New("down")) }
	_ = pol.Run(context.Background(), op)
	clk.Advance(time.Second)
	l.set(0, 100*time.Millisecond)
	err := pol.Run(context.Background(), op)
	if !errors.Is(err, core.ErrCircuitOpen) {
		t.Fatalf("gated call: %v", err)
	}
	eq(t, "operation called once", calls, 1)
}

func TestBreakerGroupJoinsEachKeyOnce(t *testing.T) {
	s := &fakeSync{}
	g := mustGroup(t, core.BreakerConfig{Name: "http", Sync: s})
	eq(t, "template not joined", len(s.joined), 0)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(2)
		go func() { defer wg.Done(); g.Get("a:443") }()
		go func() { defer wg.Done(); g.Get("b:443") }()
	}
	wg.Wait()
	s.mu.Lock()
	joined := append([]string(nil), s.joined...)
	s.mu.Unlock()
	if len(joined) != 2 || !(joined[0] == "http:a:443" && joined[1] == "http:b:443" || joined[0] == "http:b:443" && joined[1] == "http:a:443") {
		t.Fatalf("joined %q, want each key once", joined)
	}
	fail(t, g.Get("a:443"), core.ClassTransient)
	for range 4 {
		fail(t, g.Get("a:443"), core.ClassTransient)
	}
	eq(t, "a's link told", len(s.links["http:a:443"].transitions()), 1)
	eq(t, "b's link told nothing", len(s.links["http:b:443"].transitions()), 0)
}

func TestBreakerSyncTypedNilIsAConfigError(t *testing.T) {
	var s *fakeSync
	var ce *core.ConfigError
	if _, err := core.NewBreaker(core.BreakerConfig{Sync: s}); !errors.As(err, &ce) || ce.Field != "BreakerConfig.Sync" {
		t.Fatalf("typed nil Sync: %v", err)
	}
}

func mustPolicy(t *testing.T, cfg core.PolicyConfig) *core.Policy {
	t.Helper()
	p, err := core.NewPolicy(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
