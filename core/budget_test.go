package core_test

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redress-go/redress/core"
	"github.com/redress-go/redress/core/coretest"
)

func TestFixedBudgetPerWindow(t *testing.T) {
	clk := coretest.NewFakeClock(coretest.StartTime)
	b := mustBudget(t, core.BudgetConfig{MaxRetries: 3, Window: 10 * time.Second, Clock: clk})
	for i := range 3 {
		if !b.TryWithdraw() {
			t.Fatalf("withdraw %d denied", i)
		}
	}
	eq(t, "4th", b.TryWithdraw(), false)
	eq(t, "utilization", b.Utilization(), 1.0)
	clk.Advance(11 * time.Second)
	eq(t, "after window", b.TryWithdraw(), true)
	eq(t, "remaining", b.Remaining(), 2.0)
	eq(t, "denied", b.Denied(), uint64(1))
}

func TestRatioBudgetFollowsTraffic(t *testing.T) {
	clk := coretest.NewFakeClock(coretest.StartTime)
	b := mustBudget(t, core.BudgetConfig{Ratio: 0.1, MinRetriesPerSecond: 0.5, Window: 10 * time.Second, Clock: clk})
	// Floor: 0.5/s × 10s = 5 retries with no traffic at all.
	eq(t, "floor", b.Remaining(), 5.0)
	for range 100 {
		b.Deposit()
	}
	eq(t, "floor + 10% of 100", b.Remaining(), 15.0)
	granted := 0
	for range 40 {
		if b.TryWithdraw() {
			granted++
		}
	}
	eq(t, "granted", granted, 15)
	clk.Advance(11 * time.Second)
	eq(t, "after the window only the floor is left", b.Remaining(), 5.0)
}

func TestBudgetDefaults(t *testing.T) {
	b := mustBudget(t, core.BudgetConfig{})
	eq(t, "default floor 10/s × 10s", b.Remaining(), 100.0)
}

func TestBudgetWithoutFloor(t *testing.T) {
	clk := coretest.NewFakeClock(coretest.StartTime)
	b := mustBudget(t, core.BudgetConfig{Ratio: 0.5, DisableFloor: true, Clock: clk})
	eq(t, "no traffic, no floor", b.TryWithdraw(), false)
	b.Deposit()
	b.Deposit()
	eq(t, "half of two requests", b.TryWithdraw(), true)
	eq(t, "spent", b.TryWithdraw(), false)
	if _, err := core.NewBudget(core.BudgetConfig{DisableFloor: true, MinRetriesPerSecond: 3}); err == nil {
		t.Error("DisableFloor with MinRetriesPerSecond accepted")
	}
}

// TestFixedBudgetNeverOverspends asks a MaxRetries 10 / 1s budget for a
// token every millisecond for five seconds: no interval of one Window may
// hold more than 10 grants, and a spent budget refills within 1.1 Window.
func TestFixedBudgetNeverOverspends(t *testing.T) {
	for _, start := range []time.Duration{0, 50 * time.Millisecond, 99 * time.Millisecond} {
		t.Run(start.String(), func(t *testing.T) { checkFixedBudget(t, start) })
	}
}

// checkFixedBudget asks from start on (the first grants fall at the end of
// a tenth of the window when start is 99ms).
func checkFixedBudget(t *testing.T, start time.Duration) {
	clk := coretest.NewFakeClock(time.Unix(0, 0))
	const window = time.Second
	b := mustBudget(t, core.BudgetConfig{MaxRetries: 10, Window: window, Clock: clk})
	var grants []time.Duration
	for at := start; at < 5*time.Second; at += time.Millisecond {
		if ok, _ := b.TryWithdrawAt(time.Unix(0, 0).Add(at)); ok {
			grants = append(grants, at)
		}
	}
	for i, g := range grants {
		n := 0
		for _, h := range grants[i:] {
			if h < g+window {
				n++
			}
		}
		if n > 10 {
			t.Fatalf("%d grants within %v from %v: %v", n, window, g, grants[i:i+n])
		}
	}
	for i := 10; i < len(grants); i++ {
		if gap := grants[i] - grants[i-10]; gap > window*11/10 {
			t.Fatalf("grant %d came %v after grant %d, later than 1.1 × Window", i, gap, i-10)
		}
	}
	if len(grants) < 40 {
		t.Fatalf("%d grants in 5s, want at least 40 (10 per 1.1s)", len(grants))
	}
}

