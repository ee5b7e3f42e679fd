package core_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redress-go/redress/core"
	"github.com/redress-go/redress/core/coretest"
)

func newRatePolicy(t *testing.T, rc core.RateLimiterConfig, pc core.PolicyConfig) (*core.Policy, *core.RateLimiter, *coretest.FakeClock, *coretest.Recorder) {
	t.Helper()
	clk := coretest.NewFakeClock(time.Unix(1_000_000, 0))
	rc.Clock = clk
	rl, err := core.NewRateLimiter(rc)
	if err != nil {
		t.Fatal(err)
	}
	rec := &coretest.Recorder{}
	pc.Limiter, pc.Clock, pc.Sleeper, pc.Bus = rl, clk, clk, core.NewBus(rec)
	p, err := core.NewPolicy(pc)
	if err != nil {
		t.Fatal(err)
	}
	return p, rl, clk, rec
}

func TestRateLimiterRejectsBeyondTheBurst(t *testing.T) {
	p, _, clk, rec := newRatePolicy(t, core.RateLimiterConfig{Name: "api", Rate: 10, Burst: 2}, core.PolicyConfig{})
	ok := func(context.Context) error { return nil }
	for i := range 2 {
		if err := p.Run(context.Background(), ok); err != nil {
			t.Fatalf("call %d within the burst: %v", i, err)
		}
	}
	err := p.Run(context.Background(), ok)
	var le *core.LimitedError
	if !errors.As(err, &le) || le.Limiter != "api" || le.RetryIn != 100*time.Millisecond || !errors.Is(err, core.ErrLimited) {
		t.Fatalf("third call: %v, want a *LimitedError of api retrying in 100ms", err)
	}
	if r, _ := core.StopReasonOf(err); r != core.StopLimited {
		t.Errorf("stop reason %v, want limited", r)
	}
	if len(clk.Sleeps()) != 0 || rec.Count(core.EventRateLimitWait) != 0 {
		t.Errorf("reject mode slept %v / published %d waits", clk.Sleeps(), rec.Count(core.EventRateLimitWait))
	}
	clk.Advance(100 * time.Millisecond)
	if err := p.Run(context.Background(), ok); err != nil {
		t.Fatalf("after the refill: %v", err)
	}
}

func TestRateLimiterWaitsForItsTurn(t *testing.T) {
	p, _, clk, rec := newRatePolicy(t, core.RateLimiterConfig{Rate: 10, Burst: 1, MaxWait: time.Second}, core.PolicyConfig{})
	calls := 0
	for range 3 {
		if err := p.Run(context.Background(), func(context.Context) error { calls++; return nil }); err != nil {
			t.Fatal(err)
		}
	}
	if calls != 3 {
		t.Fatalf("%d calls made, want 3", calls)
	}
	if got := clk.Sleeps(); len(got) != 2 || got[0] != 100*time.Millisecond || got[1] != 100*time.Millisecond {
		t.Fatalf("slept %v, want two waits of 100ms", got)
	}
	var waits []core.Event
	for _, e := range rec.All() {
		if e.Kind == core.EventRateLimitWait {
			waits = append(waits, e)
		}
	}
	if len(waits) != 2 || waits[0].Sleep != 100*time.Millisecond || waits[0].Attempt != 1 {
		t.Fatalf("rate_limit_wait events %+v, want two of 100ms on attempt 1", waits)
	}
}

func TestRateLimiterTokensForRetries(t *testing.T) {
	p, _, clk, _ := newRatePolicy(t, core.RateLimiterConfig{Rate: 10, Burst: 1, MaxWait: time.Second},
		core.PolicyConfig{Retry: core.RetryConfig{MaxAttempts: 3, Strategy: core.Constant(0)}})
	attempts := 0
	err := p.Run(context.Background(), func(context.Context) error { attempts++; return coretest.ClassErr(core.ClassTransient) })
	if attempts != 3 || err == nil {
		t.Fatalf("%d attempts, err %v; want 3 failed attempts", attempts, err)
	}
	var waited time.Duration
	for _, d := range clk.Sleeps() {
		waited += d
	}
	if waited != 200*time.Millisecond {
		t.Errorf("waited %v in all (%v), want 200ms: every retry takes a token", waited, clk.Sleeps())
	}
}

