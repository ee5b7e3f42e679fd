package core_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/redress-go/redress/core"
	"github.com/redress-go/redress/core/coretest"
)

// holder runs calls that hold their slot until released.
type holder struct {
	p       *core.Policy
	release chan struct{}
	started chan struct{}
	wg      sync.WaitGroup
}

func newHolder(p *core.Policy) *holder {
	return &holder{p: p, release: make(chan struct{}), started: make(chan struct{}, 64)}
}

// hold starts a call that blocks inside its attempt until h.release closes.
func (h *holder) hold(ctx context.Context) {
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		_ = h.p.Run(ctx, func(context.Context) error {
			h.started <- struct{}{}
			<-h.release
			return nil
		})
	}()
	<-h.started
}

func (h *holder) done() { close(h.release); h.wg.Wait() }

func TestBulkheadRefusesBeyondItsSlots(t *testing.T) {
	bh, err := core.NewBulkhead(core.BulkheadConfig{Name: "db", MaxConcurrent: 2})
	if err != nil {
		t.Fatal(err)
	}
	rec := &coretest.Recorder{}
	p, err := core.NewPolicy(core.PolicyConfig{Concurrency: bh, Bus: core.NewBus(rec), Retry: core.RetryConfig{MaxAttempts: 3}})
	if err != nil {
		t.Fatal(err)
	}
	h := newHolder(p)
	h.hold(context.Background())
	h.hold(context.Background())
	if n := bh.InFlight(); n != 2 {
		t.Fatalf("in flight %d, want 2", n)
	}
	err = p.Run(context.Background(), func(context.Context) error { t.Error("a third attempt ran"); return nil })
	var ce *core.ConcurrencyLimitedError
	if !errors.As(err, &ce) || ce.Limiter != "db" || ce.Limit != 2 || ce.InFlight != 2 || !errors.Is(err, core.ErrConcurrencyLimited) {
		t.Fatalf("err %v, want a *ConcurrencyLimitedError of db (2 of 2)", err)
	}
	if r, ok := core.StopReasonOf(err); !ok || r != core.StopConcurrencyLimited {
		t.Errorf("stop reason %v, want concurrency_limited", r)
	}
	if cl := core.DefaultClassifier(ce); cl.Class != core.ClassRateLimit || cl.Reason != "concurrency_limited" {
		t.Errorf("classification %+v, want rate_limit / concurrency_limited", cl)
	}
	if rec.Count(core.EventConcurrencyLimited) != 1 {
		t.Errorf("events %v, want one concurrency_limited", rec.Names())
	}
	h.done()
	if n := bh.InFlight(); n != 0 {
		t.Fatalf("in flight %d after the calls ended, want 0", n)
	}
	if err := p.Run(context.Background(), func(context.Context) error { return nil }); err != nil {
		t.Fatalf("after the slots came back: %v", err)
	}
}

// TestBulkheadQueue: in a synctest bubble, a queued attempt takes the slot
// released before its MaxWait, one beyond MaxQueue is refused at once, and
// one that waits out MaxWait is refused at that instant.
func TestBulkheadQueue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bh, err := core.NewBulkhead(core.BulkheadConfig{MaxConcurrent: 1, MaxQueue: 1, MaxWait: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		p, err := core.NewPolicy(core.PolicyConfig{Concurrency: bh, Retry: core.RetryConfig{MaxAttempts: 1}})
		if err != nil {
			t.Fatal(err)
		}
		h := newHolder(p)
		h.hold(context.Background())

		queued := make(chan error, 1)
		go func() { queued <- p.Run(context.Background(), func(context.Context) error { return nil }) }()
		synctest.Wait() // it waits in the queue
		start := time.Now()
		err = p.Run(context.Background(), func(context.Context) error { return nil })
		if !errors.Is(err, core.ErrConcurrencyLimited) || time.Since(start) != 0 {
			t.Fatalf("beyond the queue: %v after %v, want refused at once", err, time.Since(start))
		}
		time.Sleep(50 * time.Millisecond)
		h.done() // the slot frees within the queued call's wait
		if err := <-queued; err != nil {
			t.Fatalf("queued call: %v, want it to get the slot", err)
		}

		h = newHolder(p)
		h.hold(context.Background())
		start = time.Now()
		err = p.Run(context.Background(), func(context.Context) error { return nil })
		if !errors.Is(err, core.ErrConcurrencyLimited) || time.Since(start) != 100*time.Millisecond {
			t.Fatalf("queued past MaxWait: %v after %v, want refused after 100ms", err, time.Since(start))
		}
		ctx, cancel := context.WithCancel(context.Background())
		go func() { time.Sleep(10 * time.Millisecond); cancel() }()
		err = p.Run(ctx, func(context.Context) error { return nil })
		if r, _ := core.StopReasonOf(err); r != core.StopCanceled {
			t.Fatalf("canceled in the queue: %v (stop %v), want canceled", err, r)
		}
		h.done()
	})
}

