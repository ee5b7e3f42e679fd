package limitsbench

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/redress-go/redress/core"
)

// The overload scenario: a downstream that serves 8 requests at once in
// 10ms each; beyond its capacity, every request's latency grows in
// proportion to the requests in flight (latency = 10ms × in-flight/capacity,
// set when it arrives). Callers arrive open-loop at 1,200 per second, half
// as many again as it can serve (800/s), for 5 seconds of virtual time
// (testing/synctest: the figures are exact and the same on every machine).
// Halfway through, the downstream degrades to a capacity of 1 (a database
// failing over, a noisy neighbour): 100 requests a second. A call is good
// when it succeeds within its 100ms SLO.
const (
	capacity = 8
	degraded = 1
	service  = 10 * time.Millisecond
	arrival  = time.Second / 1200
	span     = 5 * time.Second
	slo      = 100 * time.Millisecond
)

type downstream struct{ inFlight, peak, capacity atomic.Int64 }

func (d *downstream) serve(ctx context.Context) error {
	n := d.inFlight.Add(1)
	defer d.inFlight.Add(-1)
	for {
		p := d.peak.Load()
		if n <= p || d.peak.CompareAndSwap(p, n) {
			break
		}
	}
	c := d.capacity.Load()
	lat := service * time.Duration(max(n, c)) / time.Duration(c)
	t := time.NewTimer(lat)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

type overloadResult struct {
	calls, good, refused int
	good1, good2         int           // the good calls of each half
	p99Healthy, p99Last  time.Duration // of the calls that succeeded: in the healthy half, in the last second
	peak                 int64
	limiter              string // the limiter at the end
}

func overload(t *testing.T, mk func(testing.TB) core.ConcurrencyLimiter) overloadResult {
	var r overloadResult
	synctest.Test(t, func(t *testing.T) {
		lim := mk(t)
		if s, ok := lim.(fmt.Stringer); ok {
			defer func() { r.limiter = s.String() }()
		}
		d := &downstream{}
		d.capacity.Store(capacity)
		p, err := core.NewPolicy(core.PolicyConfig{Name: "overload", Retry: core.RetryConfig{MaxAttempts: 1}, Concurrency: lim})
		if err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		var healthy, last []time.Duration
		var wg sync.WaitGroup
		for start := time.Now(); time.Since(start) < span; time.Sleep(arrival) {
			r.calls++
			at := time.Since(start)
			second := at >= span/2
			if second {
				d.capacity.Store(degraded)
			}
			wg.Go(func() {
				t0 := time.Now()
				err := p.Run(context.Background(), d.serve)
				lat := time.Since(t0)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					if !second {
						healthy = append(healthy, lat)
					} else if at >= span-time.Second {
						last = append(last, lat)
					}
					if lat <= slo {
						r.good++
						if second {
							r.good2++
						} else {
							r.good1++
						}
					}
				default:
					r.refused++
				}
			})
		}
		wg.Wait()
		r.p99Healthy, r.p99Last = p99(healthy), p99(last)
		r.peak = d.peak.Load()
	})
	return r
}

// TestOverloadGoodput runs the scenario without a limiter, with a bulkhead
// of 16 (sized for the healthy downstream) and with the adaptive limiter
// on its defaults, prints the table (bench/results/limits-overload.txt
// records it) and checks that the adaptive limiter keeps the downstream
// serviceable: at least 3 times the goodput of no limiter, at least half
// the degraded downstream's capacity as goodput in the degraded half, and
// a p99 within the SLO while healthy and once adapted (the last second).
//
//	cd bench && go test -run TestOverloadGoodput -v ./limits
func TestOverloadGoodput(t *testing.T) {
	rows := []struct {
		name string
		mk   func(testing.TB) core.ConcurrencyLimiter
	}{
		{"none", func(testing.TB) core.ConcurrencyLimiter { return nil }},
		{"bulkhead-16", func(tb testing.TB) core.ConcurrencyLimiter {
			bh, err := core.NewBulkhead(core.BulkheadConfig{MaxConcurrent: 16})
			if err != nil {
				tb.Fatal(err)
			}
			return bh
		}},
		{"adaptive", func(tb testing.TB) core.ConcurrencyLimiter {
			al, err := core.NewAdaptiveLimiter(core.AdaptiveLimiterConfig{})
			if err != nil {
				tb.Fatal(err)
			}
			return al
		}},
	}
	res := map[string]overloadResult{}
	t.Logf("%-12s %6s %9s %9s %9s %8s %12s %12s %6s", "limiter", "calls", "goodput", "healthy", "degraded", "refused", "p99-healthy", "p99-last-1s", "peak")
	for _, row := range rows {
		r := overload(t, row.mk)
		res[row.name] = r
		half := (span / 2).Seconds()
		t.Logf("%-12s %6d %7.0f/s %7.0f/s %7.0f/s %8d %12v %12v %6d", row.name, r.calls, float64(r.good)/span.Seconds(), float64(r.good1)/half, float64(r.good2)/half, r.refused, r.p99Healthy, r.p99Last, r.peak)
	}
	t.Logf("at the end: %s", res["adaptive"].limiter)
	none, ad := res["none"], res["adaptive"]
	if ad.good < 3*none.good {
		t.Errorf("adaptive goodput %d, want at least 3× no limiter's %d", ad.good, none.good)
	}
	if float64(ad.good2)/(span/2).Seconds() < 50 {
		t.Errorf("adaptive: %d good calls once the downstream degraded, want at least half its 100/s", ad.good2)
	}
	if ad.p99Healthy > slo || ad.p99Last > slo {
		t.Errorf("adaptive p99 %v healthy, %v in the last second; want both within the %v SLO", ad.p99Healthy, ad.p99Last, slo)
	}
}

func p99(lats []time.Duration) time.Duration {
	if len(lats) == 0 {
		return 0
	}
	slices.Sort(lats)
	return lats[len(lats)*99/100]
}