func TestRateLimiterRefusesAWaitTooLong(t *testing.T) {
	for _, tc := range []struct {
		name string
		rc   core.RateLimiterConfig
		pc   core.PolicyConfig
	}{
		{"beyond MaxWait", core.RateLimiterConfig{Rate: 10, Burst: 1, MaxWait: 50 * time.Millisecond}, core.PolicyConfig{}},
		{"beyond the call timeout", core.RateLimiterConfig{Rate: 10, Burst: 1, MaxWait: time.Second}, core.PolicyConfig{Timeout: core.TimeoutConfig{Call: 80 * time.Millisecond}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, rl, clk, _ := newRatePolicy(t, tc.rc, tc.pc)
			if err := p.Run(context.Background(), func(context.Context) error { return nil }); err != nil {
				t.Fatal(err)
			}
			err := p.Run(context.Background(), func(context.Context) error { t.Error("a refused attempt ran"); return nil })
			var le *core.LimitedError
			if !errors.As(err, &le) || le.RetryIn != 100*time.Millisecond {
				t.Fatalf("err %v, want a *LimitedError retrying in 100ms", err)
			}
			if len(clk.Sleeps()) != 0 {
				t.Errorf("slept %v before refusing", clk.Sleeps())
			}
			// Nothing was reserved by the refusal: the next token is there in 100ms.
			clk.Advance(100 * time.Millisecond)
			if ok, in := rl.Allow(); !ok {
				t.Errorf("after 100ms: no token (retry in %v); the refusal kept a reservation", in)
			}
		})
	}
}

func TestRateLimiterWaitCanceledGivesTheTokenBack(t *testing.T) {
	p, rl, clk, _ := newRatePolicy(t, core.RateLimiterConfig{Rate: 10, Burst: 1, MaxWait: time.Second}, core.PolicyConfig{})
	if err := p.Run(context.Background(), func(context.Context) error { return nil }); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := p.Run(ctx, func(context.Context) error { t.Error("ran after cancel"); return nil })
	if r, _ := core.StopReasonOf(err); r != core.StopCanceled || !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v (stop %v), want canceled", err, r)
	}
	clk.Advance(100 * time.Millisecond)
	if ok, _ := rl.Allow(); !ok {
		t.Error("the canceled wait kept its token")
	}
}

func TestRateLimiterConfigErrors(t *testing.T) {
	var nilClk *coretest.FakeClock
	for _, tc := range []struct {
		cfg   core.RateLimiterConfig
		field string
	}{
		{core.RateLimiterConfig{}, "RateLimiterConfig.Rate"},
		{core.RateLimiterConfig{Rate: -1}, "RateLimiterConfig.Rate"},
		{core.RateLimiterConfig{Rate: 1, Burst: -1}, "RateLimiterConfig.Burst"},
		{core.RateLimiterConfig{Rate: 1, MaxWait: -1}, "RateLimiterConfig.MaxWait"},
		{core.RateLimiterConfig{Rate: 1, Clock: nilClk}, "RateLimiterConfig.Clock"},
	} {
		_, err := core.NewRateLimiter(tc.cfg)
		var ce *core.ConfigError
		if !errors.As(err, &ce) || ce.Field != tc.field {
			t.Errorf("NewRateLimiter(%+v) = %v, want a ConfigError naming %s", tc.cfg, err, tc.field)
		}
	}
	rl, err := core.NewRateLimiter(core.RateLimiterConfig{Rate: 2.5})
	if err != nil {
		t.Fatal(err)
	}
	if s := rl.String(); !strings.Contains(s, `"rate"`) || !strings.Contains(s, "2.5/s, burst 3") {
		t.Errorf("String() = %q, want the default name and burst 3", s)
	}
}