// TestConcurrencySlotReleased: the slot comes back when the breaker
// refuses the attempt, when the caller cancels, when the attempt panics
// (Step.Close) and when it fails.
func TestConcurrencySlotReleased(t *testing.T) {
	bh, err := core.NewBulkhead(core.BulkheadConfig{MaxConcurrent: 1})
	if err != nil {
		t.Fatal(err)
	}
	clk := coretest.NewFakeClock(time.Unix(1000, 0))
	br := mustBreaker(t, core.BreakerConfig{FailureThreshold: 1, RecoveryTimeout: time.Minute, HalfOpenProbes: 1, Clock: clk})
	p, err := core.NewPolicy(core.PolicyConfig{Concurrency: bh, Breaker: br, Retry: core.RetryConfig{MaxAttempts: 1}, Clock: clk, Sleeper: clk})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := p.Run(ctx, func(context.Context) error { return coretest.ClassErr(core.ClassServerError) }); err == nil {
		t.Fatal("the failing call succeeded")
	}
	if bh.InFlight() != 0 {
		t.Fatal("a failed attempt kept its slot")
	}
	if err := p.Run(ctx, func(context.Context) error { return nil }); !errors.Is(err, core.ErrCircuitOpen) {
		t.Fatalf("err %v, want the open breaker's refusal", err)
	}
	if bh.InFlight() != 0 {
		t.Fatal("an attempt the breaker refused kept its slot")
	}
	clk.Advance(time.Minute)
	func() {
		defer func() { _ = recover() }()
		_ = p.Run(ctx, func(context.Context) error { panic("boom") })
	}()
	if bh.InFlight() != 0 {
		t.Fatal("a panicking attempt kept its slot")
	}
	cctx, cancel := context.WithCancel(ctx)
	_ = p.Run(cctx, func(context.Context) error { cancel(); return cctx.Err() })
	if bh.InFlight() != 0 {
		t.Fatal("a canceled attempt kept its slot")
	}
}

// adaptiveRun drives l as n attempts in flight at once, each taking rtt on
// the fake clock, for w windows; failed marks them all failed.
func adaptiveRun(t *testing.T, l *core.AdaptiveLimiter, clk *coretest.FakeClock, n int, rtt time.Duration, samples int, o core.SlotOutcome) {
	t.Helper()
	for done := 0; done < samples; {
		toks := make([]int64, 0, n)
		for range n {
			tok, err := l.Acquire(context.Background())
			if err != nil {
				break
			}
			toks = append(toks, tok)
		}
		if len(toks) == 0 {
			t.Fatal("no slot at all")
		}
		clk.Advance(rtt)
		for _, tok := range toks {
			l.Release(tok, o)
		}
		done += len(toks)
	}
}

