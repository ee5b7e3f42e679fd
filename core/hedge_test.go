package core_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/redress-go/redress/core"
	"github.com/redress-go/redress/core/coretest"
)

func newHedger(t *testing.T, cfg core.HedgeConfig) *core.Hedger {
	t.Helper()
	h, err := core.NewHedger(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func newHedgedPolicy(t *testing.T, cfg core.PolicyConfig) (*core.Policy, *coretest.Recorder) {
	t.Helper()
	rec := &coretest.Recorder{}
	cfg.Bus = core.NewBus(rec)
	if cfg.Retry.MaxAttempts == 0 {
		cfg.Retry.MaxAttempts = 1
	}
	p, err := core.NewPolicy(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p, rec
}

// copies is an attempt whose copies sleep the given durations (the first
// copy the first) and return their number; it records which copies were
// cancelled.
type copies struct {
	mu        sync.Mutex
	n         int
	sleeps    []time.Duration
	errs      []error
	cancelled []bool
}

func (c *copies) fn(ctx context.Context) (int, error) {
	c.mu.Lock()
	i := c.n
	c.n++
	c.cancelled = append(c.cancelled, false)
	d, err := c.sleeps[i], error(nil)
	if i < len(c.errs) {
		err = c.errs[i]
	}
	c.mu.Unlock()
	select {
	case <-time.After(d):
		return i, err
	case <-ctx.Done():
		c.mu.Lock()
		c.cancelled[i] = true
		c.mu.Unlock()
		return -1, ctx.Err()
	}
}

// The first copy is slow (100ms), the hedge sent after 10ms answers in
// 1ms: the call ends at 11ms with the hedge's answer, the first copy
// cancelled, and hedge then hedge_won published.
func TestHedgeWinsAfterTheDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, rec := newHedgedPolicy(t, core.PolicyConfig{Hedge: newHedger(t, core.HedgeConfig{Delay: 10 * time.Millisecond})})
		c := &copies{sleeps: []time.Duration{100 * time.Millisecond, time.Millisecond}}
		start := time.Now()
		v, err := core.Do(context.Background(), p, c.fn)
		if err != nil || v != 1 {
			t.Fatalf("got %d, %v; want the hedge's 1, nil", v, err)
		}
		if d := time.Since(start); d != 11*time.Millisecond {
			t.Errorf("took %v, want 11ms", d)
		}
		if !c.cancelled[0] || c.cancelled[1] {
			t.Errorf("cancelled %v, want the first copy only", c.cancelled)
		}
		if rec.Count(core.EventHedge) != 1 || rec.Count(core.EventHedgeWon) != 1 {
			t.Fatalf("events %v, want one hedge and one hedge_won", rec.Names())
		}
		for _, e := range rec.All() {
			if (e.Kind == core.EventHedge || e.Kind == core.EventHedgeWon) && (e.Hedge != 1 || e.Attempt != 1 || e.Policy != "default") {
				t.Errorf("%v: hedge %d attempt %d policy %q, want hedge 1 of attempt 1", e.Kind, e.Hedge, e.Attempt, e.Policy)
			}
		}
		if rec.Count(core.EventAttemptEnd) != 1 || rec.Count(core.EventSuccess) != 1 {
			t.Errorf("events %v, want one attempt and a success: the group is one attempt", rec.Names())
		}
		if got, want := strings.Join(rec.Names(), " "), "operation_start attempt_start hedge hedge_won attempt_end success"; got != want {
			t.Errorf("events %q, want %q", got, want)
		}
	})
}

