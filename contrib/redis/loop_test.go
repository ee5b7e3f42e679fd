package redressredis

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redress-go/redress/core"
	"github.com/redress-go/redress/core/coretest"
)

// tickComp counts its syncs; each sleeps for delay.
type tickComp struct {
	n     atomic.Int32
	delay time.Duration
}

func (c *tickComp) sync(ctx context.Context, _ bool) error {
	c.n.Add(1)
	if c.delay > 0 {
		time.Sleep(c.delay)
	}
	return nil
}

// TestStoreLoopTicksAndKicks: the loop syncs once when a component is
// attached, then once per SyncInterval, and at once when kicked.
func TestStoreLoopTicksAndKicks(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) // never spoken to: nothing fails
	defer c.Close()
	synctest.Test(t, func(t *testing.T) {
		s, err := NewStore(StoreConfig{Client: c, SyncInterval: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		comp := &tickComp{}
		s.attach(comp)
		synctest.Wait()
		if got := comp.n.Load(); got != 1 {
			t.Fatalf("%d syncs after attach, want 1 (the attach wakes the loop)", got)
		}
		time.Sleep(350 * time.Millisecond)
		synctest.Wait()
		if got := comp.n.Load(); got != 4 {
			t.Fatalf("%d syncs after 350ms, want 1 + 3 ticks", got)
		}
		s.kick()
		synctest.Wait()
		if got := comp.n.Load(); got != 5 {
			t.Fatalf("%d syncs after a kick, want 5", got)
		}
	})
}

// TestStoreWatchdogDegradesASlowRound: a round that outlives the timeout
// degrades the store when the timeout passes, not when the round ends (a
// client that ignores the context's deadline waits up to its ReadTimeout).
func TestStoreWatchdogDegradesASlowRound(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer c.Close()
	synctest.Test(t, func(t *testing.T) {
		rec := &coretest.Recorder{Want: core.SharedStateEvents}
		s, err := NewStore(StoreConfig{Client: c, Timeout: 50 * time.Millisecond, SyncInterval: time.Hour, Bus: core.NewBus(rec)})
		if err != nil {
			t.Fatal(err)
		}
		comp := &tickComp{delay: time.Second}
		s.attach(comp)
		time.Sleep(49 * time.Millisecond)
		synctest.Wait()
		if s.Degraded() {
			t.Fatal("degraded before the timeout")
		}
		time.Sleep(2 * time.Millisecond)
		synctest.Wait()
		if !s.Degraded() || rec.Count(core.EventSharedStateDegraded) != 1 || s.LastError() != ErrTimeout {
			t.Fatalf("51ms into a 1s round: degraded %v, events %v, last error %v", s.Degraded(), rec.Names(), s.LastError())
		}
		s.Close() // waits for the round to end
	})
}