func TestAdaptiveLimiterFollowsLatency(t *testing.T) {
	clk := coretest.NewFakeClock(time.Unix(1000, 0))
	l, err := core.NewAdaptiveLimiter(core.AdaptiveLimiterConfig{InitialLimit: 10, MaxLimit: 100, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	// Full use at steady latency: the limit grows.
	adaptiveRun(t, l, clk, 1000, 10*time.Millisecond, 400, core.SlotSucceeded)
	grown := l.Limit()
	if grown <= 10 {
		t.Fatalf("limit %d after steady full use, want it above 10", grown)
	}
	// Latency triples (the downstream queues): the limit shrinks.
	adaptiveRun(t, l, clk, 1000, 30*time.Millisecond, 300, core.SlotSucceeded)
	shrunk := l.Limit()
	if shrunk >= grown {
		t.Fatalf("limit %d after latency tripled, want below %d", shrunk, grown)
	}
	// Failures cut it by a tenth each.
	before := l.Limit()
	tok, _ := l.Acquire(context.Background())
	l.Release(tok, core.SlotFailed)
	if got := l.Limit(); got >= before && before > 1 {
		t.Errorf("limit %d after a failure, want below %d", got, before)
	}
	// Beyond the limit: refused at once.
	lim := l.Limit()
	toks := make([]int64, 0, lim)
	for range lim {
		tk, err := l.Acquire(context.Background())
		if err != nil {
			t.Fatalf("slot within the limit %d refused: %v", lim, err)
		}
		toks = append(toks, tk)
	}
	_, err = l.Acquire(context.Background())
	var ce *core.ConcurrencyLimitedError
	if !errors.As(err, &ce) || ce.Limit != lim || ce.InFlight != lim {
		t.Fatalf("over the limit: %v, want a *ConcurrencyLimitedError (%d of %d)", err, lim, lim)
	}
	for _, tk := range toks {
		l.Release(tk, core.SlotIgnored)
	}
	if l.InFlight() != 0 {
		t.Errorf("in flight %d after every release", l.InFlight())
	}
}

func TestAdaptiveLimiterDoesNotGrowAppLimited(t *testing.T) {
	clk := coretest.NewFakeClock(time.Unix(1000, 0))
	l, err := core.NewAdaptiveLimiter(core.AdaptiveLimiterConfig{InitialLimit: 20, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	adaptiveRun(t, l, clk, 3, 10*time.Millisecond, 500, core.SlotSucceeded) // 3 of 20 slots used
	if got := l.Limit(); got != 20 {
		t.Errorf("limit %d after light use, want it to stay 20", got)
	}
}

func TestConcurrencyConfigErrors(t *testing.T) {
	var nilClk *coretest.FakeClock
	for _, tc := range []struct {
		name  string
		err   error
		field string
	}{
		{"bulkhead zero", bulkheadErr(core.BulkheadConfig{}), "BulkheadConfig.MaxConcurrent"},
		{"bulkhead queue without wait", bulkheadErr(core.BulkheadConfig{MaxConcurrent: 1, MaxQueue: 1}), "BulkheadConfig.MaxWait"},
		{"bulkhead wait without queue", bulkheadErr(core.BulkheadConfig{MaxConcurrent: 1, MaxWait: time.Second}), "BulkheadConfig.MaxQueue"},
		{"bulkhead negative queue", bulkheadErr(core.BulkheadConfig{MaxConcurrent: 1, MaxQueue: -1}), "BulkheadConfig.MaxQueue"},
		{"adaptive max below min", adaptiveErr(core.AdaptiveLimiterConfig{MinLimit: 5, MaxLimit: 2, InitialLimit: 3}), "AdaptiveLimiterConfig.MaxLimit"},
		{"adaptive initial outside", adaptiveErr(core.AdaptiveLimiterConfig{InitialLimit: 500, MaxLimit: 100}), "AdaptiveLimiterConfig.InitialLimit"},
		{"adaptive smoothing", adaptiveErr(core.AdaptiveLimiterConfig{Smoothing: 2}), "AdaptiveLimiterConfig.Smoothing"},
		{"adaptive nil clock", adaptiveErr(core.AdaptiveLimiterConfig{Clock: nilClk}), "AdaptiveLimiterConfig.Clock"},
		{"policy typed nil", policyErr(core.PolicyConfig{Concurrency: (*core.Bulkhead)(nil)}), "Concurrency"},
	} {
		var ce *core.ConfigError
		if !errors.As(tc.err, &ce) || ce.Field != tc.field {
			t.Errorf("%s: %v, want a ConfigError naming %s", tc.name, tc.err, tc.field)
		}
	}
	bh, _ := core.NewBulkhead(core.BulkheadConfig{MaxConcurrent: 4})
	al, _ := core.NewAdaptiveLimiter(core.AdaptiveLimiterConfig{})
	if s := bh.String() + " / " + al.String(); !strings.Contains(s, `bulkhead "bulkhead" (4 at once`) || !strings.Contains(s, `"adaptive" (limit 20)`) {
		t.Errorf("String() = %q", s)
	}
}

func bulkheadErr(c core.BulkheadConfig) error { _, err := core.NewBulkhead(c); return err }
func adaptiveErr(c core.AdaptiveLimiterConfig) error {
	_, err := core.NewAdaptiveLimiter(c)
	return err
}
func policyErr(c core.PolicyConfig) error { _, err := core.NewPolicy(c); return err }
