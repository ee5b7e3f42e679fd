package httpbench

import (
	"io"
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
	for _, v := range []variant{baseline, redress, failsafe, retryable} {
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
