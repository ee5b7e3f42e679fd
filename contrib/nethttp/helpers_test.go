package redresshttp

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/redress-go/redress/core"
	"github.com/redress-go/redress/core/coretest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// hit is what the fault-injecting server saw of one request.
type hit struct {
	Method   string
	Path     string
	Query    string
	Header   http.Header
	BodyHash string
}

// faultServer is a real HTTP server on loopback whose handler is told the
// number of each hit (1-based). It counts hits and new connections.
type faultServer struct {
	*httptest.Server // nil for an in-memory server (newMemFaultServer)
	URL              string
	conns            atomic.Int64
	mu               sync.Mutex
	hits             []hit
}

type faultHandler func(n int, w http.ResponseWriter, r *http.Request)

func newFaultServer(t *testing.T, h faultHandler) *faultServer {
	t.Helper()
	s := &faultServer{}
	s.Server = httptest.NewUnstartedServer(s.handler(h))
	s.Config.ConnState = s.connState
	s.Start()
	s.URL = s.Server.URL
	t.Cleanup(s.Close)
	return s
}

func newTLSFaultServer(t *testing.T, http2 bool, h faultHandler) *faultServer {
	t.Helper()
	s := &faultServer{}
	s.Server = httptest.NewUnstartedServer(s.handler(h))
	s.Config.ConnState = s.connState
	s.EnableHTTP2 = http2
	s.Config.ErrorLog = log.New(io.Discard, "", 0) // handshake failures are expected
	s.StartTLS()
	s.URL = s.Server.URL
	t.Cleanup(s.Close)
	return s
}

func (s *faultServer) connState(_ net.Conn, st http.ConnState) {
	if st == http.StateNew {
		s.conns.Add(1)
	}
}

func (s *faultServer) handler(h faultHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		sum := sha256.Sum256(b)
		s.mu.Lock()
		s.hits = append(s.hits, hit{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Header: r.Header.Clone(), BodyHash: hex.EncodeToString(sum[:])})
		n := len(s.hits)
		s.mu.Unlock()
		h(n, w, r)
	})
}

func (s *faultServer) Hits() []hit {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]hit(nil), s.hits...)
}

func (s *faultServer) NumHits() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.hits)
}

// statuses answers the n-th hit with codes[n-1] (the last code repeats) and
// a body "attempt n".
func statuses(codes ...int) faultHandler {
	return func(n int, w http.ResponseWriter, _ *http.Request) {
		c := codes[min(n, len(codes))-1]
		w.WriteHeader(c)
		_, _ = io.WriteString(w, "attempt "+itoa(n))
	}
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}

// newBase returns a fresh http.Transport whose idle connections are closed
// when the test ends (goleak).
func newBase(t *testing.T) *http.Transport {
	t.Helper()
	b := &http.Transport{}
	t.Cleanup(b.CloseIdleConnections)
	return b
}

// testPolicy returns the default policy with a recorder on its bus and a
// fake clock as clock and sleeper, changed by mod.
func testPolicy(t *testing.T, mod func(*core.PolicyConfig)) (*core.Policy, *coretest.Recorder, *coretest.FakeClock) {
	t.Helper()
	pc := DefaultPolicyConfig()
	if mod != nil {
		mod(&pc)
	}
	p, rec, clk, err := coretest.NewRecordingPolicy(pc)
	if err != nil {
		t.Fatal(err)
	}
	return p, rec, clk
}

// newTestClient returns a client whose transport is a redress Transport
// over base (a fresh http.Transport when nil) with cfg.
func newTestClient(t *testing.T, base http.RoundTripper, cfg Config) (*http.Client, *Transport) {
	t.Helper()
	if base == nil {
		base = newBase(t)
	}
	rt, err := NewTransport(base, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Transport: rt}, rt
}

func readBody(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading body: %v", err)
	}
	return string(b)
}

// eventsOf returns the recorded events of kind k.
func eventsOf(rec *coretest.Recorder, k core.EventKind) []core.Event {
	var out []core.Event
	for _, e := range rec.All() {
		if e.Kind == k {
			out = append(out, e)
		}
	}
	return out
}

// closeCounter is a request body that counts its Close calls.
type closeCounter struct {
	io.Reader
	closed atomic.Int32
}

func (c *closeCounter) Close() error { c.closed.Add(1); return nil }

func newCloseCounter(s string) *closeCounter { return &closeCounter{Reader: strings.NewReader(s)} }

// countingRT counts the requests that reach the base transport.
type countingRT struct {
	base http.RoundTripper
	n    atomic.Int64
}

func (c *countingRT) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.base.RoundTrip(r)
}
