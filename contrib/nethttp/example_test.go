package redresshttp_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"time"

	"github.com/redress-go/redress/contrib/nethttp"
	"github.com/redress-go/redress/core"
)

// printer prints the events that tell the story of a request.
type printer struct{}

func (printer) Events() core.EventSet {
	return core.EventsOf(core.EventAttemptEnd, core.EventRetry) | core.TerminalEvents
}

func (printer) Handle(_ context.Context, e core.Event) {
	switch e.Kind {
	case core.EventAttemptEnd:
		fmt.Printf("%s attempt %d: status %d", e.Operation, e.Attempt, e.Labels.StatusCode)
		if e.Err != nil {
			fmt.Printf(" (%s)", e.Class)
		}
		fmt.Println()
	default:
		fmt.Printf("%s\n", e.Kind)
	}
}

// flaky answers 503 to every other request.
func flaky() *httptest.Server {
	var n atomic.Int64
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%2 == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		fmt.Fprint(w, "in stock")
	}))
}

// Swap the client's transport; the default policy retries the 503.
func ExampleNewTransport() {
	srv := flaky()
	defer srv.Close()

	rt, err := redresshttp.NewTransport(nil, redresshttp.Config{Bus: core.NewBus(printer{})})
	if err != nil {
		panic(err)
	}
	client := &http.Client{Transport: rt}

	ctx := redresshttp.WithRoute(context.Background(), "/stock/{sku}")
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/stock/42", nil)
	resp, err := client.Do(req)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, string(body))
	// Output:
	// GET /stock/{sku} attempt 1: status 503 (server_error)
	// retry
	// GET /stock/{sku} attempt 2: status 200
	// success
	// 200 in stock
}

// A POST is resent only with an idempotency key (or an explicit opt-in);
// when the policy gives up, the caller gets the server's last response.
func ExampleNewTransport_post() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	var sent atomic.Int64
	rt, err := redresshttp.NewTransport(countSent{&sent}, redresshttp.Config{})
	if err != nil {
		panic(err)
	}
	client := &http.Client{Transport: rt}

	for _, key := range []string{"", "order-17"} {
		sent.Store(0)
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/orders", nil)
		if key != "" {
			req.Header.Set("Idempotency-Key", key)
		}
		resp, err := client.Do(req)
		if err != nil {
			panic(err)
		}
		resp.Body.Close()
		fmt.Printf("key %q: status %d after %d attempt(s)\n", key, resp.StatusCode, sent.Load())
	}
	// Output:
	// key "": status 503 after 1 attempt(s)
	// key "order-17": status 503 after 3 attempt(s)
}

type countSent struct{ n *atomic.Int64 }

func (c countSent) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return http.DefaultTransport.RoundTrip(r)
}

// Build your own policy from the defaults: here, an attempt timeout that
// bounds the wait for the response headers (never the body's reading).
func ExampleDefaultPolicyConfig() {
	pc := redresshttp.DefaultPolicyConfig()
	pc.Name = "inventory"
	pc.Timeout.Attempt = 2 * time.Second
	policy, err := core.NewPolicy(pc)
	if err != nil {
		panic(err)
	}
	rt, err := redresshttp.NewTransport(nil, redresshttp.Config{Policy: policy})
	if err != nil {
		panic(err)
	}
	fmt.Println(rt.Policy().Name())
	// Output: inventory
}
