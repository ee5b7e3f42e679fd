package redressredis

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	redresshttp "github.com/redress-go/redress/contrib/nethttp"
	"github.com/redress-go/redress/core"
)

// TestRetryAfterSeenByEveryHTTPReplica: two redresshttp transports (two
// replicas, each with its own Redis client) call one host; the host answers
// replica A with 429 and Retry-After: 30. After a sync of each store,
// replica B's next request is refused locally, with the hold's wait, and
// never reaches the host.
func TestRetryAfterSeenByEveryHTTPReplica(t *testing.T) {
	var hitsA, hitsB atomic.Int32
	var limited atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Replica") == "A" {
			hitsA.Add(1)
			if limited.Load() {
				w.Header().Set("Retry-After", "30")
				w.WriteHeader(http.StatusTooManyRequests)
				return
			}
		} else {
			hitsB.Add(1)
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	host := mustHost(t, srv.URL)

	c1, c2 := newClient(t), newClient(t)
	prefix := testPrefix(t, c1)
	type replica struct {
		store *Store
		rt    *redresshttp.Transport
		name  string
	}
	var reps []replica
	for i, client := range []*redis.Client{c1, c2} {
		s, err := NewStore(StoreConfig{Client: client, Prefix: prefix, ManualSync: true, Timeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		rt, err := redresshttp.NewTransport(srv.Client().Transport, redresshttp.Config{})
		if err != nil {
			t.Fatal(err)
		}
		g, err := NewHoldGate(s)
		if err != nil {
			t.Fatal(err)
		}
		g.Share(host, func() *core.Breaker { return rt.Breaker(host) })
		reps = append(reps, replica{s, rt, string(rune('A' + i))})
	}
	get := func(r replica) (*http.Response, error) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second) // a 30s Retry-After is not waited for
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
		req.Header.Set("X-Replica", r.name)
		resp, err := (&http.Client{Transport: r.rt}).Do(req)
		if resp != nil {
			resp.Body.Close()
		}
		return resp, err
	}
	for _, r := range reps { // both replicas know the host
		if resp, err := get(r); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("replica %s: %v", r.name, err)
		}
	}
	limited.Store(true)
	if resp, err := get(reps[0]); err != nil || resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("replica A under Retry-After: %v, %v", resp, err)
	}
	if reps[0].rt.Breaker(host).HeldFor() <= 0 {
		t.Fatal("replica A's breaker is not held after a 429 with Retry-After")
	}
	ctx := context.Background()
	for _, r := range reps {
		if err := r.store.Sync(ctx); err != nil {
			t.Fatal(err)
		}
	}
	before := hitsB.Load()
	_, err := get(reps[1])
	var he *core.HeldError
	if !errors.As(err, &he) || he.RetryIn < 25*time.Second {
		t.Fatalf("replica B after the syncs: %v; want a *core.HeldError with about 30s to wait", err)
	}
	if hitsB.Load() != before {
		t.Error("replica B's request reached the host during the shared hold")
	}
}

func mustHost(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}
