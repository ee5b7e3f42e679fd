package redressdebug_test

import (
	"context"
	"errors"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/redress-go/redress/core"
	"github.com/redress-go/redress/core/coretest"
	redressdebug "github.com/redress-go/redress/instrument/debugpage"
)

func heap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestMemoryBound fills a page with the defaults to 1,000 operations, with
// every second of the ring and every slot written, and measures the heap the
// page holds: at most 1 MiB when the calls succeed, and at most 1.5 MiB in
// the worst case, every operation with its 5 failure slots full of error
// text of the longest kept length (96 bytes). The bounds are those stated in
// the package doc.
func TestMemoryBound(t *testing.T) {
	for _, c := range []struct {
		name  string
		fail  bool
		bound int64
	}{
		{"successes", false, 1 << 20},
		{"worst case", true, 3 << 19},
	} {
		t.Run(c.name, func(t *testing.T) {
			grown, v := fill(t, c.fail)
			if len(v.Operations) != redressdebug.DefaultMaxOperations {
				t.Fatalf("%d operations", len(v.Operations))
			}
			if c.fail && len(v.Operations[0].RecentFailures) != redressdebug.DefaultMaxFailures {
				t.Fatalf("%d failures", len(v.Operations[0].RecentFailures))
			}
			t.Logf("1,000 operations: %d bytes (%.0f per operation)", grown, float64(grown)/1000)
			if grown > c.bound {
				t.Errorf("the page holds %d bytes for 1,000 operations, more than the stated %d", grown, c.bound)
			}
		})
	}
}

func fill(t *testing.T, fail bool) (int64, redressdebug.View) {
	clk := coretest.NewFakeClock(coretest.StartTime)
	long := errors.New(strings.Repeat("x", 4*redressdebug.DefaultMaxErrorLen))
	ctx := context.Background()
	// The events are built before the first measure: their strings belong
	// to the caller, not to the page.
	events := make([]core.Event, 0, redressdebug.DefaultMaxOperations)
	for i := range redressdebug.DefaultMaxOperations {
		e := core.Event{Kind: core.EventSuccess, Policy: "policy-" + strconv.Itoa(i%10),
			Operation: "GET /some/route/of/typical/length/" + strconv.Itoa(i), Attempt: 1, Outcome: core.OutcomeSuccess}
		if fail {
			e.Kind, e.Attempt, e.Class, e.StopReason, e.Outcome, e.Err = core.EventMaxAttemptsExceeded, 3, core.ClassTransient, core.StopMaxAttempts, core.OutcomeFailure, long
		}
		events = append(events, e)
	}
	before := heap()
	p, err := redressdebug.New(redressdebug.Config{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	for s := range 60 { // every second of the ring and every slot written
		for _, e := range events[:min(len(events), 1+s*len(events)/10)] {
			p.Handle(ctx, e)
		}
		clk.Advance(1e9)
	}
	for _, e := range events {
		for range redressdebug.DefaultMaxFailures {
			p.Handle(ctx, e)
		}
	}
	after := heap()
	runtime.KeepAlive(events)
	v := p.Snapshot()
	return int64(after) - int64(before), v
}

// TestBreakerMemoryBound measures what the page holds per breaker: 1,000
// breakers (the default bound), each with its 10 transition slots full.
func TestBreakerMemoryBound(t *testing.T) {
	const bound = 512 << 10
	clk := coretest.NewFakeClock(coretest.StartTime)
	brs := make([]*core.Breaker, redressdebug.DefaultMaxOperations)
	for i := range brs {
		brs[i], _ = core.NewBreaker(core.BreakerConfig{Name: "host-" + strconv.Itoa(i) + ".example.com:443"})
	}
	ctx := context.Background()
	before := heap()
	p, err := redressdebug.New(redressdebug.Config{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range brs {
		for i := range 2 * redressdebug.DefaultMaxTransitions {
			k, st := core.EventCircuitOpened, core.StateOpen
			if i%2 == 1 {
				k, st = core.EventCircuitClosed, core.StateClosed
			}
			p.Handle(ctx, core.Event{Kind: k, Policy: "http", Breaker: b, BreakerState: st})
		}
	}
	grown := int64(heap()) - int64(before)
	if v := p.Snapshot(); len(v.Breakers) != len(brs) || len(v.Breakers[0].Transitions) != redressdebug.DefaultMaxTransitions {
		t.Fatalf("%d breakers, %d transitions", len(v.Breakers), len(v.Breakers[0].Transitions))
	}
	runtime.KeepAlive(brs)
	t.Logf("1,000 breakers: %d bytes (%.0f per breaker)", grown, float64(grown)/1000)
	if grown > bound {
		t.Errorf("the page holds %d bytes for 1,000 breakers, more than the stated %d", grown, bound)
	}
}