// TestBudgetRefundsCancelledRetry: the token of a retry whose sleep is
// cancelled, or that the sleep handler aborts, is given back.
// With the default SystemClock too: the budget then reads the monotonic
// clock only, and the token's time must still find its bucket.
func TestBudgetRefundsCancelledRetry(t *testing.T) {
	for _, how := range []string{"canceled", "aborted", "canceled/system clock", "aborted/system clock"} {
		t.Run(how, func(t *testing.T) {
			clk := coretest.NewFakeClock(time.Unix(0, 0))
			bc := core.BudgetConfig{MaxRetries: 5, Window: time.Minute, Clock: clk}
			if strings.HasSuffix(how, "/system clock") {
				bc.Clock = nil
				how = strings.TrimSuffix(how, "/system clock")
			}
			b := mustBudget(t, bc)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			cfg := core.PolicyConfig{Budget: b, Clock: clk, Retry: core.RetryConfig{MaxAttempts: 3}}
			if how == "canceled" {
				cfg.Sleeper = sleeperFunc(func(ctx context.Context, _ time.Duration) error { cancel(); return ctx.Err() }) // cancels instead of sleeping
			} else {
				cfg.Sleeper = coretest.InstantSleeper{}
				cfg.Retry.SleepHandler = func(context.Context, core.SleepInfo) core.SleepAction { return core.SleepAbort }
			}
			p, err := core.NewPolicy(cfg)
			if err != nil {
				t.Fatal(err)
			}
			err = p.Run(ctx, func(context.Context) error { return coretest.ClassErr(core.ClassTransient) })
			if err == nil {
				t.Fatal("the call succeeded")
			}
			if got := b.Remaining(); got != 5 {
				t.Fatalf("Remaining() = %v after a retry that was not made, want 5", got)
			}
		})
	}
}

// TestBudgetRefundsRetryStoppedAfterSleep: a retry whose token was taken
// but that a check after the sleep stops (here another call opened the
// breaker meanwhile) is not made: its token is given back.
func TestBudgetRefundsRetryStoppedAfterSleep(t *testing.T) {
	clk := coretest.NewFakeClock(time.Unix(0, 0))
	b := mustBudget(t, core.BudgetConfig{MaxRetries: 5, Window: time.Minute, Clock: clk})
	br := mustBreaker(t, core.BreakerConfig{FailureThreshold: 100, RecoveryTimeout: time.Hour, Clock: clk})
	opener := func(ctx context.Context, _ time.Duration) error { // another call trips it during the sleep
		for br.State() != core.StateOpen {
			permit, err := br.Allow()
			if err != nil {
				break
			}
			permit.Failure(core.ClassTransient)
		}
		return ctx.Err()
	}
	p, err := core.NewPolicy(core.PolicyConfig{Budget: b, Breaker: br, Clock: clk, Sleeper: sleeperFunc(opener), Retry: core.RetryConfig{MaxAttempts: 3}})
	if err != nil {
		t.Fatal(err)
	}
	err = p.Run(context.Background(), func(context.Context) error { return coretest.ClassErr(core.ClassTransient) })
	if r, _ := core.StopReasonOf(err); r != core.StopCircuitOpen {
		t.Fatalf("stop = %v, want circuit_open", r)
	}
	if got := b.Remaining(); got != 5 {
		t.Fatalf("Remaining() = %v after a retry the breaker refused, want 5", got)
	}
}

// sleeperFunc adapts a function to core.Sleeper.
type sleeperFunc func(ctx context.Context, d time.Duration) error

func (f sleeperFunc) Sleep(ctx context.Context, d time.Duration) error { return f(ctx, d) }

