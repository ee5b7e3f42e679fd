package main

import (
	"context"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"time"
)

// decide draws the fate of one request under f: "ok", "unavailable",
// "rate_limited", "overloaded" or "not_found", and how long to take.
func decide(f faults) (string, time.Duration) {
	d := f.latency
	if f.jitter > 0 {
		d += rand.N(f.jitter)
	}
	r := rand.Float64()
	switch {
	case r < f.unavailable:
		return "unavailable", d
	case r < f.unavailable+f.rateLimited:
		return "rate_limited", d
	case r < f.unavailable+f.rateLimited+f.overloaded:
		return "overloaded", d
	case r < f.unavailable+f.rateLimited+f.overloaded+f.notFound:
		return "not_found", d
	}
	return "ok", d
}

// sleepCtx waits d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// newHTTPUpstream is the flaky catalog service: GET /items/{id} and
// POST /orders, failing as the current phase says.
func newHTTPUpstream(cur *current) *http.Server {
	mux := http.NewServeMux()
	serve := func(w http.ResponseWriter, r *http.Request) {
		fate, d := decide(cur.phase().faults)
		sleepCtx(r.Context(), d)
		switch fate {
		case "unavailable":
			http.Error(w, "upstream unavailable", http.StatusServiceUnavailable)
		case "rate_limited":
			w.Header().Set("Retry-After", "1")
			http.Error(w, "slow down", http.StatusTooManyRequests)
		case "overloaded":
			http.Error(w, "overloaded", http.StatusTooManyRequests)
		case "not_found":
			http.Error(w, "no such item", http.StatusNotFound)
		default:
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"ok":true}` + "\n"))
		}
	}
	mux.HandleFunc("GET /items/{id}", serve)
	mux.HandleFunc("POST /orders", func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.Header.Get("Idempotency-Key"), "order-") {
			http.Error(w, "missing idempotency key", http.StatusBadRequest)
			return
		}
		serve(w, r)
	})
	return &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
}

// listen opens a loopback listener on a free port.
func listenLoopback() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }
