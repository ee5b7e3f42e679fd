package redresshttp

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/redress-go/redress/core"
)

// TestClassifierChangesTheClass: Config.Classifier classifies every failed
// attempt, over the policy's classifier: a 404 it calls transient is
// retried (and published as transient), a 503 it calls permanent is not.
func TestClassifierChangesTheClass(t *testing.T) {
	var seen []int
	classify := func(err error) core.Classification {
		var se *core.StatusError
		if !errors.As(err, &se) {
			return core.DefaultClassifier(err)
		}
		seen = append(seen, se.Code)
		switch se.Code {
		case http.StatusNotFound:
			return core.Classification{Class: core.ClassTransient, Reason: "not_yet_replicated"}
		case http.StatusServiceUnavailable:
			return core.Classification{Class: core.ClassPermanent, Reason: "maintenance"}
		}
		return core.DefaultClassifier(err)
	}
	cases := []struct {
		name      string
		codes     []int
		wantHits  int
		wantClass core.Class
		reason    string
	}{
		{"404 retried as transient", []int{404, 200}, 2, core.ClassTransient, "not_yet_replicated"},
		{"503 not retried as permanent", []int{503, 200}, 1, core.ClassPermanent, "maintenance"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			seen = nil
			srv := newFaultServer(t, statuses(tc.codes...))
			p, rec, _ := testPolicy(t, nil)
			client, _ := newTestClient(t, nil, Config{Policy: p, Classifier: classify})
			resp, err := client.Get(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if srv.NumHits() != tc.wantHits || len(seen) != 1 || seen[0] != tc.codes[0] {
				t.Fatalf("%d hits, classifier saw %v; want %d hits, one status %d", srv.NumHits(), seen, tc.wantHits, tc.codes[0])
			}
			ends := eventsOf(rec, core.EventAttemptEnd)
			if len(ends) == 0 || ends[0].Class != tc.wantClass || ends[0].Reason != tc.reason {
				t.Fatalf("attempt_end = %+v, want %v/%s", ends, tc.wantClass, tc.reason)
			}
		})
	}
}

// TestBreakerKeyGroups: Config.BreakerKey groups requests under one
// breaker (two hosts, one key): failures of one open it for both, and ""
// leaves a request unguarded.
func TestBreakerKeyGroups(t *testing.T) {
	bad := newFaultServer(t, statuses(503))
	good := newFaultServer(t, statuses(200))
	open := newFaultServer(t, statuses(200))
	p, _, _ := testPolicy(t, func(pc *core.PolicyConfig) { pc.Retry.MaxAttempts = 1 })
	key := func(r *http.Request) string {
		if r.URL.Host == strings.TrimPrefix(open.URL, "http://") {
			return ""
		}
		return "backends"
	}
	client, rt := newTestClient(t, nil, Config{Policy: p, BreakerKey: key, Breaker: &core.BreakerConfig{FailureThreshold: 2}})
	for range 2 {
		resp, err := client.Get(bad.URL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if b := rt.Breaker("backends"); b == nil || b.State() != core.StateOpen {
		t.Fatalf("breaker backends = %v, want open", b)
	}
	if _, err := client.Get(good.URL); !errors.Is(err, core.ErrCircuitOpen) || good.NumHits() != 0 {
		t.Fatalf("the other host of the key: %v, %d hits; want rejected by the shared breaker", err, good.NumHits())
	}
	resp, err := client.Get(open.URL)
	if err != nil {
		t.Fatalf("an unguarded request (key \"\"): %v", err)
	}
	resp.Body.Close()
	if rt.Breaker(strings.TrimPrefix(bad.URL, "http://")) != nil {
		t.Error("a per-host breaker exists beside the key's")
	}
}