// A first copy that answers within the delay sends no hedge.
func TestHedgeNotSentWithinTheDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, rec := newHedgedPolicy(t, core.PolicyConfig{Hedge: newHedger(t, core.HedgeConfig{Delay: 10 * time.Millisecond, MaxHedges: 3})})
		for range 3 {
			c := &copies{sleeps: []time.Duration{9 * time.Millisecond}}
			if v, err := core.Do(context.Background(), p, c.fn); err != nil || v != 0 || c.n != 1 {
				t.Fatalf("got %d, %v after %d copies; want 0, nil after 1", v, err, c.n)
			}
		}
		time.Sleep(time.Second) // a stray timer would fire here
		if rec.Count(core.EventHedge) != 0 {
			t.Errorf("events %v, want no hedge", rec.Names())
		}
	})
}

// The first copy wins while the hedge runs: the hedge is cancelled and
// the engine waits for it; no hedge_won.
func TestHedgeFirstCopyWinsAfterAHedge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, rec := newHedgedPolicy(t, core.PolicyConfig{Hedge: newHedger(t, core.HedgeConfig{Delay: 10 * time.Millisecond})})
		c := &copies{sleeps: []time.Duration{15 * time.Millisecond, time.Second}}
		start := time.Now()
		v, err := core.Do(context.Background(), p, c.fn)
		if err != nil || v != 0 || time.Since(start) != 15*time.Millisecond {
			t.Fatalf("got %d, %v at %v; want 0, nil at 15ms", v, err, time.Since(start))
		}
		if !c.cancelled[1] {
			t.Error("the hedge was not cancelled")
		}
		if rec.Count(core.EventHedge) != 1 || rec.Count(core.EventHedgeWon) != 0 {
			t.Errorf("events %v, want one hedge, no hedge_won", rec.Names())
		}
	})
}

// Up to MaxHedges are sent, one per delay.
func TestHedgeUpToMaxHedges(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, rec := newHedgedPolicy(t, core.PolicyConfig{Hedge: newHedger(t, core.HedgeConfig{Delay: 10 * time.Millisecond, MaxHedges: 2})})
		c := &copies{sleeps: []time.Duration{time.Second, time.Second, 5 * time.Millisecond}}
		start := time.Now()
		v, err := core.Do(context.Background(), p, c.fn)
		if err != nil || v != 2 || time.Since(start) != 25*time.Millisecond {
			t.Fatalf("got %d, %v at %v; want hedge 2's answer at 25ms", v, err, time.Since(start))
		}
		if !c.cancelled[0] || !c.cancelled[1] {
			t.Errorf("cancelled %v, want the first two copies", c.cancelled)
		}
		if rec.Count(core.EventHedge) != 2 || rec.Count(core.EventHedgeWon) != 1 {
			t.Errorf("events %v, want two hedges, one hedge_won", rec.Names())
		}
		for _, e := range rec.All() {
			if e.Kind == core.EventHedgeWon && e.Hedge != 2 {
				t.Errorf("hedge_won names hedge %d, want 2", e.Hedge)
			}
		}
	})
}

// A budget with no token left sends no hedge.
func TestHedgeNeedsABudgetToken(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, err := core.NewBudget(core.BudgetConfig{MaxRetries: 1, Window: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		p, rec := newHedgedPolicy(t, core.PolicyConfig{Budget: b, Hedge: newHedger(t, core.HedgeConfig{Delay: 10 * time.Millisecond})})
		for i, want := range []int{1, 0} { // the first call's hedge spends the only token
			c := &copies{sleeps: []time.Duration{50 * time.Millisecond, time.Millisecond}}
			start := time.Now()
			v, err := core.Do(context.Background(), p, c.fn)
			if err != nil || v != want {
				t.Fatalf("call %d: got %d, %v; want %d", i, v, err, want)
			}
			if want == 0 && time.Since(start) != 50*time.Millisecond {
				t.Errorf("call %d took %v, want the first copy's 50ms", i, time.Since(start))
			}
		}
		if rec.Count(core.EventHedge) != 1 {
			t.Errorf("events %v, want one hedge", rec.Names())
		}
	})
}

