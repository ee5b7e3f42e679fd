package outage

import (
	"io"
	"log"
	"net/http"
	"time"

	"github.com/failsafe-go/failsafe-go/circuitbreaker"
	"github.com/failsafe-go/failsafe-go/failsafehttp"
	"github.com/hashicorp/go-retryablehttp"

	redresshttp "github.com/redress-go/redress/contrib/nethttp"
)

// Variant is a client under test: it wraps a base transport the harness
// owns (so that the harness can close its idle connections).
type Variant struct {
	Name string
	New  func(base http.RoundTripper) (http.RoundTripper, error)
	// Server, if set, wraps the handler of every hop of a chain (the
	// library's server middleware).
	Server func(http.Handler) http.Handler
}

// NewBase returns the base transport every variant sends through: the same
// settings for all, with enough idle connections per host for the callers
// (the default 2 per host would churn connections under load).
func NewBase() *http.Transport {
	return &http.Transport{
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 128,
		IdleConnTimeout:     30 * time.Second,
	}
}

var (
	// Baseline is the base transport alone: no retry, no breaker.
	Baseline = Variant{Name: "baseline", New: func(base http.RoundTripper) (http.RoundTripper, error) {
		return base, nil
	}}
	// Redress is redresshttp.NewTransport with the zero Config: the default
	// policy (3 attempts, decorrelated jitter 100ms..5s, Retry-After honoured
	// up to 30s, the adaptive retry budget), a breaker per host, and on the
	// hops of a chain the server middleware (redresshttp.Handler).
	Redress = Variant{Name: "redress", New: func(base http.RoundTripper) (http.RoundTripper, error) {
		return redresshttp.NewTransport(base, redresshttp.Config{})
	}, Server: redresshttp.Handler}
	// Failsafe is failsafehttp.NewRoundTripper with failsafehttp's retry
	// policy as built by NewRetryPolicyBuilder().Build() (2 retries, no
	// delay but the server's Retry-After) and a circuit breaker as the
	// failsafe-go docs compose it (NewRoundTripper(base, retryPolicy,
	// circuitBreaker)). The breaker handles errors and 5xx responses (a
	// breaker of *http.Response handles only errors unless told) and is set
	// to redress's thresholds, so that the two are compared like for like:
	// opens at 50% failures of at least 10 calls in 10s, half-opens after
	// 5s (failsafe's own default delay is 1 minute).
	Failsafe = Variant{Name: "failsafehttp", New: func(base http.RoundTripper) (http.RoundTripper, error) {
		rp := failsafehttp.NewRetryPolicyBuilder().Build()
		cb := circuitbreaker.NewBuilder[*http.Response]().
			HandleIf(func(resp *http.Response, err error) bool {
				return err != nil || (resp != nil && resp.StatusCode >= 500)
			}).
			WithFailureRateThreshold(0.5, 10, 10*time.Second).
			WithDelay(5 * time.Second).
			Build()
		return failsafehttp.NewRoundTripper(base, rp, cb), nil
	}}
	// Retryable is retryablehttp.NewClient() with its defaults (RetryMax 4,
	// DefaultBackoff 1s..30s honouring Retry-After on 429 and 503,
	// DefaultRetryPolicy), logging off. The waits are NOT shortened: a
	// scenario's end cancels the requests still waiting.
	Retryable = Variant{Name: "retryablehttp", New: func(base http.RoundTripper) (http.RoundTripper, error) {
		c := retryablehttp.NewClient()
		c.HTTPClient.Transport = base
		c.Logger = log.New(io.Discard, "", 0)
		return &retryablehttp.RoundTripper{Client: c}, nil
	}}
)

// Variants is every client under test, in the order of the tables.
var Variants = []Variant{Redress, Failsafe, Retryable, Baseline}
