package core_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/redress-go/redress/core"
	"github.com/redress-go/redress/core/coretest"
)

type funcSub struct {
	want core.EventSet
	fn   func(ctx context.Context, e core.Event)
}

func (f funcSub) Events() core.EventSet                    { return f.want }
func (f funcSub) Handle(ctx context.Context, e core.Event) { f.fn(ctx, e) }

type ctxKey string

// decorator puts its name into the operation and attempt contexts.
type decorator struct {
	seen *[]string
}

func (decorator) Events() core.EventSet { return core.AllEvents }
func (d decorator) Decorate(ctx context.Context, e core.Event) context.Context {
	return context.WithValue(ctx, ctxKey(e.Kind.String()), e.Attempt)
}
func (d decorator) Handle(ctx context.Context, e core.Event) {
	if e.Kind == core.EventAttemptEnd || e.Kind.Terminal() {
		_, op := ctx.Value(ctxKey("operation_start")).(int)
		_, at := ctx.Value(ctxKey("attempt_start")).(int)
		*d.seen = append(*d.seen, e.Kind.String()+map[bool]string{true: "+op", false: ""}[op]+map[bool]string{true: "+attempt", false: ""}[at])
	}
}

func TestBusDeliversInOrderOnlyWantedEvents(t *testing.T) {
	var got []string
	a := funcSub{core.EventsOf(core.EventSuccess), func(_ context.Context, e core.Event) { got = append(got, "a:"+e.Kind.String()) }}
	b := funcSub{core.EventsOf(core.EventSuccess, core.EventAttemptEnd), func(_ context.Context, e core.Event) { got = append(got, "b:"+e.Kind.String()) }}
	p, err := core.NewPolicy(core.PolicyConfig{Bus: core.NewBus(a, b)})
	if err != nil {
		t.Fatal(err)
	}
	_ = p.Run(context.Background(), func(context.Context) error { return nil })
	eq(t, "events", got, []string{"b:attempt_end", "a:success", "b:success"})
}

func TestDecoratedContextsReachAttemptsAndEvents(t *testing.T) {
	var seen []string
	p, err := core.NewPolicy(core.PolicyConfig{Bus: core.NewBus(decorator{&seen}), Retry: core.RetryConfig{Strategy: core.Constant(0)}})
	if err != nil {
		t.Fatal(err)
	}
	var inAttempt []int
	f := coretest.FailTimes(1, coretest.ClassErr(core.ClassTransient))
	_ = p.Run(context.Background(), func(ctx context.Context) error {
		n, _ := ctx.Value(ctxKey("attempt_start")).(int)
		if _, ok := ctx.Value(ctxKey("operation_start")).(int); !ok {
			t.Error("attempt context lacks the operation decoration")
		}
		inAttempt = append(inAttempt, n)
		return f.Op()(ctx)
	})
	eq(t, "attempt numbers seen inside attempts", inAttempt, []int{1, 2})
	eq(t, "contexts of events", seen, []string{"attempt_end+op+attempt", "attempt_end+op+attempt", "success+op"})
}

func TestPanickingSubscriberDoesNotBreakTheCall(t *testing.T) {
	bad := funcSub{core.AllEvents, func(context.Context, core.Event) { panic("boom") }}
	rec := &coretest.Recorder{}
	bus := core.NewBus(bad, rec)
	var reports []core.SubscriberPanic
	var mu sync.Mutex
	bus.SetPanicHandler(func(p core.SubscriberPanic) { mu.Lock(); reports = append(reports, p); mu.Unlock() })
	p, err := core.NewPolicy(core.PolicyConfig{Bus: bus})
	if err != nil {
		t.Fatal(err)
	}
	v, err := core.Do(context.Background(), p, func(context.Context) (int, error) { return 3, nil })
	eq(t, "value", v, 3)
	eq(t, "err", err, nil)
	eq(t, "later subscriber still served", rec.Names(), []string{"operation_start", "attempt_start", "attempt_end", "success"})
	eq(t, "panics", bus.Panics(), uint64(4))
	eq(t, "reports", len(reports), 4)
	eq(t, "report value", reports[0].Value, any("boom"))
}

type panicDecorator struct{}

func (panicDecorator) Events() core.EventSet                                { return core.AllEvents }
func (panicDecorator) Handle(context.Context, core.Event)                   {}
func (panicDecorator) Decorate(context.Context, core.Event) context.Context { panic("decorate") }