// When every copy fails, the group's result is the first copy's failure,
// and the retry loop goes on from it.
func TestHedgeAllCopiesFail(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		first, second := core.Transient(errors.New("first")), core.Transient(errors.New("second"))
		p, rec := newHedgedPolicy(t, core.PolicyConfig{Hedge: newHedger(t, core.HedgeConfig{Delay: 10 * time.Millisecond})})
		c := &copies{sleeps: []time.Duration{20 * time.Millisecond, 20 * time.Millisecond}, errs: []error{first, second}}
		_, err := core.Do(context.Background(), p, c.fn)
		if !errors.Is(err, first) {
			t.Fatalf("err %v, want the first copy's", err)
		}
		if rec.Count(core.EventHedge) != 1 || rec.Count(core.EventHedgeWon) != 0 || rec.Count(core.EventAttemptEnd) != 1 {
			t.Errorf("events %v, want one hedge, no hedge_won, one attempt", rec.Names())
		}
	})
}

// A failure that says nothing against the downstream (a permanent one) is
// an answer: it wins like a success.
func TestHedgePermanentFailureIsAnAnswer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bad := core.Permanent(errors.New("not found"))
		p, _ := newHedgedPolicy(t, core.PolicyConfig{Hedge: newHedger(t, core.HedgeConfig{Delay: 10 * time.Millisecond})})
		c := &copies{sleeps: []time.Duration{time.Second, time.Millisecond}, errs: []error{nil, bad}}
		start := time.Now()
		_, err := core.Do(context.Background(), p, c.fn)
		if !errors.Is(err, bad) || time.Since(start) != 11*time.Millisecond {
			t.Fatalf("err %v at %v, want the hedge's permanent failure at 11ms", err, time.Since(start))
		}
	})
}

// A transient failure of a hedge is not an answer: the first copy's
// success, later, is taken.
func TestHedgeTransientFailureIsNotAnAnswer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, _ := newHedgedPolicy(t, core.PolicyConfig{Hedge: newHedger(t, core.HedgeConfig{Delay: 10 * time.Millisecond})})
		c := &copies{sleeps: []time.Duration{30 * time.Millisecond, time.Millisecond}, errs: []error{nil, core.Transient(errors.New("blip"))}}
		v, err := core.Do(context.Background(), p, c.fn)
		if err != nil || v != 0 {
			t.Fatalf("got %d, %v; want the first copy's 0, nil", v, err)
		}
	})
}

// The caller's cancellation ends every copy; the call stops canceled.
func TestHedgeCallerCancels(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, _ := newHedgedPolicy(t, core.PolicyConfig{Hedge: newHedger(t, core.HedgeConfig{Delay: 10 * time.Millisecond})})
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(15*time.Millisecond, cancel)
		c := &copies{sleeps: []time.Duration{time.Second, time.Second}}
		_, err := core.Do(ctx, p, c.fn)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err %v, want canceled", err)
		}
		if r, _ := core.StopReasonOf(err); r != core.StopCanceled {
			t.Errorf("stop reason %v, want canceled", r)
		}
		if !c.cancelled[0] || !c.cancelled[1] {
			t.Errorf("cancelled %v, want both", c.cancelled)
		}
	})
}

// Run and Execute hedge too; Execute's Attempts counts the group once.
func TestHedgeRunAndExecute(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, _ := newHedgedPolicy(t, core.PolicyConfig{Hedge: newHedger(t, core.HedgeConfig{Delay: 10 * time.Millisecond})})
		var n atomic.Int32
		err := p.Run(context.Background(), func(ctx context.Context) error {
			if n.Add(1) == 1 {
				<-ctx.Done()
				return ctx.Err()
			}
			return nil
		})
		if err != nil || n.Load() != 2 {
			t.Fatalf("Run: %v after %d copies, want nil after 2", err, n.Load())
		}
		c := &copies{sleeps: []time.Duration{time.Second, time.Millisecond}}
		o := core.Execute(context.Background(), p, c.fn)
		if o.Err != nil || o.Value != 1 || o.Attempts != 1 || o.Elapsed != 11*time.Millisecond {
			t.Fatalf("Execute: %+v, want the hedge's 1 in one attempt of 11ms", o)
		}
	})
}

