package main

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/redress-go/redress/internal/browsertest"
	"github.com/redress-go/redress/internal/testenv"
)

// TestBrowserLiveViewDuringOutage runs the demo in-process on a compressed
// fault profile and loads its introspection page, at the URL its startup
// lines print, in a real headless Chromium: during the outage the page must
// show a breaker open, and in recovery the catalog upstream's breaker closed
// again. The pages are polled (reloaded until they show the state, within
// the phase), never judged after a fixed sleep. The screenshots are saved
// under the test's temp dir; with REDRESS_SCREENSHOT_DIR set, the outage's
// is also written there as debugpage.png (the README's
// docs/img/debugpage.png comes from this test:
// REDRESS_SCREENSHOT_DIR=$PWD/docs/img go test -run Browser ./examples/demo).
func TestBrowserLiveViewDuringOutage(t *testing.T) {
	testenv.LookPath(t, "chromium", "chromium")
	br := browsertest.Start(t) // before the demo: it may take seconds

	demo := startDemo(t, shortConfig(16*time.Second)) // healthy 3.2s, degraded 4s, outage 4.8s, recovery 4s
	out, phases := demo.out, demo.phases
	m := regexp.MustCompile(`live view: (http://\S+/debug/redress)`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no live view URL in the startup lines:\n%s", out.String())
	}
	url := m[1]
	// states loads the page and returns "breaker=state" for each breaker row.
	states := func() string {
		if err := chromedp.Do(br.Within(30*time.Second), chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS(`#breakers`))); err != nil {
			t.Fatal(err)
		}
		s, err := chromedp.Run(br.Within(10*time.Second), chromedp.Evaluate[string](
			`[...document.querySelectorAll('tr.breaker')].map(e => e.dataset.breaker + '=' + e.dataset.state).join(' ')`))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	// until reloads the page until ok accepts what it shows, before the
	// phase named next starts.
	until := func(what, next string, ok func(string) bool) {
		t.Helper()
		var last string
		for {
			if last = states(); ok(last) {
				return
			}
			select {
			case p := <-phases:
				if p == next {
					t.Fatalf("the page never showed %s before phase %s; last: %q", what, next, last)
				}
			default:
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	demo.waitPhase(t, "outage", 20*time.Second)
	until("the catalog breaker open", "recovery", func(s string) bool {
		return regexp.MustCompile(`(^| )catalog:\S+=open`).MatchString(s)
	})
	img := br.Screenshot("outage.png")
	if dir := os.Getenv("REDRESS_SCREENSHOT_DIR"); dir != "" {
		if err := os.WriteFile(filepath.Join(dir, "debugpage.png"), img, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	demo.waitPhase(t, "recovery", 20*time.Second)
	until("the catalog breaker closed", "", func(s string) bool {
		return regexp.MustCompile(`(^| )catalog:\S+=closed`).MatchString(s)
	})
	br.Screenshot("recovery.png")
}
