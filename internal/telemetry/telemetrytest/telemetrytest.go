// Package telemetrytest holds the test helpers the subscriber packages
// share: a scripted run of policies, and the check of Config.OnError.
package telemetrytest

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redress-go/redress/core"
	"github.com/redress-go/redress/core/coretest"
)

// RunPolicies runs, through bus, one call of each named policy that fails
// once with a transient "boom" error and then succeeds.
func RunPolicies(t testing.TB, bus *core.Bus, names ...string) {
	t.Helper()
	for _, name := range names {
		p, err := core.NewPolicy(core.PolicyConfig{Name: name, Bus: bus, Sleeper: coretest.InstantSleeper{}})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		_ = p.Run(context.Background(), func(context.Context) error {
			if n++; n == 1 {
				return core.Transient(errors.New("boom"))
			}
			return nil
		})
	}
}

// CheckOnErrorGetsPanic checks that a subscriber built by build with a
// Policy filter that panics reports each panic to its OnError, as an error
// that wraps the panic's error and names pkg, and that none reaches the
// bus; and, built with a nil OnError, that the panic reaches the bus.
func CheckOnErrorGetsPanic(t *testing.T, pkg string, build func(policy func(string) bool, onError func(error)) core.Subscriber) {
	t.Helper()
	errBad := errors.New("bad filter")
	panicky := func(string) bool { panic(errBad) }
	var mu sync.Mutex
	var got []error
	bus := core.NewBus(build(panicky, func(err error) { mu.Lock(); got = append(got, err); mu.Unlock() }))
	RunPolicies(t, bus, "api")
	if bus.Panics() != 0 {
		t.Errorf("bus recovered %d panics, want 0", bus.Panics())
	}
	mu.Lock()
	if len(got) == 0 {
		t.Error("OnError not called")
	}
	for _, err := range got {
		if !errors.Is(err, errBad) || !strings.Contains(err.Error(), pkg) {
			t.Errorf("OnError got %v, want it to wrap %v and name %s", err, errBad, pkg)
		}
	}
	mu.Unlock()

	bus = core.NewBus(build(panicky, nil))
	bus.SetPanicHandler(func(core.SubscriberPanic) {})
	RunPolicies(t, bus, "api")
	if bus.Panics() == 0 {
		t.Error("without OnError the panic did not reach the bus")
	}
}

// BenchmarkHandle measures a subscriber alone, made by build for each
// sub-benchmark, on the events of a call that succeeds at once (success)
// and of one that fails once and then succeeds (retried).
func BenchmarkHandle(b *testing.B, build func(b *testing.B) core.Subscriber) {
	ms := time.Millisecond
	ok := []core.Event{
		{Kind: core.EventAttemptEnd, Policy: "bench", Operation: "Get", Attempt: 1, AttemptDuration: ms},
		{Kind: core.EventSuccess, Policy: "bench", Operation: "Get", Attempt: 1, Outcome: core.OutcomeSuccess, Elapsed: ms},
	}
	retried := []core.Event{
		{Kind: core.EventAttemptEnd, Policy: "bench", Operation: "Get", Attempt: 1, Err: errBench, Class: core.ClassTransient, AttemptDuration: ms},
		{Kind: core.EventRetry, Policy: "bench", Operation: "Get", Attempt: 1, Class: core.ClassTransient, Sleep: ms},
		ok[0],
		{Kind: core.EventSuccess, Policy: "bench", Operation: "Get", Attempt: 2, Outcome: core.OutcomeSuccessAfterRetry, Elapsed: ms},
	}
	for _, bc := range []struct {
		name string
		evs  []core.Event
	}{{"success", ok}, {"retried", retried}} {
		b.Run(bc.name, func(b *testing.B) {
			s := build(b)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				for _, e := range bc.evs {
					s.Handle(ctx, e)
				}
			}
		})
	}
}

var errBench = errors.New("bench")