// With a Percentile, the delay follows the recent latencies, never below
// Delay.
func TestHedgePercentileDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHedger(t, core.HedgeConfig{Delay: time.Millisecond, Percentile: 0.9, Window: 100})
		p, _ := newHedgedPolicy(t, core.PolicyConfig{Hedge: h})
		for i := range 100 {
			d := time.Duration(i%10+1) * 2 * time.Millisecond // 2ms..20ms
			c := &copies{sleeps: []time.Duration{d, d}}
			if _, err := core.Do(context.Background(), p, c.fn); err != nil {
				t.Fatal(err)
			}
			if i == 0 && h.Delay() != time.Millisecond {
				t.Fatalf("delay %v before enough samples, want Delay", h.Delay())
			}
		}
		// The copies cut short by a hedge still count above the delay, so
		// the 90th percentile is within the slow tail.
		if d := h.Delay(); d < 10*time.Millisecond || d > 20*time.Millisecond+time.Microsecond {
			t.Errorf("delay %v, want the 90th percentile of 2..20ms", d)
		}
	})
}

// Step drivers hedge with core.Hedged; discard gets the losers' values.
func TestHedgedStep(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, rec := newHedgedPolicy(t, core.PolicyConfig{Hedge: newHedger(t, core.HedgeConfig{Delay: 10 * time.Millisecond})})
		var discarded []int
		var mu sync.Mutex
		var s core.Step
		s.Begin(context.Background(), p, nil)
		defer s.Close()
		var got int
		for s.Next() {
			v, err := core.Hedged(&s, func(ctx context.Context, hedge int) (int, error) {
				d := time.Second
				if hedge == 1 {
					d = time.Millisecond
				}
				select {
				case <-time.After(d):
					return hedge + 10, nil
				case <-ctx.Done():
					return hedge + 100, ctx.Err()
				}
			}, func(v int) { mu.Lock(); discarded = append(discarded, v); mu.Unlock() })
			got = v
			s.End(err)
		}
		if s.Err() != nil || got != 11 {
			t.Fatalf("got %d, %v; want hedge 1's 11", got, s.Err())
		}
		if len(discarded) != 1 || discarded[0] != 100 {
			t.Errorf("discarded %v, want the first copy's 100", discarded)
		}
		if rec.Count(core.EventHedgeWon) != 1 {
			t.Errorf("events %v, want hedge_won", rec.Names())
		}
	})
}

func TestNewHedgerValidates(t *testing.T) {
	for name, tc := range map[string]struct {
		cfg   core.HedgeConfig
		field string
	}{
		"no delay":       {core.HedgeConfig{}, "HedgeConfig.Delay"},
		"percentile 1":   {core.HedgeConfig{Delay: time.Millisecond, Percentile: 1}, "HedgeConfig.Percentile"},
		"negative":       {core.HedgeConfig{Delay: time.Millisecond, Percentile: -0.5}, "HedgeConfig.Percentile"},
		"window":         {core.HedgeConfig{Delay: time.Millisecond, Window: -1}, "HedgeConfig.Window"},
		"negative hedge": {core.HedgeConfig{Delay: time.Millisecond, MaxHedges: -1}, "HedgeConfig.MaxHedges"},
	} {
		_, err := core.NewHedger(tc.cfg)
		var ce *core.ConfigError
		if !errors.As(err, &ce) || ce.Field != tc.field {
			t.Errorf("%s: err %v, want a *ConfigError naming %s", name, err, tc.field)
		}
	}
	h := newHedger(t, core.HedgeConfig{Delay: 5 * time.Millisecond, Percentile: 0.95})
	if got, want := h.String(), `hedger "hedge" (after 5ms or p95 of 1000 attempts, up to 1 hedges)`; got != want {
		t.Errorf("String %q, want %q", got, want)
	}
	var nilH *core.Hedger
	if _, err := core.NewPolicy(core.PolicyConfig{Hedge: nilH}); err != nil {
		t.Errorf("a nil *Hedger: %v, want none (a nil pointer field is off)", err)
	}
}

