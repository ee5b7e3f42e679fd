package redresshttp

import (
	"bytes"
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redress-go/redress/core"
)

// hedgePolicy is the default policy with a hedger of delay d.
func hedgePolicy(t *testing.T, d time.Duration, mod func(*core.PolicyConfig)) (*core.Policy, func() []string, func(core.EventKind) int) {
	t.Helper()
	h, err := core.NewHedger(core.HedgeConfig{Delay: d})
	if err != nil {
		t.Fatal(err)
	}
	p, rec, _ := testPolicy(t, func(pc *core.PolicyConfig) {
		pc.Hedge = h
		if mod != nil {
			mod(pc)
		}
	})
	return p, rec.Names, rec.Count
}

// A GET whose first request hangs is hedged after the delay, over real
// loopback connections: the hedge's answer is returned, the first request
// is cancelled (its handler sees its context end) and its connection
// closed; hedge and hedge_won are published.
func TestHedgeLoopbackGet(t *testing.T) {
	firstGone := make(chan struct{})
	srv := newFaultServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			<-r.Context().Done() // hangs until the client gives it up
			close(firstGone)
			return
		}
		_, _ = w.Write([]byte("hedge " + r.Header.Get("X-Copy")))
	})
	p, names, count := hedgePolicy(t, 20*time.Millisecond, nil)
	client, _ := newTestClient(t, nil, Config{Policy: p})
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/slow", nil)
	req.Header.Set("X-Copy", "copied")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if got := readBody(t, resp); got != "hedge copied" || resp.StatusCode != 200 {
		t.Fatalf("got %d %q, want the hedge's 200", resp.StatusCode, got)
	}
	select {
	case <-firstGone:
	case <-time.After(5 * time.Second):
		t.Fatal("the first request was not cancelled")
	}
	if srv.NumHits() != 2 {
		t.Errorf("%d requests, want 2", srv.NumHits())
	}
	if count(core.EventHedge) != 1 || count(core.EventHedgeWon) != 1 || count(core.EventAttemptEnd) != 1 {
		t.Errorf("events %v, want one hedge, one hedge_won, one attempt", names())
	}
}

// The first request answers before the delay: nothing is hedged, and the
// response is the caller's to read.
func TestHedgeLoopbackFastAnswer(t *testing.T) {
	srv := newFaultServer(t, func(n int, w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("fast")) })
	p, names, count := hedgePolicy(t, time.Minute, nil)
	client, _ := newTestClient(t, nil, Config{Policy: p})
	for range 3 {
		resp, err := client.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		if got := readBody(t, resp); got != "fast" {
			t.Fatalf("got %q", got)
		}
	}
	if srv.NumHits() != 3 || count(core.EventHedge) != 0 {
		t.Errorf("%d requests, events %v; want 3 and no hedge", srv.NumHits(), names())
	}
}

// A PUT with a replayable body is hedged, each copy with the whole body;
// the slow first copy is cancelled.
func TestHedgeLoopbackPutReplaysTheBody(t *testing.T) {
	release := make(chan struct{})
	srv := newFaultServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
		_, _ = w.Write([]byte("ok"))
	})
	defer close(release)
	p, _, count := hedgePolicy(t, 20*time.Millisecond, nil)
	client, _ := newTestClient(t, nil, Config{Policy: p})
	req, _ := http.NewRequest(http.MethodPut, srv.URL, bytes.NewReader([]byte("payload")))
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = readBody(t, resp)
	hits := srv.Hits()
	if len(hits) != 2 || hits[0].BodyHash != hits[1].BodyHash {
		t.Fatalf("hits %+v, want two copies of one body", hits)
	}
	if count(core.EventHedgeWon) != 1 {
		t.Error("no hedge_won")
	}
}

// A POST without an idempotency key is never hedged: it waits for its one
// answer. With the key it is hedged.
func TestHedgeLoopbackPostOnlyWithAKey(t *testing.T) {
	var hits atomic.Int32
	var keyed atomic.Bool
	srv := newFaultServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) == 1 {
			if keyed.Load() {
				<-r.Context().Done() // hangs until the hedge wins
				return
			}
			time.Sleep(60 * time.Millisecond) // slow, but the only answer
		}
		_, _ = w.Write([]byte("ok"))
	})
	p, names, count := hedgePolicy(t, 10*time.Millisecond, nil)
	client, _ := newTestClient(t, nil, Config{Policy: p})
	resp, err := client.Post(srv.URL, "text/plain", bytes.NewReader([]byte("x")))
	if err != nil {
		t.Fatal(err)
	}
	_ = readBody(t, resp)
	if srv.NumHits() != 1 || count(core.EventHedge) != 0 {
		t.Fatalf("%d requests, events %v; want one and no hedge", srv.NumHits(), names())
	}
	hits.Store(0)
	keyed.Store(true)
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, srv.URL, bytes.NewReader([]byte("x")))
	req.Header.Set("Idempotency-Key", "k1")
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = readBody(t, resp)
	if srv.NumHits() != 3 || count(core.EventHedge) != 1 {
		t.Fatalf("%d requests, events %v; want two more and a hedge", srv.NumHits(), names())
	}
}
