// Command chain shows retries at one layer across three services: A calls
// B, B calls C, each through redresshttp (the default policy with short
// backoffs; breakers off, so that every attempt reaches C), and B serves
// behind redresshttp.Handler. While C fails, A retries and B does not (its
// caller retries), so C sees about one attempt per attempt of A instead of
// one per attempt at every hop; with the handler left out, B's own retries
// multiply A's.
package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sync/atomic"
	"time"

	redresshttp "github.com/redress-go/redress/contrib/nethttp"
	"github.com/redress-go/redress/core"
)

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// client returns an http.Client through redresshttp with the default
// policy and breakers, but short backoffs (so that the example runs in a
// moment).
func client() (*http.Client, error) {
	pc := redresshttp.DefaultPolicyConfig()
	pc.Retry.Strategy = core.Constant(5 * time.Millisecond)
	p, err := core.NewPolicy(pc)
	if err != nil {
		return nil, err
	}
	rt, err := redresshttp.NewTransport(nil, redresshttp.Config{Policy: p, DisableBreakers: true})
	if err != nil {
		return nil, err
	}
	return &http.Client{Transport: rt}, nil
}

func run(w io.Writer) error {
	for _, layered := range []bool{true, false} {
		var cHits atomic.Int64
		c := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			cHits.Add(1)
			w.WriteHeader(http.StatusServiceUnavailable) // C is down
		}))
		toC, err := client()
		if err != nil {
			return err
		}
		var b http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			req, _ := http.NewRequestWithContext(r.Context(), http.MethodGet, c.URL, nil)
			resp, err := toC.Do(req)
			if err != nil {
				w.WriteHeader(http.StatusBadGateway)
				return
			}
			_ = resp.Body.Close()
			w.WriteHeader(resp.StatusCode)
		})
		if layered {
			b = redresshttp.Handler(b) // B: do not retry what A retries
		}
		bSrv := httptest.NewServer(b)
		toB, err := client()
		if err != nil {
			return err
		}
		const requests = 10
		for range requests {
			req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, bSrv.URL, nil)
			resp, err := toB.Do(req)
			if err != nil {
				return err
			}
			_ = resp.Body.Close()
		}
		bSrv.Close()
		c.Close()
		name := "with redresshttp.Handler on B"
		if !layered {
			name = "without it"
		}
		fmt.Fprintf(w, "%-30s hits at C per request from A: %.1f\n", name, float64(cHits.Load())/requests)
	}
	return nil
}