// The default budget is adaptive: half of the recent requests may be
// retried while at least 70% of the attempts succeed, none (only the
// floor) at 40% or less, linearly between; an explicit Ratio is static
// unless Adaptive is set.
func TestAdaptiveBudgetFollowsHealth(t *testing.T) {
	clk := coretest.NewFakeClock(coretest.StartTime)
	b := mustBudget(t, core.BudgetConfig{DisableFloor: true, Clock: clk})
	for range 1000 {
		b.Deposit()
	}
	eq(t, "healthy: half of 1000", b.Remaining(), 500.0)
	eq(t, "health", b.Health(), 1.0)
	for range 300 { // 30% of the attempts fail: still all of it
		b.Failed()
	}
	if got := b.Remaining(); math.Abs(got-500) > 1e-6 {
		t.Fatalf("30%% failing: remaining %v, want 500", got)
	}
	for range 250 { // 55% fail: 45% succeed, a sixth of the ratio
		b.Failed()
	}
	if got := b.Remaining(); got < 83 || got > 84 {
		t.Fatalf("55%% failing: remaining %v, want ~83.3", got)
	}
	for range 450 { // all fail
		b.Failed()
	}
	eq(t, "down", b.Remaining(), 0.0)
	eq(t, "down: health", b.Health(), 0.0)
	clk.Advance(11 * time.Second) // the failures leave the window
	_ = b.Remaining()
	for range 10 {
		b.Deposit()
	}
	eq(t, "recovered", b.Remaining(), 5.0)

	static := mustBudget(t, core.BudgetConfig{Ratio: 0.5, DisableFloor: true, Clock: clk})
	for range 100 {
		static.Deposit()
		static.Failed() // not adaptive: ignored
	}
	eq(t, "static ratio", static.Remaining(), 50.0)
	eq(t, "static health", static.Health(), 1.0)
	scaled := mustBudget(t, core.BudgetConfig{Ratio: 0.2, Adaptive: true, DisableFloor: true, Clock: clk})
	for range 100 {
		scaled.Deposit()
		scaled.Failed()
	}
	eq(t, "explicit adaptive, down", scaled.Remaining(), 0.0)
	if _, err := core.NewBudget(core.BudgetConfig{MaxRetries: 3, Adaptive: true}); err == nil {
		t.Error("MaxRetries with Adaptive accepted")
	}
}