// With no hedge fired, a hedged call allocates one object, the first
// copy's context (the timer and the results channel are reused; under the
// race detector sync.Pool drops some, hence the margin there); the context
// an operation kept stays usable after the call, cancelled as an attempt
// timeout's would be.
func TestHedgeSuccessPathAllocations(t *testing.T) {
	p, err := core.NewPolicy(core.PolicyConfig{Retry: core.RetryConfig{MaxAttempts: 1}, Hedge: newHedger(t, core.HedgeConfig{Delay: time.Hour})})
	if err != nil {
		t.Fatal(err)
	}
	fn := func(context.Context) (int, error) { return 1, nil }
	ctx := context.Background()
	want := 1.0
	if raceEnabled {
		want = 6
	}
	if n := testing.AllocsPerRun(1000, func() { _, _ = core.Do(ctx, p, fn) }); n > want {
		t.Errorf("%v allocations per call, want at most %v", n, want)
	}
	type key struct{}
	var kept context.Context
	_, _ = core.Do(context.WithValue(ctx, key{}, "v"), p, func(ctx context.Context) (int, error) { kept = ctx; return 1, nil })
	for range 100 { // other calls, which must not share the kept context
		_, _ = core.Do(ctx, p, fn)
	}
	if kept.Value(key{}) != "v" || !errors.Is(kept.Err(), context.Canceled) {
		t.Errorf("kept context: value %v, err %v; want its call's value, canceled", kept.Value(key{}), kept.Err())
	}
	select {
	case <-kept.Done():
	default:
		t.Error("the kept context's Done is not closed after its call")
	}
}

// The hedged group is one attempt for the breaker and the concurrency
// limiter: a transient failure of the first copy that a hedge's success
// overtakes is no failure to the breaker, and the group holds one slot.
func TestHedgeIsOneAttemptForTheBreakerAndTheLimiter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		br, err := core.NewBreaker(core.BreakerConfig{Name: "b", ConsecutiveFailures: 1})
		if err != nil {
			t.Fatal(err)
		}
		bh, err := core.NewBulkhead(core.BulkheadConfig{MaxConcurrent: 1})
		if err != nil {
			t.Fatal(err)
		}
		p, _ := newHedgedPolicy(t, core.PolicyConfig{Breaker: br, Concurrency: bh, Hedge: newHedger(t, core.HedgeConfig{Delay: 10 * time.Millisecond})})
		c := &copies{sleeps: []time.Duration{20 * time.Millisecond, 20 * time.Millisecond}, errs: []error{core.Transient(errors.New("slow and failing"))}}
		inFlight := -1
		v, err := core.Do(context.Background(), p, func(ctx context.Context) (int, error) {
			if n := bh.InFlight(); n > inFlight {
				inFlight = n
			}
			return c.fn(ctx)
		})
		if err != nil || v != 1 {
			t.Fatalf("got %d, %v; want the hedge's 1", v, err)
		}
		if br.State() != core.StateClosed {
			t.Errorf("breaker %v, want closed: the group succeeded", br.State())
		}
		if inFlight != 1 || bh.InFlight() != 0 {
			t.Errorf("slots in flight %d during the group, %d after; want 1 and 0", inFlight, bh.InFlight())
		}
	})
}

