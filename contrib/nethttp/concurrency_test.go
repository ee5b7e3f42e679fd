package redresshttp

import (
	"errors"
	"net/http"
	"sync"
	"testing"

	"github.com/redress-go/redress/core"
)

// TestConcurrencyLimitOverLoopback: against a real server on loopback
// whose handler holds every request until released, a bulkhead of 2 and
// an adaptive limiter starting at 2 let two requests in and refuse the
// third before it is sent, with the typed error; once the two end, the
// slots are free again.
func TestConcurrencyLimitOverLoopback(t *testing.T) {
	bh, err := core.NewBulkhead(core.BulkheadConfig{Name: "api", MaxConcurrent: 2})
	if err != nil {
		t.Fatal(err)
	}
	al, err := core.NewAdaptiveLimiter(core.AdaptiveLimiterConfig{Name: "api", InitialLimit: 2, MinLimit: 1, MaxLimit: 2})
	if err != nil {
		t.Fatal(err)
	}
	for _, lim := range []core.ConcurrencyLimiter{bh, al} {
		t.Run(lim.(interface{ String() string }).String(), func(t *testing.T) {
			in := make(chan struct{}, 4)
			release := make(chan struct{})
			srv := newFaultServer(t, func(n int, w http.ResponseWriter, _ *http.Request) {
				in <- struct{}{}
				<-release
				w.WriteHeader(http.StatusOK)
			})
			p, rec, _ := testPolicy(t, func(pc *core.PolicyConfig) { pc.Concurrency = lim })
			client, _ := newTestClient(t, nil, Config{Policy: p})
			var wg sync.WaitGroup
			for range 2 {
				wg.Go(func() {
					resp, err := client.Get(srv.URL)
					if err != nil {
						t.Error(err)
						return
					}
					readBody(t, resp)
				})
			}
			<-in
			<-in // both requests are at the server
			resp, err := client.Get(srv.URL)
			if err == nil {
				resp.Body.Close()
				t.Fatal("a third request went through a limit of 2")
			}
			var ce *core.ConcurrencyLimitedError
			if !errors.As(err, &ce) || ce.Limiter != "api" || ce.InFlight != 2 {
				t.Errorf("err = %v, want a *ConcurrencyLimitedError of api, 2 in flight", err)
			}
			if r, _ := core.StopReasonOf(err); r != core.StopConcurrencyLimited {
				t.Errorf("stop reason %v, want concurrency_limited", r)
			}
			close(release)
			wg.Wait()
			if n := srv.NumHits(); n != 2 {
				t.Errorf("hits = %d, want 2: the refused request never reached the server", n)
			}
			if rec.Count(core.EventConcurrencyLimited) != 1 {
				t.Errorf("events %v, want one concurrency_limited", rec.Names())
			}
			resp, err = client.Get(srv.URL)
			if err != nil {
				t.Fatalf("after the slots came back: %v", err)
			}
			readBody(t, resp)
		})
	}
}
