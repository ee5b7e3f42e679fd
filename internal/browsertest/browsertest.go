// Package browsertest starts a headless Chromium (Debian's chromium package)
// for the real-browser tests, driven through the Chrome DevTools protocol by
// github.com/chromedp/chromedp. A missing or broken chromium skips the test,
// or fails it under REDRESS_REQUIRE_SERVICES=1 (see internal/testenv). It is
// internal: not API.
package browsertest

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/redress-go/redress/internal/testenv"
)

// Browser is one tab of a running headless Chromium.
type Browser struct {
	t   testing.TB
	ctx context.Context
}

// Start starts Chromium with a 1280×1000 window and a profile in a temp
// dir; it stops when the test ends.
func Start(t testing.TB) *Browser {
	t.Helper()
	chromium := testenv.LookPath(t, "chromium", "chromium")
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium), chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.WindowSize(1280, 1000), chromedp.UserDataDir(t.TempDir()))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	t.Cleanup(cancelBrowser)
	// The first action starts the browser, bound to bctx (no timeout: a
	// timeout here would end the browser with it).
	if err := chromedp.Do(bctx); err != nil {
		testenv.Missing(t, "a working chromium", err)
	}
	return &Browser{t: t, ctx: bctx}
}

// Within returns the browser's context with a timeout, for one action.
func (b *Browser) Within(d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(b.ctx, d)
	b.t.Cleanup(cancel)
	return ctx
}

// Attr loads url and returns the value of attribute name of the first
// element matching the CSS selector sel, once one is visible (within 30s).
func (b *Browser) Attr(url, sel, name string) (string, error) {
	if err := chromedp.Do(b.Within(30*time.Second), chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS(sel))); err != nil {
		return "", err
	}
	v, err := chromedp.Run(b.Within(10*time.Second), chromedp.AttributeValue(chromedp.CSS(sel), name))
	return v.Value, err
}

// Screenshot takes a full-page PNG, checks it is a non-empty image, saves it
// as name under the test's temp dir, and returns it.
func (b *Browser) Screenshot(name string) []byte {
	b.t.Helper()
	img, err := chromedp.Run(b.Within(30*time.Second), chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatal(err)
	}
	if len(img) == 0 {
		b.t.Fatalf("%s: empty screenshot", name)
	}
	if _, err := png.Decode(bytes.NewReader(img)); err != nil {
		b.t.Fatalf("%s: not a PNG: %v", name, err)
	}
	p := filepath.Join(b.t.TempDir(), name)
	if err := os.WriteFile(p, img, 0o644); err != nil {
		b.t.Fatal(err)
	}
	if fi, err := os.Stat(p); err != nil || fi.Size() == 0 {
		b.t.Fatalf("screenshot %s: %v, %v", p, fi, err)
	}
	return img
}

// Context is the browser's context, for chromedp actions of the test's own.
func (b *Browser) Context() context.Context { return b.ctx }
