package outage

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// scale multiplies every phase of the full harness: REDRESS_OUTAGE_SCALE
// (default 1; 0.2 for a quick look, whose windows are then shorter than
// the targets assume).
func scale(t *testing.T) float64 {
	s := os.Getenv("REDRESS_OUTAGE_SCALE")
	if s == "" {
		return 1
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f <= 0 {
		t.Fatalf("REDRESS_OUTAGE_SCALE=%q: want a positive number", s)
	}
	return f
}

// Scenarios returns the scenarios of the outage-protection targets, their phases multiplied by k.
func Scenarios(k float64) []Scenario {
	d := func(x time.Duration) time.Duration { return time.Duration(float64(x) * k) }
	const callers, think = 20, 2 * time.Millisecond
	hard := func(name string, kind Kind) Scenario {
		return Scenario{
			Name:    name,
			Phases:  []Phase{{Kind: Healthy, D: d(5 * time.Second)}, {Kind: kind, D: d(3 * time.Second)}, {Kind: Healthy, D: d(6 * time.Second)}},
			Onset:   1,
			Heal:    2,
			Callers: callers, Think: think,
		}
	}
	return []Scenario{
		hard("hard-503", Fail503),
		hard("hard-reset", Reset),
		{
			Name:    "random-30%",
			Phases:  []Phase{{Kind: Healthy, D: d(time.Second)}, {Kind: Random503, Ratio: 0.3, D: d(15 * time.Second)}, {Kind: Healthy, D: d(time.Second)}},
			Onset:   1,
			Heal:    2,
			Callers: callers, Think: think,
		},
		{
			Name:    "429-hint-10s",
			Phases:  []Phase{{Kind: Healthy, D: d(time.Second)}, {Kind: RateLimit, D: d(3 * time.Second)}, {Kind: Healthy, D: d(time.Second)}},
			Onset:   1,
			Heal:    2,
			Callers: callers, Think: think,
		},
		{
			Name:    "overload-429-90%",
			Phases:  []Phase{{Kind: Healthy, D: d(2 * time.Second)}, {Kind: Overload, Ratio: 0.9, D: d(5 * time.Second)}, {Kind: Healthy, D: d(2 * time.Second)}},
			Onset:   1,
			Heal:    2,
			Callers: callers, Think: think,
		},
		{
			Name:    "chain-A-B-C",
			Phases:  []Phase{{Kind: Healthy, D: d(3 * time.Second)}, {Kind: Fail503, D: d(3 * time.Second)}, {Kind: Healthy, D: d(6 * time.Second)}},
			Onset:   1,
			Heal:    2,
			Hops:    2,
			Callers: callers, Think: think,
		},
	}
}

// TestOutage runs every scenario through every client, one run at a time,
// and prints the table. It takes minutes: it runs only with REDRESS_OUTAGE=1.
//
//	cd bench && REDRESS_OUTAGE=1 go test -run TestOutage -v -count=1 -timeout 30m ./outage
func TestOutage(t *testing.T) {
	if os.Getenv("REDRESS_OUTAGE") != "1" {
		t.Skip("the outage harness takes minutes: set REDRESS_OUTAGE=1")
	}
	var results []Result
	for _, sc := range Scenarios(scale(t)) {
		t.Run(sc.Name, func(t *testing.T) {
			for _, v := range Variants {
				if only := os.Getenv("REDRESS_OUTAGE_ONLY"); only != "" && only != v.Name {
					continue // one client only, for a quick look
				}
				t.Run(v.Name, func(t *testing.T) {
					r, err := Run(sc, v)
					if err != nil {
						t.Fatal(err)
					}
					results = append(results, r)
					t.Log(r.Row())
				})
			}
		})
	}
	fmt.Println(Header)
	last := ""
	for _, r := range results {
		if last != "" && r.Scenario != last {
			fmt.Println()
		}
		last = r.Scenario
		fmt.Println(r.Row())
	}
	fmt.Println()
	fmt.Println("Outage targets (measured on this run):")
	for _, r := range results {
		fmt.Printf("  %-13s %-14s %s\n", r.Scenario, r.Variant, verdict(r))
	}
	fmt.Println()
	for _, r := range results {
		fmt.Println(r.Detail())
	}
}

// verdict checks r against the targets of the outage-protection targets for its scenario: "ok",
// "MISS", or "n/a" when the window held no request to measure.
func verdict(r Result) string {
	var out []string
	check := func(measured, ok bool, what string) {
		mark := "MISS"
		switch {
		case !measured:
			mark = "n/a"
		case ok:
			mark = "ok"
		}
		out = append(out, mark+" "+what)
	}
	switch r.Scenario {
	case "hard-503", "hard-reset":
		check(r.SteadyReqs > 0, r.SteadyAttempts() <= 1.15, fmt.Sprintf("att/req from onset+1s <= 1.15 (%s over %d requests)", num("%.3f", r.SteadyAttempts(), r.SteadyReqs), r.SteadyReqs))
		check(true, r.Recovery >= 0 && r.Recovery <= time.Second, "95% success <= 1s after heal ("+recovery(r)+")")
	case "random-30%":
		check(r.SteadyFinished > 0, r.SteadySuccess() >= 0.95, fmt.Sprintf("steady success >= 95%% (%s)", num("%.1f%%", 100*r.SteadySuccess(), r.SteadyFinished)))
		check(r.SteadyReqs > 0, r.SteadyAttempts() <= 1.5, fmt.Sprintf("steady att/req <= 1.5 (%s)", num("%.3f", r.SteadyAttempts(), r.SteadyReqs)))
	case "429-hint-10s":
		check(true, r.MaxCallerFaultHits <= 1, fmt.Sprintf("<= 1 hit per caller during the hint (max %d)", r.MaxCallerFaultHits))
	case "overload-429-90%":
		check(r.SteadyReqs > 0, r.SteadyAttempts() <= 0.5, fmt.Sprintf("hits per request from onset+1s <= 0.5 (%s over %d requests)", num("%.3f", r.SteadyAttempts(), r.SteadyReqs), r.SteadyReqs))
		check(true, r.Recovery >= 0 && r.Recovery <= time.Second, "95% success <= 1s after heal ("+recovery(r)+")")
	case "chain-A-B-C":
		check(r.FaultReqs > 0, r.FaultAttempts() <= 1.5, fmt.Sprintf("hits at C per top-level request during C's outage <= 1.5 (%s over %d requests)", num("%.3f", r.FaultAttempts(), r.FaultReqs), r.FaultReqs))
	}
	check(true, r.GoroutinesAfter <= r.GoroutinesBefore && r.FDsAfter <= r.FDsBefore,
		fmt.Sprintf("no goroutine or fd left (%d→%d, %d→%d; peak %d, %d)", r.GoroutinesBefore, r.GoroutinesAfter, r.FDsBefore, r.FDsAfter, r.GoroutinesPeak, r.FDsPeak))
	return strings.Join(out, "; ")
}

func recovery(r Result) string {
	if r.Recovery < 0 {
		return "never within the run"
	}
	return r.Recovery.String()
}

// TestSmoke runs one very short hard outage through redress and checks
// that the harness's counts agree with each other and that the run leaves
// no goroutine or file descriptor behind. It asserts nothing that depends
// on timing.
func TestSmoke(t *testing.T) {
	sc := Scenario{
		Name:    "smoke",
		Phases:  []Phase{{Kind: Healthy, D: 500 * time.Millisecond}, {Kind: Fail503, D: 500 * time.Millisecond}, {Kind: Healthy, D: 500 * time.Millisecond}},
		Onset:   1,
		Heal:    2,
		Callers: 4,
		Think:   2 * time.Millisecond,
	}
	r, err := Run(sc, Redress)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(Header)
	t.Log(r.Row())
	t.Log(r.Detail())
	if r.Requests == 0 || r.FaultReqs == 0 {
		t.Fatalf("no requests: %+v", r)
	}
	if r.Attributed != r.Hits {
		t.Errorf("%d hits, %d of them attributed to a request: want all", r.Hits, r.Attributed)
	}
	if r.Hits != r.TopHits {
		t.Errorf("no hop: the failing server is the first, yet %d hits there and %d at the first hop", r.Hits, r.TopHits)
	}
	var perPhase int64
	for _, n := range r.PhaseHits {
		perPhase += n
	}
	if perPhase != r.Hits {
		t.Errorf("hits per phase %v add up to %d, want %d", r.PhaseHits, perPhase, r.Hits)
	}
	var perSecond int64
	for _, n := range r.HitsPerSecond {
		perSecond += n
	}
	if perSecond != r.Hits {
		t.Errorf("hits per second %v add up to %d, want %d", r.HitsPerSecond, perSecond, r.Hits)
	}
	if r.Successes > r.Finished || r.Finished > r.Requests {
		t.Errorf("%d successes, %d finished, %d requests: want successes <= finished <= requests", r.Successes, r.Finished, r.Requests)
	}
	// Every finished request the breaker did not refuse reached the server
	// at least once; the first request of the outage is retried (the
	// breaker is closed and the budget has its floor), so strictly more.
	if min := int64(r.Finished - r.Rejected); r.Attributed <= min {
		t.Errorf("%d hits for %d finished requests not refused by the breaker: want more (redress retries a 503)", r.Attributed, min)
	}
	if r.ServerErrors != 0 {
		t.Errorf("%d lines in the server's error log, the first: %s", r.ServerErrors, r.FirstServerError)
	}
	if r.GoroutinesAfter > r.GoroutinesBefore {
		t.Errorf("goroutines: %d before, %d after", r.GoroutinesBefore, r.GoroutinesAfter)
	}
	if r.FDsAfter > r.FDsBefore {
		t.Errorf("open fds: %d before, %d after", r.FDsBefore, r.FDsAfter)
	}
}

// TestServerPhases checks what each kind of phase answers and that every
// request is counted, per request, phase and caller.
func TestServerPhases(t *testing.T) {
	phases := []Phase{{Kind: Healthy}, {Kind: Fail503}, {Kind: RateLimit}, {Kind: Random503, Ratio: 1}, {Kind: Random503, Ratio: 0}, {Kind: Reset}}
	s := NewServer(phases, nil)
	defer s.Close()
	base := NewBase()
	defer base.CloseIdleConnections()
	client := &http.Client{Transport: base}
	want := []struct {
		status     int
		retryAfter string
	}{{200, ""}, {503, ""}, {429, "10"}, {503, ""}, {200, ""}, {0, ""}}
	for i, w := range want {
		s.SetPhase(i)
		req, _ := http.NewRequest(http.MethodPost, s.URL+"/", nil) // POST: the transport does not resend it after a reset
		req.Header.Set(HeaderRequest, strconv.Itoa(100+i))
		req.Header.Set(HeaderCaller, "7")
		resp, err := client.Do(req)
		if w.status == 0 {
			if err == nil {
				resp.Body.Close()
				t.Errorf("phase %d (%v): status %d, want a connection error", i, phases[i].Kind, resp.StatusCode)
			}
			continue
		}
		if err != nil {
			t.Fatalf("phase %d (%v): %v", i, phases[i].Kind, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != w.status || resp.Header.Get("Retry-After") != w.retryAfter {
			t.Errorf("phase %d (%v): %d Retry-After %q, want %d %q", i, phases[i].Kind, resp.StatusCode, resp.Header.Get("Retry-After"), w.status, w.retryAfter)
		}
	}
	h := s.Hits()
	if h.Total != int64(len(phases)) {
		t.Errorf("%d hits, want %d", h.Total, len(phases))
	}
	for i := range phases {
		if h.PerPhase[i] != 1 || h.PerRequest[uint64(100+i)] != 1 || h.CallerPhase[[2]int{i, 7}] != 1 {
			t.Errorf("phase %d: %d hits in the phase, %d for its request, %d for its caller; want 1 each",
				i, h.PerPhase[i], h.PerRequest[uint64(100+i)], h.CallerPhase[[2]int{i, 7}])
		}
	}
}