// A first copy that panics: the hedge sent is cancelled and waited for,
// its value discarded, and the panic goes on.
func TestHedgeFirstCopyPanics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, _ := newHedgedPolicy(t, core.PolicyConfig{Hedge: newHedger(t, core.HedgeConfig{Delay: 10 * time.Millisecond})})
		var hedgeEnded atomic.Bool
		func() {
			defer func() {
				if r := recover(); r != "boom" {
					t.Fatalf("recovered %v, want boom", r)
				}
			}()
			var n atomic.Int32
			_, _ = core.Do(context.Background(), p, func(ctx context.Context) (int, error) {
				if n.Add(1) == 2 {
					<-ctx.Done()
					hedgeEnded.Store(true)
					return 0, ctx.Err()
				}
				time.Sleep(20 * time.Millisecond)
				panic("boom")
			})
		}()
		if !hedgeEnded.Load() {
			t.Error("the hedge was still running when the panic went on")
		}
	})
}

// Many concurrent hedged calls on one Hedger, half of them hedged: every
// call gets an answer, no goroutine is left (goleak in TestMain).
func TestHedgeConcurrentCalls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHedger(t, core.HedgeConfig{Delay: 5 * time.Millisecond, Percentile: 0.5, Window: 64, MaxHedges: 2})
		p, rec := newHedgedPolicy(t, core.PolicyConfig{Hedge: h})
		var wg sync.WaitGroup
		for i := range 200 {
			wg.Go(func() {
				c := &copies{sleeps: []time.Duration{time.Duration(i%20) * time.Millisecond, time.Millisecond, time.Millisecond}}
				if _, err := core.Do(context.Background(), p, c.fn); err != nil {
					t.Errorf("call %d: %v", i, err)
				}
			})
		}
		wg.Wait()
		if rec.Count(core.EventHedge) == 0 || rec.Count(core.EventSuccess) != 200 {
			t.Errorf("%d hedges, %d successes; want some and 200", rec.Count(core.EventHedge), rec.Count(core.EventSuccess))
		}
	})
}

// A hedge whose value is a nil interface wins like any other.
func TestHedgeNilInterfaceValue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, _ := newHedgedPolicy(t, core.PolicyConfig{Hedge: newHedger(t, core.HedgeConfig{Delay: 10 * time.Millisecond})})
		var n atomic.Int32
		v, err := core.Do(context.Background(), p, func(ctx context.Context) (any, error) {
			if n.Add(1) == 1 {
				<-ctx.Done()
				return "first", ctx.Err()
			}
			return nil, nil
		})
		if err != nil || v != nil || n.Load() != 2 {
			t.Fatalf("got %v, %v after %d copies; want the hedge's nil", v, err, n.Load())
		}
	})
}

// The first copy's context, cancelled because a hedge won, tells
// context.Cause it was canceled (net/http returns the Cause of a canceled
// request's context as its error).
func TestHedgeFirstCopyCause(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, _ := newHedgedPolicy(t, core.PolicyConfig{Hedge: newHedger(t, core.HedgeConfig{Delay: 10 * time.Millisecond})})
		var n atomic.Int32
		var cause, errAfter error
		caller, stop := context.WithCancel(context.Background()) // a cancelCtx above the attempt
		defer stop()
		_, err := core.Do(caller, p, func(ctx context.Context) (int, error) {
			if n.Add(1) == 1 {
				<-ctx.Done()
				cause, errAfter = context.Cause(ctx), ctx.Err()
				return 0, cause
			}
			return 1, nil
		})
		if err != nil || !errors.Is(cause, context.Canceled) || !errors.Is(errAfter, context.Canceled) {
			t.Fatalf("call %v; first copy's cause %v, err %v; want canceled", err, cause, errAfter)
		}
		// The caller's own cause still shows through.
		boom := errors.New("caller gave up")
		ctx, cancel := context.WithCancelCause(context.Background())
		time.AfterFunc(5*time.Millisecond, func() { cancel(boom) })
		_, err = core.Do(ctx, p, func(ctx context.Context) (int, error) {
			<-ctx.Done()
			cause = context.Cause(ctx)
			return 0, ctx.Err()
		})
		if !errors.Is(cause, boom) || !errors.Is(err, context.Canceled) {
			t.Fatalf("cause %v, err %v; want the caller's cause, canceled", cause, err)
		}
	})
}
