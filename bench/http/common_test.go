package httpbench

import (
	"io"
	"log"
	"net/http"
	"testing"
	"time"

	"github.com/failsafe-go/failsafe-go/failsafehttp"
	"github.com/hashicorp/go-retryablehttp"

	redresshttp "github.com/redress-go/redress/contrib/nethttp"
	"github.com/redress-go/redress/core"
)

// newBase returns the base transport every variant sends through: the same
// settings for all, with enough idle connections per host for the outage
// scenario's 50 clients (the default 2 would churn connections).
func newBase(tb testing.TB) *http.Transport {
	b := &http.Transport{
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 128,
		IdleConnTimeout:     30 * time.Second,
	}
	tb.Cleanup(b.CloseIdleConnections)
	return b
}

// variant builds one client transport over base. bus, when not nil, is
// given to redress (the peers have no equivalent).
type variant struct {
	name  string
	build func(tb testing.TB, base http.RoundTripper, bus *core.Bus) http.RoundTripper
}

var (
	baseline = variant{"baseline", func(_ testing.TB, base http.RoundTripper, _ *core.Bus) http.RoundTripper {
		return base
	}}
	redress = variant{"redress", func(tb testing.TB, base http.RoundTripper, bus *core.Bus) http.RoundTripper {
		rt, err := redresshttp.NewTransport(base, redresshttp.Config{Bus: bus})
		if err != nil {
			tb.Fatal(err)
		}
		return rt
	}}
	failsafe = variant{"failsafehttp", func(_ testing.TB, base http.RoundTripper, _ *core.Bus) http.RoundTripper {
		return failsafehttp.NewRoundTripper(base, failsafehttp.NewRetryPolicyBuilder().Build())
	}}
	retryable = variant{"retryablehttp", func(_ testing.TB, base http.RoundTripper, _ *core.Bus) http.RoundTripper {
		c := retryablehttp.NewClient()
		c.HTTPClient.Transport = base
		c.Logger = log.New(io.Discard, "", 0)
		return &retryablehttp.RoundTripper{Client: c}
	}}
)
