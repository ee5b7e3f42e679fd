package redressredis

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redress-go/redress/core"
)

// TestHoldSeenByEveryReplica: a Retry-After hold taken by one replica's
// breaker is held by the other's after one sync each, expires in Redis with
// the hold, and reaches a breaker that did not exist at first.
func TestHoldSeenByEveryReplica(t *testing.T) {
	c1, c2 := newClient(t), newClient(t)
	prefix := testPrefix(t, c1)
	mk := func(c *redis.Client) (*Store, *HoldGate, *core.Breaker) {
		s, err := NewStore(StoreConfig{Client: c, Prefix: prefix, ManualSync: true, Timeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		g, err := NewHoldGate(s)
		if err != nil {
			t.Fatal(err)
		}
		b, err := core.NewBreaker(core.BreakerConfig{Name: "api"})
		if err != nil {
			t.Fatal(err)
		}
		return s, g, b
	}
	s1, g1, b1 := mk(c1)
	s2, g2, b2 := mk(c2)
	g1.ShareBreaker("api.example.com", b1)
	var late *core.Breaker // replica 2's breaker does not exist yet
	g2.Share("api.example.com", func() *core.Breaker { return late })
	ctx := context.Background()
	b1.Hold(30 * time.Second)
	if err := s1.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s2.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	late = b2
	if b2.HeldFor() != 0 {
		t.Fatal("held before a sync")
	}
	if err := s2.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if h := b2.HeldFor(); h < 29*time.Second || h > 30*time.Second {
		t.Errorf("replica 2 held for %v, want the 30s hold of replica 1", h)
	}
	if _, err := b2.Allow(); err == nil {
		t.Error("replica 2's breaker admits a call during the shared hold")
	}
	key := s1.Key("hold", "api.example.com")
	ttl, err := c1.PTTL(ctx, key).Result()
	if err != nil || ttl < 29*time.Second || ttl > 30*time.Second {
		t.Errorf("PTTL(%s) = %v, %v; want the hold's remaining 30s", key, ttl, err)
	}
	// Syncing again does not lengthen the hold.
	for range 5 {
		_ = s1.Sync(ctx)
		_ = s2.Sync(ctx)
	}
	if h := b1.HeldFor(); h > 30*time.Second {
		t.Errorf("replica 1 held for %v after more syncs: the hold grew", h)
	}
	if ttl2, _ := c1.PTTL(ctx, key).Result(); ttl2 > ttl {
		t.Errorf("TTL grew from %v to %v", ttl, ttl2)
	}
}
