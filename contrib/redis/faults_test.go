package redressredis

import (
	"context"
	"testing"
	"time"

	"github.com/redress-go/redress/core"
	"github.com/redress-go/redress/core/coretest"
)

// waitFor polls cond until it holds; it fails the test after limit. It
// waits for the store's own loop to react, not for a guessed duration.
func waitFor(t *testing.T, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, limit)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestCallsKeepTheirLatencyWhileRedisIsPausedAndKilled runs calls through a
// policy on a shared budget while the test's own Redis is paused (CLIENT
// PAUSE), then killed, then restarted on the same port: no call ever takes
// as long as the store's timeout (none waits on Redis), the store degrades
// and is restored with an event each, and the lease refills after the
// restart.
func TestCallsKeepTheirLatencyWhileRedisIsPausedAndKilled(t *testing.T) {
	srv := startOwnRedis(t)
	rec := &coretest.Recorder{Want: core.SharedStateEvents}
	const timeout = 50 * time.Millisecond
	s, err := NewStore(StoreConfig{Client: srv.client(), Prefix: "faults", Timeout: timeout, SyncInterval: 5 * time.Millisecond, Bus: core.NewBus(rec)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	b, err := NewBudget(s, BudgetConfig{Name: "faults", Budget: core.BudgetConfig{MaxRetries: 1000, Window: time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := core.NewPolicy(core.PolicyConfig{Budget: b.Core(), Sleeper: coretest.InstantSleeper{}, Retry: core.RetryConfig{MaxAttempts: 2}})
	if err != nil {
		t.Fatal(err)
	}
	var slowest time.Duration
	calls := 0
	call := func() {
		start := time.Now()
		_ = p.Run(context.Background(), func(context.Context) error { return coretest.ClassErr(core.ClassTransient) })
		slowest = max(slowest, time.Since(start))
		calls++
	}
	callUntil := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 10s", what)
			}
			call()
			time.Sleep(100 * time.Microsecond)
		}
	}
	callUntil("first lease", func() bool { return b.Held() > 0 })

	admin := srv.client()
	if err := admin.Do(context.Background(), "CLIENT", "PAUSE", 3000, "ALL").Err(); err != nil {
		t.Fatal(err)
	}
	callUntil("degraded while paused", s.Degraded)
	for range 200 {
		call() // degraded: the local window decides
	}
	srv.kill()
	for range 200 {
		call()
	}
	if !s.Degraded() {
		t.Error("not degraded with Redis killed")
	}
	srv.start()
	callUntil("restored after the restart", func() bool { return !s.Degraded() })
	callUntil("lease refilled after the restart", func() bool { return b.Held() > 0 })

	t.Logf("%d calls; slowest %v (store timeout %v)", calls, slowest, timeout)
	if slowest >= timeout {
		t.Errorf("a call took %v, as long as the store's timeout %v: it waited on Redis", slowest, timeout)
	}
	// One spell at least (the pause and the kill); a loaded machine may
	// add one where a command outlived the timeout, which is what the
	// timeout is for. Spells alternate, one event each, and the last is a
	// restore.
	got := rec.Names()
	if len(got) < 2 || len(got)%2 != 0 {
		t.Fatalf("events = %v, want degraded/restored pairs", got)
	}
	for i, n := range got {
		if want := [2]string{"shared_state_degraded", "shared_state_restored"}[i%2]; n != want {
			t.Errorf("event %d = %s, want %s: %v", i, n, want, got)
		}
	}
	if s.Degradations() != uint64(len(got)/2) || s.Restorations() != s.Degradations() {
		t.Errorf("Degradations %d, Restorations %d; want one each per pair of events (%d)", s.Degradations(), s.Restorations(), len(got)/2)
	}
	ttl, err := srv.client().PTTL(context.Background(), b.Key()).Result()
	if err != nil || ttl <= 0 || ttl > 2*time.Second {
		t.Errorf("PTTL(%s) after the restart = %v, %v; want at most twice the window", b.Key(), ttl, err)
	}
}
