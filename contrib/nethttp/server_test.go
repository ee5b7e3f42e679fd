package redresshttp

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/redress-go/redress/core"
)

// A → B → C over real loopback servers, redress at every hop and the
// server middleware on B: C fails, A retries, B does not (its caller
// retries): C sees one attempt per attempt of A, not three. B's own
// policy stops with caller_retries.
func TestChainRetriesAtOneLayer(t *testing.T) {
	var cHits atomic.Int64
	c := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		cHits.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer c.Close()
	pB, recB, _ := testPolicy(t, nil)
	toC, _ := newTestClient(t, nil, Config{Policy: pB, DisableBreakers: true})
	var bHits atomic.Int64
	b := httptest.NewServer(Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		bHits.Add(1)
		req, _ := http.NewRequestWithContext(r.Context(), http.MethodGet, c.URL, nil)
		resp, err := toC.Do(req)
		if err != nil {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		w.WriteHeader(resp.StatusCode)
	})))
	defer b.Close()
	pA, _, _ := testPolicy(t, nil)
	toB, _ := newTestClient(t, nil, Config{Policy: pA, DisableBreakers: true})
	resp, err := toB.Get(b.URL)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want C's 503 through B", resp.StatusCode)
	}
	if bHits.Load() != 3 || cHits.Load() != 3 {
		t.Fatalf("B served %d requests, C %d; want 3 and 3 (A retries, B does not)", bHits.Load(), cHits.Load())
	}
	stops := map[core.StopReason]int{}
	for _, e := range recB.All() {
		if e.Kind.Terminal() {
			stops[e.StopReason]++
		}
	}
	if stops[core.StopCallerRetries] != 3 || len(stops) != 1 {
		t.Errorf("B's stop reasons %v, want caller_retries three times", stops)
	}

	// Without the marker (a POST A will not resend) B retries on its own.
	bHits.Store(0)
	cHits.Store(0)
	resp, err = toB.Post(b.URL, "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if bHits.Load() != 1 || cHits.Load() != 3 {
		t.Fatalf("POST: B served %d, C %d; want 1 and 3 (B retries what A will not)", bHits.Load(), cHits.Load())
	}
}

// A failing response carrying OverloadedHeader is not retried.
func TestOverloadedHeaderStopsRetries(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		Overloaded(w)
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	p, rec, _ := testPolicy(t, nil)
	client, _ := newTestClient(t, nil, Config{Policy: p, DisableBreakers: true})
	resp, err := client.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if hits.Load() != 1 || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("%d hits, status %d; want 1 hit and the 503", hits.Load(), resp.StatusCode)
	}
	for _, e := range rec.All() {
		if e.Kind.Terminal() && (e.StopReason != core.StopNonRetryableClass || e.Class != core.ClassServerError) {
			t.Errorf("terminal %s stop %s class %s, want non_retryable_class keeping server_error", e.Kind, e.StopReason, e.Class)
		}
	}
}

// With a per-host breaker, a healthy host's first attempts carry no
// marker; once the host failed (within the breaker's window) they carry
// "1", and retries always carry their number.
func TestAttemptMarkerFollowsTheHost(t *testing.T) {
	var fail atomic.Bool
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r.Header.Get(AttemptHeader))
		if fail.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	p, _, _ := testPolicy(t, nil)
	client, _ := newTestClient(t, nil, Config{Policy: p})
	get := func() {
		resp, err := client.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
	}
	get()
	fail.Store(true)
	get() // fails three times: "", "2", "3"
	fail.Store(false)
	get() // the host failed a moment ago: "1"
	if want := []string{"", "", "2", "3", "1"}; strings.Join(seen, ",") != strings.Join(want, ",") {
		t.Fatalf("markers %q, want %q", seen, want)
	}
}
