package redressdebug_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	redresshttp "github.com/redress-go/redress/contrib/nethttp"
	"github.com/redress-go/redress/core"
	"github.com/redress-go/redress/core/coretest"
	redressdebug "github.com/redress-go/redress/instrument/debugpage"
	"github.com/redress-go/redress/internal/browsertest"
	"github.com/redress-go/redress/internal/testenv"
)

// TestBrowserShowsBreakerOpenThenClosed is the end-to-end proof of the
// page: a real headless Chromium (Debian's chromium package) loads it while
// an upstream on loopback fails, and must show the upstream's per-host
// breaker open; once the upstream is healthy again and the breaker has
// closed, a reload must show it closed, with its transitions. The
// screenshots are saved under the test's temp dir. (The demo's browser
// test, examples/demo, is the same proof on the whole demo; the README's
// screenshot comes from it.)
func TestBrowserShowsBreakerOpenThenClosed(t *testing.T) {
	testenv.LookPath(t, "chromium", "chromium") // before any setup: skip at once without it

	// The upstream: a catalog service that fails with 503 while failing is set.
	var failing atomic.Bool
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() {
			http.Error(w, "upstream unavailable", http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	defer upstream.Close()

	// The client: redresshttp with per-host breakers that open after 3
	// failures and probe after 200ms, on a policy whose bus has the page.
	page, err := redressdebug.New(redressdebug.Config{})
	if err != nil {
		t.Fatal(err)
	}
	pc := redresshttp.DefaultPolicyConfig()
	pc.Name = "catalog"
	pc.Bus = core.NewBus(page)
	pc.Sleeper = coretest.InstantSleeper{} // retries at once: the test waits on the breaker, not on backoff
	policy, err := core.NewPolicy(pc)
	if err != nil {
		t.Fatal(err)
	}
	page.Declare(policy)
	tmpl := redresshttp.DefaultBreakerConfig()
	tmpl.Name = "catalog"
	tmpl.FailureThreshold = 3
	tmpl.FailureRatio = 0
	tmpl.RecoveryTimeout = 200 * time.Millisecond
	tr, err := redresshttp.NewTransport(nil, redresshttp.Config{Policy: policy, Breaker: &tmpl})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	call := func(i int) {
		route, path := "/items/{id}", fmt.Sprintf("/items/%d", i)
		if i%3 == 2 {
			route, path = "/users/{id}", fmt.Sprintf("/users/%d", i)
		}
		ctx := redresshttp.WithRoute(context.Background(), route)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, upstream.URL+path+"?session=secret", nil)
		if resp, err := client.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
		}
	}
	breakerName := "catalog:" + strings.TrimPrefix(upstream.URL, "http://")
	state := func() string {
		for _, b := range page.Snapshot().Breakers {
			if b.Name == breakerName {
				return b.State
			}
		}
		return ""
	}
	// drive calls the upstream until the breaker is in want (polled, never
	// a fixed sleep), within a generous deadline.
	drive := func(want string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for i := 0; state() != want; i++ {
			if time.Now().After(deadline) {
				t.Fatalf("breaker %s is %q after 20s of traffic, want %s", breakerName, state(), want)
			}
			call(i)
			time.Sleep(10 * time.Millisecond)
		}
	}

	mux := http.NewServeMux()
	mux.Handle("/debug/redress", page)
	site := httptest.NewServer(mux)
	defer site.Close()
	pageURL := site.URL + "/debug/redress"

	for i := range 20 {
		call(i) // some healthy traffic first
	}
	failing.Store(true)
	drive("open")
	for i := range 6 {
		call(i) // refused at once by the open breaker (well within 200ms)
	}

	// The browser: generous timeouts, it may be slow to start on a busy machine.
	br := browsertest.Start(t)
	within := br.Within
	row := fmt.Sprintf(`tr.breaker[data-breaker=%q]`, breakerName)

	// The outage: the breaker shows open.
	got, err := br.Attr(pageURL, row, "data-state")
	if err != nil {
		t.Fatal(err)
	}
	if got != "open" {
		t.Fatalf("during the outage the page shows breaker %s %q, want open", breakerName, got)
	}
	badge, err := chromedp.Run(within(10*time.Second), chromedp.Text(chromedp.CSS(row+` .badge`)))
	if err != nil || badge != "open" {
		t.Errorf("badge %q (%v), want open", badge, err)
	}
	html, err := chromedp.Run(within(10*time.Second), chromedp.Evaluate[string](`document.documentElement.outerHTML`))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(html, "session=secret") {
		t.Error("the page shows the request's query string")
	}
	br.Screenshot("open.png")

	// Recovery: the breaker probes, closes, and a reload shows it closed.
	failing.Store(false)
	drive("closed")
	if err := chromedp.Do(within(30*time.Second), chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(row+`[data-state="closed"]`))); err != nil {
		t.Fatalf("after recovery, the page does not show breaker %s closed: %v", breakerName, err)
	}
	hist, err := chromedp.Run(within(10*time.Second), chromedp.Text(chromedp.CSS(row+` ul`)))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(hist, "half_open → closed") || !strings.Contains(hist, "closed → open") {
		t.Errorf("transitions shown: %q, want closed → open, then half_open → closed", hist)
	}
	br.Screenshot("closed.png")
}
