package redressredis

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redress-go/redress/core"
	"github.com/redress-go/redress/core/coretest"
)

func TestNewStoreRejectsBadConfig(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer c.Close()
	var nilClient *redis.Client
	for _, tc := range []struct {
		name  string
		cfg   StoreConfig
		field string
	}{
		{"no client", StoreConfig{}, "StoreConfig.Client"},
		{"typed nil client", StoreConfig{Client: nilClient}, "StoreConfig.Client"},
		{"prefix with braces", StoreConfig{Client: c, Prefix: "a{b}"}, "StoreConfig.Prefix"},
		{"prefix with space", StoreConfig{Client: c, Prefix: "a b"}, "StoreConfig.Prefix"},
		{"negative timeout", StoreConfig{Client: c, Timeout: -1}, "StoreConfig.Timeout"},
		{"negative interval", StoreConfig{Client: c, SyncInterval: -1}, "StoreConfig.SyncInterval"},
		{"manual with interval", StoreConfig{Client: c, ManualSync: true, SyncInterval: time.Second}, "StoreConfig.ManualSync"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewStore(tc.cfg)
			var ce *core.ConfigError
			if !errors.As(err, &ce) || ce.Field != tc.field {
				t.Fatalf("NewStore = %v, %v; want a ConfigError naming %s", s, err, tc.field)
			}
		})
	}
}

func TestStoreKeys(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer c.Close()
	s, err := NewStore(StoreConfig{Client: c, ManualSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got, want := s.Key("budget", "payments"), "redress:budget:{payments}"; got != want {
		t.Errorf("Key = %q, want %q", got, want)
	}
	s2, _ := NewStore(StoreConfig{Client: c, ManualSync: true, Prefix: "tenant-a"})
	defer s2.Close()
	if got, want := s2.Key("hold", "api.example.com"), "tenant-a:hold:{api.example.com}"; got != want {
		t.Errorf("Key = %q, want %q", got, want)
	}
	if s.Timeout() != DefaultTimeout || s.Prefix() != DefaultPrefix || s.Client() != c {
		t.Errorf("defaults: timeout %v prefix %q", s.Timeout(), s.Prefix())
	}
}

// countingComp counts its syncs and fails while fail is set.
type countingComp struct {
	syncs, restored int
	fail            error
}

func (c *countingComp) sync(ctx context.Context, restored bool) error {
	if c.fail != nil {
		return c.fail
	}
	c.syncs++
	if restored {
		c.restored++
	}
	return nil
}

// TestStoreDegradesAndRestores drives a store by hand against a server the
// test starts, kills and restarts: one degraded event per spell, one
// restored event, the components resynchronised once.
func TestStoreDegradesAndRestores(t *testing.T) {
	srv := startOwnRedis(t)
	rec := &coretest.Recorder{Want: core.SharedStateEvents}
	var errs []error
	s, err := NewStore(StoreConfig{Client: srv.client(), ManualSync: true, Timeout: time.Second, Name: "fleet", Bus: core.NewBus(rec), OnError: func(err error) { errs = append(errs, err) }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	comp := &countingComp{}
	detach := s.attach(comp)
	ctx := context.Background()
	if err := s.Sync(ctx); err != nil || comp.syncs != 1 || comp.restored != 1 || s.Degraded() {
		t.Fatalf("first sync: err %v, syncs %d, restored %d, degraded %v", err, comp.syncs, comp.restored, s.Degraded())
	}
	if err := s.Sync(ctx); err != nil || comp.syncs != 2 || comp.restored != 1 {
		t.Fatalf("second sync: err %v, syncs %d, restored %d", err, comp.syncs, comp.restored)
	}

	srv.kill()
	comp.fail = errors.New("injected")
	if err := s.Sync(ctx); err == nil || !s.Degraded() {
		t.Fatalf("sync with the component failing: err %v, degraded %v", err, s.Degraded())
	}
	comp.fail = nil
	for i := 0; i < 3; i++ { // probes fail: the server is gone
		start := time.Now()
		if err := s.Sync(ctx); err == nil {
			t.Fatal("probe of a killed server succeeded")
		}
		if d := time.Since(start); d > s.Timeout()+time.Second {
			t.Errorf("probe took %v, beyond the timeout %v", d, s.Timeout())
		}
	}
	if comp.syncs != 2 {
		t.Errorf("components synced while degraded: %d syncs", comp.syncs)
	}
	if got := rec.Count(core.EventSharedStateDegraded); got != 1 {
		t.Errorf("degraded events = %d, want 1 per spell", got)
	}
	if len(errs) != 4 { // the failure that degraded the store and three probes
		t.Errorf("OnError called %d times, want 4", len(errs))
	}

	srv.start()
	if err := s.Sync(ctx); err != nil || s.Degraded() {
		t.Fatalf("sync after restart: err %v, degraded %v", err, s.Degraded())
	}
	if comp.syncs != 3 || comp.restored != 2 {
		t.Errorf("after restore: syncs %d, restored %d; want 3, 2", comp.syncs, comp.restored)
	}
	if got := rec.Names(); len(got) != 2 || got[0] != "shared_state_degraded" || got[1] != "shared_state_restored" {
		t.Errorf("events = %v", got)
	}
	for _, e := range rec.All() {
		if e.Operation != "fleet" {
			t.Errorf("%s: Operation %q, want the store's name", e.Kind, e.Operation)
		}
	}
	if s.Degradations() != 1 || s.Restorations() != 1 || s.LastError() == nil {
		t.Errorf("Degradations %d, Restorations %d, LastError %v", s.Degradations(), s.Restorations(), s.LastError())
	}
	detach()
	_ = s.Sync(ctx)
	if comp.syncs != 3 {
		t.Errorf("a detached component was synced")
	}
	s.Close()
	if err := s.Sync(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("Sync after Close = %v, want ErrClosed", err)
	}
}

func TestStoreLoopStopsOnClose(t *testing.T) {
	c := newClient(t)
	s, err := NewStore(StoreConfig{Client: c, Prefix: testPrefix(t, c), SyncInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	comp := &syncSignal{ch: make(chan struct{}, 1)}
	s.attach(comp)
	<-comp.ch // the loop synced the component on its own
	s.Close()
	s.Close() // idempotent; goleak checks the loop ended
}

type syncSignal struct{ ch chan struct{} }

func (c *syncSignal) sync(context.Context, bool) error {
	select {
	case c.ch <- struct{}{}:
	default:
	}
	return nil
}