// Through a policy, the failed attempts of a dead downstream leave only
// the floor: after a healthy start, a hard outage gets about one attempt
// per request; failures of the caller's own (permanent) do not count.
func TestAdaptiveBudgetInAPolicy(t *testing.T) {
	clk := coretest.NewFakeClock(coretest.StartTime)
	b := mustBudget(t, core.BudgetConfig{DisableFloor: true, Clock: clk})
	p, err := core.NewPolicy(core.PolicyConfig{Budget: b, Clock: clk, Sleeper: clk, Retry: core.RetryConfig{MaxAttempts: 3, Strategy: core.Constant(0)}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// 5s of healthy traffic, 1,000 calls per second, a fifth of them
	// failing with the caller's own mistakes.
	for i := range 5000 {
		if i%5 == 0 {
			_ = p.Run(ctx, func(context.Context) error { return core.Permanent(errors.New("bad request")) })
		} else {
			_ = p.Run(ctx, func(context.Context) error { return nil })
		}
		clk.Advance(time.Millisecond)
	}
	eq(t, "permanent failures keep it healthy", b.Health(), 1.0)
	// Then the downstream is down for 3s: from 1s after the onset, about
	// one attempt per request.
	attempts, calls := 0, 0
	for i := range 3000 {
		n := 0
		_ = p.Run(ctx, func(context.Context) error { n++; return core.Transient(errors.New("down")) })
		if i >= 1000 {
			attempts += n
			calls++
		}
		clk.Advance(time.Millisecond)
	}
	if per := float64(attempts) / float64(calls); per > 1.1 {
		t.Fatalf("%.3f attempts per request against a dead downstream from 1s after the onset, want ≤ 1.1", per)
	}
}

// Through a policy, the default budget lets the retries of a partial
// failure through: with 30% of the attempts failing at random and three
// attempts, ≥ 95% of the calls succeed at ≤ 1.5 attempts per call (a
// static 10% or 20% budget starves once its reserve is spent).
func TestAdaptiveBudgetAbsorbsPartialFailure(t *testing.T) {
	clk := coretest.NewFakeClock(coretest.StartTime)
	b := mustBudget(t, core.BudgetConfig{Clock: clk})
	p, err := core.NewPolicy(core.PolicyConfig{Budget: b, Clock: clk, Sleeper: clk, Retry: core.RetryConfig{MaxAttempts: 3, Strategy: core.Constant(0)}})
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	ok, attempts := 0, 0
	const calls = 15000 // 15 s at 1,000 calls per second
	for range calls {
		err := p.Run(context.Background(), func(context.Context) error {
			attempts++
			if r.Float64() < 0.3 {
				return core.Transient(errors.New("503"))
			}
			return nil
		})
		if err == nil {
			ok++
		}
		clk.Advance(time.Millisecond)
	}
	success, per := float64(ok)/calls, float64(attempts)/calls
	if success < 0.95 || per > 1.5 {
		t.Fatalf("success %.3f at %.3f attempts per call; want ≥ 0.95 at ≤ 1.5", success, per)
	}
	t.Logf("success %.3f at %.3f attempts per call", success, per)
}

// TestBudgetCountsFailuresAtTheNextWithdrawal: Failed reads no clock and
// takes no lock; the failures it records are counted by the very next
// withdrawal, as a policy asks for a retry's token right after the failed
// attempt.
func TestBudgetCountsFailuresAtTheNextWithdrawal(t *testing.T) {
	clk := coretest.NewFakeClock(coretest.StartTime)
	b := mustBudget(t, core.BudgetConfig{DisableFloor: true, Clock: clk})
	for range 10 {
		b.Deposit()
	}
	for range 10 {
		b.Failed()
	}
	ok, remaining := b.TryWithdrawAt(clk.Now())
	eq(t, "granted with every attempt failed", ok, false)
	eq(t, "remaining", remaining, 0.0)
	eq(t, "health", b.Health(), 0.0)

	healthy := mustBudget(t, core.BudgetConfig{DisableFloor: true, Clock: clk})
	for range 10 {
		healthy.Deposit()
	}
	ok, remaining = healthy.TryWithdrawAt(clk.Now())
	eq(t, "granted without failures", ok, true)
	eq(t, "remaining without failures", remaining, 4.0)
}

// TestBudgetDepositAndFailedReadNoClock guards the cost of the two calls
// made on every call and every failed attempt: neither reads the clock.
func TestBudgetDepositAndFailedReadNoClock(t *testing.T) {
	clk := &countingClock{now: coretest.StartTime}
	b := mustBudget(t, core.BudgetConfig{Clock: clk})
	before := clk.reads
	for range 100 {
		b.Deposit()
		b.Failed()
	}
	eq(t, "clock reads", clk.reads-before, 0)
}

// TestBudgetFoldsFailuresWithDeposits: failures and deposits left unread
// for longer than the window are folded together, at the same share of the
// window, so the health they give is the one they had.
func TestBudgetFoldsFailuresWithDeposits(t *testing.T) {
	clk := coretest.NewFakeClock(coretest.StartTime)
	b := mustBudget(t, core.BudgetConfig{DisableFloor: true, Window: 10 * time.Second, Clock: clk})
	for range 300 {
		b.Deposit()
	}
	for range 150 {
		b.Failed()
	}
	clk.Advance(20 * time.Second) // unread for twice the window: half of them count
	near(t, "health at 50% failed", b.Health(), 1.0/3)
	near(t, "remaining: half of 150 requests, a third of the ratio", b.Remaining(), 25)
	clk.Advance(3 * time.Second) // the failures leave the last fifth of the window
	eq(t, "health after a fifth of the window", b.Health(), 1.0)
	near(t, "remaining: the requests are still in the window", b.Remaining(), 75)
}

// TestBudgetConcurrentDepositsAndFailures: deposits and failures added
// from several goroutines while others read the budget are all counted,
// once.
func TestBudgetConcurrentDepositsAndFailures(t *testing.T) {
	clk := coretest.NewFakeClock(coretest.StartTime)
	b := mustBudget(t, core.BudgetConfig{DisableFloor: true, Clock: clk})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for i := range 1000 {
				b.Deposit()
				if i%20 < 9 { // 450 of 1000
					b.Failed()
				}
			}
		})
	}
	done := make(chan struct{})
	var readers sync.WaitGroup
	readers.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
				_ = b.Health()
				_ = b.Remaining()
			}
		}
	})
	wg.Wait()
	close(done)
	readers.Wait()
	// 4000 requests, 1800 failed: 55% succeed, half of the ratio.
	near(t, "health", b.Health(), 0.5)
	near(t, "remaining", b.Remaining(), 1000)
}

func near(t *testing.T, what string, got, want float64) {
	t.Helper()
	if math.Abs(got-want) > 1e-9 {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}
