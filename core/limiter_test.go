package core_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redress-go/redress/core"
	"github.com/redress-go/redress/core/coretest"
)

// countLimiter admits its first n attempts.
type countLimiter struct{ n, asked int }

func (l *countLimiter) Allow() (bool, time.Duration) {
	l.asked++
	if l.n > 0 {
		l.n--
		return true, 0
	}
	return false, 250 * time.Millisecond
}

func (l *countLimiter) Name() string { return "fleet" }

func TestLimiterRefusesAttempts(t *testing.T) {
	lim := &countLimiter{n: 1}
	rec := &coretest.Recorder{}
	p, err := core.NewPolicy(core.PolicyConfig{Limiter: lim, Bus: core.NewBus(rec), Sleeper: coretest.InstantSleeper{}, Retry: core.RetryConfig{MaxAttempts: 3}})
	if err != nil {
		t.Fatal(err)
	}
	attempts := 0
	err = p.Run(context.Background(), func(context.Context) error { attempts++; return coretest.ClassErr(core.ClassTransient) })
	if attempts != 1 {
		t.Errorf("%d attempts made, want 1: the limiter refused the retry", attempts)
	}
	var le *core.LimitedError
	if !errors.As(err, &le) || le.Limiter != "fleet" || le.RetryIn != 250*time.Millisecond || !errors.Is(err, core.ErrLimited) {
		t.Fatalf("err = %v, want a *LimitedError of limiter fleet", err)
	}
	if r, ok := core.StopReasonOf(err); !ok || r != core.StopLimited {
		t.Errorf("StopReasonOf = %v, %v; want limited", r, ok)
	}
	if rec.Count(core.EventLimited) != 1 || !core.EventLimited.Rejection() || !core.EventLimited.Terminal() || core.StopLimited.Event() != core.EventLimited {
		t.Errorf("events %v: want one limited, a terminal rejection", rec.Names())
	}
	if cl := core.DefaultClassifier(le); cl.Class != core.ClassRateLimit {
		t.Errorf("class %v, want rate_limit", cl.Class)
	}
	// Refused up front: no attempt at all.
	attempts = 0
	_ = p.Run(context.Background(), func(context.Context) error { attempts++; return nil })
	if attempts != 0 {
		t.Errorf("a refused first attempt was made")
	}
}

func TestPolicyRejectsTypedNilLimiter(t *testing.T) {
	var l *countLimiter
	_, err := core.NewPolicy(core.PolicyConfig{Limiter: l})
	var ce *core.ConfigError
	if !errors.As(err, &ce) || ce.Field != "Limiter" {
		t.Fatalf("NewPolicy = %v, want a ConfigError naming Limiter", err)
	}
}