func TestPanickingDecoratorKeepsContext(t *testing.T) {
	bus := core.NewBus(panicDecorator{})
	bus.SetPanicHandler(func(core.SubscriberPanic) {})
	p, _ := core.NewPolicy(core.PolicyConfig{Bus: bus})
	ctx := context.WithValue(context.Background(), ctxKey("mine"), 1)
	err := p.Run(ctx, func(ctx context.Context) error {
		if ctx.Value(ctxKey("mine")) != 1 {
			t.Error("caller's context value lost")
		}
		return nil
	})
	eq(t, "err", err, nil)
}

func TestUnsubscribe(t *testing.T) {
	rec := &coretest.Recorder{}
	bus := core.NewBus()
	unsub := bus.Subscribe(rec)
	eq(t, "wants", bus.Wants(core.EventSuccess), true)
	unsub()
	eq(t, "wants after unsubscribe", bus.Wants(core.EventSuccess), false)
	p, _ := core.NewPolicy(core.PolicyConfig{Bus: bus})
	_ = p.Run(context.Background(), func(context.Context) error { return nil })
	eq(t, "events", len(rec.All()), 0)
}

// A subscriber may read the breaker and budget while handling a transition:
// no callback runs under an engine lock.
func TestSubscriberMayCallBackIntoBreakerAndBudget(t *testing.T) {
	br := mustBreaker(t, core.BreakerConfig{FailureThreshold: 1})
	bud := mustBudget(t, core.BudgetConfig{})
	var states []core.BreakerState
	sub := funcSub{core.CircuitEvents | core.EventsOf(core.EventRetry), func(_ context.Context, e core.Event) {
		states = append(states, e.Breaker.State())
		_ = e.Budget.Utilization()
		if p, err := e.Breaker.Allow(); err == nil {
			p.Cancel()
		}
	}}
	p, _ := core.NewPolicy(core.PolicyConfig{Breaker: br, Budget: bud, Bus: core.NewBus(sub), Sleeper: coretest.InstantSleeper{}})
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = p.Run(context.Background(), coretest.FailTimes(1, coretest.ClassErr(core.ClassTransient)).Op())
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("deadlock: a subscriber calling into the breaker blocked the call")
	}
	eq(t, "states", states, []core.BreakerState{core.StateOpen})
}

// slowSub blocks on every event until release is closed.
type slowSub struct {
	release chan struct{}
	mu      sync.Mutex
	got     int
}

func (*slowSub) Events() core.EventSet { return core.AllEvents }
func (s *slowSub) Handle(context.Context, core.Event) {
	<-s.release
	s.mu.Lock()
	s.got++
	s.mu.Unlock()
}

func TestAsyncAdapterDropsInsteadOfBlocking(t *testing.T) {
	slow := &slowSub{release: make(chan struct{})}
	var dropped int
	a, err := core.NewAsync(slow, core.AsyncConfig{QueueSize: 4, OnDrop: func(core.Event) { dropped++ }})
	if err != nil {
		t.Fatal(err)
	}
	p, _ := core.NewPolicy(core.PolicyConfig{Bus: core.NewBus(a)})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 100 {
			_ = p.Run(context.Background(), func(context.Context) error { return nil })
		}
	}()
	select {
	case <-done: // the calls finished while the subscriber was stuck
	case <-time.After(10 * time.Second):
		t.Fatal("calls blocked behind a stuck async subscriber")
	}
	close(slow.release)
	if err := a.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	eq(t, "drop count", int(a.Dropped()), dropped)
	if a.Dropped() == 0 {
		t.Error("no event dropped although the queue holds 4 and 400 were published")
	}
	slow.mu.Lock()
	delivered := slow.got
	slow.mu.Unlock()
	eq(t, "delivered + dropped", delivered+int(a.Dropped()), 400)
	// After Close, events are dropped, never sent on a closed channel.
	_ = p.Run(context.Background(), func(context.Context) error { return nil })
	eq(t, "dropped after close", int(a.Dropped()), dropped)
	if _, err := core.NewAsync(slow, core.AsyncConfig{QueueSize: -1}); err == nil {
		t.Error("negative QueueSize accepted")
	}
}

func TestNoSubscriberNoAllocation(t *testing.T) {
	br := mustBreaker(t, core.BreakerConfig{})
	bud := mustBudget(t, core.BudgetConfig{})
	uninterested := funcSub{core.CircuitEvents, func(context.Context, core.Event) {}}
	for name, bus := range map[string]*core.Bus{"nil bus": nil, "uninterested subscriber": core.NewBus(uninterested)} {
		p, err := core.NewPolicy(core.PolicyConfig{Breaker: br, Budget: bud, Bus: bus})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		fn := func(context.Context) (int, error) { return 1, nil }
		allocs := testing.AllocsPerRun(1000, func() { _, _ = core.Do(ctx, p, fn) })
		if allocs != 0 {
			t.Errorf("%s: %v allocs per successful call, want 0", name, allocs)
		}
	}
}

