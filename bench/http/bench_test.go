package httpbench

import (
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkRoundTrip: one GET on a kept-alive loopback connection, body read
// and closed, nothing failing. ns/op is the latency of one request; its
// inverse is the requests per second of one client.
func BenchmarkRoundTrip(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"sku":42,"in_stock":true}`)
	}))
	defer srv.Close()
	// Warm the server and the machine up, then run the variants in a random
	// order: on a loaded machine, the first one run would otherwise pay for
	// it. Run the command in a loop to interleave the variants (README).
	warm := &http.Client{Transport: newBase(b)}
	for range 2000 {
		resp, err := warm.Get(srv.URL)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
	}
	vs := []variant{baseline, redress, failsafe, retryable}
	rand.Shuffle(len(vs), func(i, j int) { vs[i], vs[j] = vs[j], vs[i] })
	for _, v := range vs {
		b.Run(v.name, func(b *testing.B) {
			client := &http.Client{Transport: v.build(b, newBase(b), nil)}
			req, err := http.NewRequest(http.MethodGet, srv.URL+"/stock/42", nil)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				resp, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Fatalf("status %d", resp.StatusCode)
				}
			}
		})
	}
}
