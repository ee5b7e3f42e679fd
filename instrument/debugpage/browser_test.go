package redressdebug_test

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	redresshttp "github.com/redress-go/redress/contrib/nethttp"
	"github.com/redress-go/redress/core"
	"github.com/redress-go/redress/core/coretest"
	redressdebug "github.com/redress-go/redress/instrument/debugpage"
	"github.com/redress-go/redress/internal/testenv"
)

// TestBrowserShowsBreakerOpenThenClosed is the end-to-end proof of the
// page: a real headless Chromium (Debian's chromium package) loads it while
// an upstream on loopback fails, and must show the upstream's per-host
// breaker open; once the upstream is healthy again and the breaker has
// closed, a reload must show it closed, with its transitions. The
// screenshots are saved under the test's temp dir (and, when
// REDRESS_SCREENSHOT_DIR is set, the one of the outage is copied there as
// debugpage.png: docs/img/debugpage.png comes from this test).
func TestBrowserShowsBreakerOpenThenClosed(t *testing.T) {
	chromium := testenv.LookPath(t, "chromium", "chromium")

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
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium), chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.WindowSize(1280, 1000), chromedp.UserDataDir(t.TempDir()))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	if err := chromedp.Do(bctx); err != nil { // starts the browser
		testenv.Missing(t, "a working chromium", err)
	}
	within := func(d time.Duration) context.Context {
		ctx, cancel := context.WithTimeout(bctx, d)
		t.Cleanup(cancel)
		return ctx
	}
	row := fmt.Sprintf(`tr.breaker[data-breaker=%q]`, breakerName)
	shot := func(name string) []byte {
		t.Helper()
		img, err := chromedp.Run(within(30*time.Second), chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if len(img) == 0 {
			t.Fatalf("%s: empty screenshot", name)
		}
		if _, err := png.Decode(bytes.NewReader(img)); err != nil {
			t.Fatalf("%s: not a PNG: %v", name, err)
		}
		p := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(p, img, 0o644); err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Stat(p); err != nil || fi.Size() == 0 {
			t.Fatalf("screenshot %s: %v, %v", p, fi, err)
		}
		return img
	}

	// The outage: the breaker shows open.
	if err := chromedp.Do(within(30*time.Second), chromedp.Navigate(pageURL), chromedp.WaitVisible(row)); err != nil {
		t.Fatal(err)
	}
	got, err := chromedp.Run(within(10*time.Second), chromedp.AttributeValue(row, "data-state"))
	if err != nil {
		t.Fatal(err)
	}
	if got.Value != "open" {
		t.Fatalf("during the outage the page shows breaker %s %q, want open", breakerName, got.Value)
	}
	badge, err := chromedp.Run(within(10*time.Second), chromedp.Text(row+` .badge`))
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
	img := shot("open.png")
	if dir := os.Getenv("REDRESS_SCREENSHOT_DIR"); dir != "" {
		if err := os.WriteFile(filepath.Join(dir, "debugpage.png"), img, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// Recovery: the breaker probes, closes, and a reload shows it closed.
	failing.Store(false)
	drive("closed")
	if err := chromedp.Do(within(30*time.Second), chromedp.Reload(), chromedp.WaitVisible(row+`[data-state="closed"]`)); err != nil {
		t.Fatalf("after recovery, the page does not show breaker %s closed: %v", breakerName, err)
	}
	hist, err := chromedp.Run(within(10*time.Second), chromedp.Text(row+` ul`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(hist, "half_open → closed") || !strings.Contains(hist, "closed → open") {
		t.Errorf("transitions shown: %q, want closed → open, then half_open → closed", hist)
	}
	shot("closed.png")
}