func TestSubscriberWithoutAllocationOnSuccessPath(t *testing.T) {
	// A subscriber that wants every event costs copies, not allocations.
	sub := funcSub{core.AllEvents, func(context.Context, core.Event) {}}
	p, _ := core.NewPolicy(core.PolicyConfig{Bus: core.NewBus(sub)})
	ctx := context.Background()
	fn := func(context.Context) error { return nil }
	if allocs := testing.AllocsPerRun(1000, func() { _ = p.Run(ctx, fn) }); allocs != 0 {
		t.Errorf("%v allocs per call with an all-events subscriber, want 0", allocs)
	}
}

// Every event handed to an AsyncSubscriber is either delivered or counted as
// dropped, also when Close races with publishers.
func TestAsyncCloseLosesNothingUncounted(t *testing.T) {
	rec := &coretest.Recorder{}
	a, err := core.NewAsync(rec, core.AsyncConfig{QueueSize: 64})
	if err != nil {
		t.Fatal(err)
	}
	const pubs, per = 4, 500
	var wg sync.WaitGroup
	for range pubs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range per {
				a.Handle(context.Background(), core.Event{Kind: core.EventSuccess})
			}
		}()
	}
	time.Sleep(time.Millisecond)
	if err := a.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	eq(t, "delivered + dropped", len(rec.All())+int(a.Dropped()), pubs*per)
}

// countingClock counts its reads.
type countingClock struct {
	mu    sync.Mutex
	now   time.Time
	reads int
}

func (c *countingClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reads++
	c.now = c.now.Add(time.Millisecond)
	return c.now
}

// durationFree is a subscriber that says it reads no durations.
type durationFree struct {
	funcSub
	free bool
}

func (d durationFree) DurationFree() bool { return d.free }

// When every subscriber that wants timed events is DurationFree, a call
// reads no clock and its events carry zero durations; one subscriber that
// reads durations (also one that says false, or one behind NewAsync that
// is not DurationFree) brings the clock reads back for all.
func TestDurationFreeSubscribersSkipTheClock(t *testing.T) {
	type seen struct{ att, elapsed time.Duration }
	run := func(t *testing.T, subs ...core.Subscriber) (reads int, got []seen) {
		t.Helper()
		clk := &countingClock{now: time.Unix(0, 0)}
		var mu sync.Mutex
		rec := funcSub{core.AllEvents, func(_ context.Context, e core.Event) {
			mu.Lock()
			defer mu.Unlock()
			if e.Kind == core.EventAttemptEnd || e.Kind == core.EventSuccess {
				got = append(got, seen{e.AttemptDuration, e.Elapsed})
			}
		}}
		p, err := core.NewPolicy(core.PolicyConfig{Clock: clk, Bus: core.NewBus(append(subs, durationFree{rec, true})...)})
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Run(context.Background(), func(context.Context) error { return nil }); err != nil {
			t.Fatal(err)
		}
		return clk.reads, got
	}
	nop := funcSub{core.AllEvents, func(context.Context, core.Event) {}}
	t.Run("all duration-free", func(t *testing.T) {
		reads, got := run(t, durationFree{nop, true})
		if reads != 0 {
			t.Errorf("%d clock reads, want 0", reads)
		}
		if len(got) != 2 || got[0] != (seen{}) || got[1] != (seen{}) {
			t.Errorf("events carried %v, want two zero durations", got)
		}
	})
	for name, sub := range map[string]core.Subscriber{
		"plain subscriber":     nop,
		"DurationFree() false": durationFree{nop, false},
	} {
		t.Run(name, func(t *testing.T) {
			reads, got := run(t, sub)
			if reads != 2 {
				t.Errorf("%d clock reads, want 2 (start, end)", reads)
			}
			if len(got) != 2 || got[0].att != time.Millisecond || got[1].elapsed != time.Millisecond {
				t.Errorf("events carried %v, want 1ms durations", got)
			}
		})
	}
	for name, inner := range map[string]core.Subscriber{"async, duration-free": durationFree{nop, true}, "async, plain": nop} {
		t.Run(name, func(t *testing.T) {
			a, err := core.NewAsync(inner, core.AsyncConfig{})
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = a.Close(context.Background()) }()
			reads, _ := run(t, a)
			want := 2
			if _, free := inner.(durationFree); free {
				want = 0
			}
			if reads != want {
				t.Errorf("%d clock reads, want %d", reads, want)
			}
		})
	}
}
