package redressredis

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redress-go/redress/core"
)

func TestNewLimiterRejectsBadConfig(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer c.Close()
	s, err := NewStore(StoreConfig{Client: c, ManualSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, tc := range []struct {
		name  string
		cfg   LimiterConfig
		field string
	}{
		{"no name", LimiterConfig{Rate: 1}, "LimiterConfig.Name"},
		{"no rate", LimiterConfig{Name: "x"}, "LimiterConfig.Rate"},
		{"negative per", LimiterConfig{Name: "x", Rate: 1, Per: -1}, "LimiterConfig.Per"},
		{"tiny per", LimiterConfig{Name: "x", Rate: 1, Per: time.Microsecond}, "LimiterConfig.Per"},
		{"negative burst", LimiterConfig{Name: "x", Rate: 1, Burst: -1}, "LimiterConfig.Burst"},
		{"lease beyond burst", LimiterConfig{Name: "x", Rate: 1, Burst: 2, LeaseSize: 3}, "LimiterConfig.LeaseSize"},
		{"negative local rate", LimiterConfig{Name: "x", Rate: 1, LocalRate: -1}, "LimiterConfig.LocalRate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := NewLimiter(s, tc.cfg)
			var ce *core.ConfigError
			if !errors.As(err, &ce) || ce.Field != tc.field {
				t.Fatalf("NewLimiter = %v, %v; want a ConfigError naming %s", l, err, tc.field)
			}
		})
	}
}

// TestSharedLimiterAdmitsTheFleetRate: two replicas with their own clients
// share a limiter of 5 per minute with a burst of 5: together they are
// admitted exactly 5 attempts (the rate is so slow that no emission
// interval passes during the test), and every refusal is a StopLimited.
func TestSharedLimiterAdmitsTheFleetRate(t *testing.T) {
	c1, c2 := newClient(t), newClient(t)
	prefix := testPrefix(t, c1)
	var stores []*Store
	var policies []*core.Policy
	var limiters []*Limiter
	for _, c := range []*redis.Client{c1, c2} {
		s, err := NewStore(StoreConfig{Client: c, Prefix: prefix, ManualSync: true, Timeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		l, err := NewLimiter(s, LimiterConfig{Name: "search", Rate: 5, Per: time.Minute, Burst: 5, LeaseSize: 2})
		if err != nil {
			t.Fatal(err)
		}
		p, err := core.NewPolicy(core.PolicyConfig{Limiter: l})
		if err != nil {
			t.Fatal(err)
		}
		stores, limiters, policies = append(stores, s), append(limiters, l), append(policies, p)
	}
	ctx := context.Background()
	admitted, limited := 0, 0
	for round := 0; round < 5; round++ {
		for i, s := range stores {
			if err := s.Sync(ctx); err != nil {
				t.Fatal(err)
			}
			for range 3 {
				err := policies[i].Run(ctx, func(context.Context) error { return nil })
				switch r, _ := core.StopReasonOf(err); {
				case err == nil:
					admitted++
				case r == core.StopLimited:
					limited++
				default:
					t.Fatalf("unexpected error %v", err)
				}
			}
		}
	}
	if admitted != 5 || limited != 25 {
		t.Errorf("admitted %d, limited %d; want 5 of the fleet's burst, 25 refused", admitted, limited)
	}
	ttl, err := c1.PTTL(ctx, limiters[0].Key()).Result()
	if err != nil || ttl <= 0 || ttl > time.Minute+2*time.Second {
		t.Errorf("PTTL(%s) = %v, %v; want a TTL until the TAT is past", limiters[0].Key(), ttl, err)
	}
	if _, in := limiters[0].Allow(); in <= 0 {
		t.Errorf("a refusal carries no wait (%v): Redis's answer should give it", in)
	}
}

// TestLimiterFallsBackToLocalRateWhenDegraded: with Redis gone, the local
// GCRA at LocalRate decides: one admission per emission interval.
func TestLimiterFallsBackToLocalRateWhenDegraded(t *testing.T) {
	srv := startOwnRedis(t)
	s, err := NewStore(StoreConfig{Client: srv.client(), ManualSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	l, err := NewLimiter(s, LimiterConfig{Name: "x", Rate: 1000, LocalRate: 1, Per: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	srv.kill()
	if err := s.Sync(context.Background()); err == nil || !s.Degraded() {
		t.Fatalf("sync with Redis gone: %v, degraded %v", err, s.Degraded())
	}
	ok1, _ := l.Allow()
	ok2, wait := l.Allow()
	if !ok1 || ok2 || wait <= 59*time.Minute {
		t.Errorf("local limiter: %v, %v (wait %v); want one admission per hour", ok1, ok2, wait)
	}
}

// TestLocalGCRA: the degraded limiter's GCRA, on explicit times: a burst of
// three, then one per emission interval, with the wait until the next.
func TestLocalGCRA(t *testing.T) {
	g := localGCRA{emit: 100 * time.Millisecond, tau: 200 * time.Millisecond}
	t0 := time.Unix(1000, 0)
	for i := range 3 {
		if ok, _ := g.allow(t0); !ok {
			t.Fatalf("burst admission %d refused", i)
		}
	}
	if ok, wait := g.allow(t0); ok || wait != 100*time.Millisecond {
		t.Fatalf("fourth at once: %v, wait %v; want refused for one interval", ok, wait)
	}
	if ok, _ := g.allow(t0.Add(100 * time.Millisecond)); !ok {
		t.Fatal("refused after one interval")
	}
	if ok, _ := g.allow(t0.Add(150 * time.Millisecond)); ok {
		t.Fatal("admitted half an interval later")
	}
}
