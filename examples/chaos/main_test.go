package main

import (
	"bytes"
	"context"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// lockedBuffer is a bytes.Buffer safe to read while run writes it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

var line = regexp.MustCompile(`(?m)^ *[0-9.]+s (\w+) +ok +(\d+) +failed +(\d+) +rejected +(\d+) +faults injected +(\d+)$`)

// phaseTotals sums the per-second lines of each phase: ok, failed,
// rejected, injected.
func phaseTotals(out string) map[string][4]int {
	tot := map[string][4]int{}
	for _, m := range line.FindAllStringSubmatch(out, -1) {
		t := tot[m[1]]
		for i := range 4 {
			n, _ := strconv.Atoi(m[2+i])
			t[i] += n
		}
		tot[m[1]] = t
	}
	return tot
}

// TestRun: on a short timeline, the healthy phase succeeds with no fault,
// the outage injects faults until the breaker opens and then refuses
// calls, and the recovery succeeds again.
func TestRun(t *testing.T) {
	var out lockedBuffer
	err := run(context.Background(), config{Addr: "127.0.0.1:0", Healthy: 1500 * time.Millisecond, Outage: 2 * time.Second, Recovery: 2500 * time.Millisecond, Rate: 40}, &out, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := out.String()
	tot := phaseTotals(got)
	if h := tot["healthy"]; h[0] == 0 || h[1]+h[2]+h[3] != 0 {
		t.Errorf("healthy phase %v (ok, failed, rejected, injected): want successes only", h)
	}
	if o := tot["outage"]; o[0] != 0 || o[3] == 0 || o[2] == 0 {
		t.Errorf("outage phase %v: want no success, faults injected, calls refused by the open breaker", o)
	}
	// An attempt that saw the injector on just before Disable may publish
	// its fault a moment after the phase changed: at most a couple.
	if r := tot["recovery"]; r[0] == 0 || r[3] > 2 {
		t.Errorf("recovery phase %v: want successes and (almost) no fault", r)
	}
	if !strings.Contains(got, "phase outage (faults enabled: true)") || !strings.Contains(got, "phase recovery (faults enabled: false)") {
		t.Errorf("output lacks the phase lines:\n%s", got)
	}
	if t.Failed() {
		t.Log(got)
	}
}

func TestRunRejectsBadRate(t *testing.T) {
	if err := run(context.Background(), config{Addr: "127.0.0.1:0"}, &lockedBuffer{}, nil); err == nil || !strings.Contains(err.Error(), "-rate") {
		t.Errorf("run with rate 0: %v, want an error naming -rate", err)
	}
}
