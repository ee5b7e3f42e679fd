package outage

import (
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Kind is the behaviour of a server during a phase.
type Kind int

const (
	// Healthy answers 200 (or, for a hop of a chain, calls the next hop).
	Healthy Kind = iota
	// Fail503 answers 503 without Retry-After to every request.
	Fail503
	// Reset accepts the request, then closes its connection with a TCP
	// reset (SO_LINGER 0) before any response.
	Reset
	// Random503 answers 503 without Retry-After to a random share
	// (Phase.Ratio) of the requests, healthy otherwise.
	Random503
	// RateLimit answers 429 with Retry-After: 10 to every request.
	RateLimit
	// Overload answers 429 without Retry-After to a random share
	// (Phase.Ratio) of the requests, healthy otherwise: a server shedding
	// load that gives no hint.
	Overload
)

// overloaded is the failing answer of an Overload phase: 429, no hint.
const overloaded Kind = -1

func (k Kind) String() string {
	switch k {
	case Healthy:
		return "healthy"
	case Fail503:
		return "503"
	case Reset:
		return "reset"
	case Random503:
		return "random-503"
	case RateLimit:
		return "429+Retry-After:10"
	case Overload:
		return "random-429"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Phase is one step of a server's schedule.
type Phase struct {
	Kind  Kind
	D     time.Duration
	Ratio float64 // Random503 and Overload only: the share of requests that fail
}

// Headers every client request carries, and every hop of a chain forwards,
// so that a hit anywhere is attributed to the top-level request and caller.
const (
	HeaderRequest = "X-Outage-Request"
	HeaderCaller  = "X-Outage-Caller"
)

// BucketWidth is the width of the time buckets hits are counted in.
const BucketWidth = 100 * time.Millisecond

// Server is a loopback HTTP server whose behaviour follows a schedule of
// phases, set by SetPhase. It counts every request that reaches its handler
// (a hit): per top-level request, per phase, per phase and caller, and per
// BucketWidth since Start.
type Server struct {
	*httptest.Server
	phases []Phase
	phase  atomic.Int32
	// next, when set, serves the healthy requests (a hop of a chain).
	next http.HandlerFunc

	errs errorLines

	mu          sync.Mutex
	origin      time.Time
	total       int64
	perRequest  map[uint64]int32
	perPhase    []int64
	callerPhase map[[2]int]int // (phase, caller) -> hits
	buckets     []int64
}

// NewServer starts a server that follows phases; it starts in phase 0.
// next, when not nil, serves the requests of healthy phases (and the healthy
// share of Random503 phases) instead of the default 200 "ok".
func NewServer(phases []Phase, next http.HandlerFunc) *Server {
	s := &Server{
		phases:      phases,
		next:        next,
		perRequest:  map[uint64]int32{},
		perPhase:    make([]int64, len(phases)),
		callerPhase: map[[2]int]int{},
		origin:      time.Now(),
	}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.Config.ErrorLog = log.New(&s.errs, "", 0)
	s.Start()
	return s
}

// errorLines counts the lines of the server's error log (accept errors such
// as "too many open files", panics) instead of printing them.
type errorLines struct {
	mu    sync.Mutex
	n     int
	first string
}

func (e *errorLines) Write(p []byte) (int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.n == 0 {
		e.first = strings.TrimSpace(string(p))
	}
	e.n++
	return len(p), nil
}

// Errors returns how many lines the server's error log received, and the
// first of them.
func (s *Server) Errors() (int, string) {
	s.errs.mu.Lock()
	defer s.errs.mu.Unlock()
	return s.errs.n, s.errs.first
}

// SetOrigin sets the origin of the time buckets.
func (s *Server) SetOrigin(at time.Time) {
	s.mu.Lock()
	s.origin = at
	s.mu.Unlock()
}

// SetPhase switches the server to phase i.
func (s *Server) SetPhase(i int) { s.phase.Store(int32(i)) }

func (s *Server) count(r *http.Request, phase int) {
	id, _ := strconv.ParseUint(r.Header.Get(HeaderRequest), 10, 64)
	caller, _ := strconv.Atoi(r.Header.Get(HeaderCaller))
	now := time.Now()
	s.mu.Lock()
	s.total++
	s.perRequest[id]++
	s.perPhase[phase]++
	s.callerPhase[[2]int{phase, caller}]++
	if b := int(now.Sub(s.origin) / BucketWidth); b >= 0 {
		for len(s.buckets) <= b {
			s.buckets = append(s.buckets, 0)
		}
		s.buckets[b]++
	}
	s.mu.Unlock()
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	i := int(s.phase.Load())
	s.count(r, i)
	p := s.phases[i]
	kind := p.Kind
	switch kind {
	case Random503, Overload:
		fail := Fail503
		if kind == Overload {
			fail = overloaded
		}
		kind = Healthy
		if rand.Float64() < p.Ratio {
			kind = fail
		}
	}
	switch kind {
	case overloaded:
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = io.WriteString(w, "overloaded")
	case Fail503:
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, "down")
	case RateLimit:
		w.Header().Set("Retry-After", "10")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = io.WriteString(w, "slow down")
	case Reset:
		hj, ok := w.(http.Hijacker)
		if !ok {
			panic("outage: the ResponseWriter is not a Hijacker")
		}
		conn, _, err := hj.Hijack()
		if err != nil {
			return
		}
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // close sends a RST, not a FIN
		}
		_ = conn.Close()
	default:
		if s.next != nil {
			s.next(w, r)
			return
		}
		_, _ = io.WriteString(w, "ok")
	}
}

// Hits is a snapshot of a server's counts.
type Hits struct {
	Total       int64
	PerRequest  map[uint64]int32
	PerPhase    []int64
	CallerPhase map[[2]int]int
	Buckets     []int64
}

// Hits returns a copy of the counts so far.
func (s *Server) Hits() Hits {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := Hits{
		Total:       s.total,
		PerRequest:  make(map[uint64]int32, len(s.perRequest)),
		PerPhase:    append([]int64(nil), s.perPhase...),
		CallerPhase: make(map[[2]int]int, len(s.callerPhase)),
		Buckets:     append([]int64(nil), s.buckets...),
	}
	for k, v := range s.perRequest {
		h.PerRequest[k] = v
	}
	for k, v := range s.callerPhase {
		h.CallerPhase[k] = v
	}
	return h
}
