package httpbench

import (
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"syscall"
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
			cpu0 := cpuTime()
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
			// CPU time (client and server: one process) per request: far
			// less sensitive than wall time to the load of a shared machine.
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}

// cpuTime returns the user and system CPU time of the process so far, in ns.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// stub is a base transport that answers 200 at once, without a network: it
// isolates what each wrapper adds to a request.
type stub struct{}

func (stub) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: 200, Body: http.NoBody, Request: r, ContentLength: 0}, nil
}

// BenchmarkOverhead: one request through each wrapper over a stub base
// transport; the baseline is the stub alone. ns/op minus the baseline's is
// the wrapper's own cost per request, to compare with a loopback request
// (BenchmarkRoundTrip/baseline).
func BenchmarkOverhead(b *testing.B) {
	req, err := http.NewRequest(http.MethodGet, "http://inventory.internal:8080/stock/42", nil)
	if err != nil {
		b.Fatal(err)
	}
	for _, v := range []variant{baseline, redress, failsafe, retryable} {
		b.Run(v.name, func(b *testing.B) {
			rt := v.build(b, stub{}, nil)
			b.ReportAllocs()
			for b.Loop() {
				resp, err := rt.RoundTrip(req)
				if err != nil || resp.StatusCode != 200 {
					b.Fatal(err)
				}
				_ = resp.Body.Close()
			}
		})
	}
}
