package dashboards

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/redress-go/redress/core"
	"github.com/redress-go/redress/internal/telemetry"
)

// Config tunes the generated dashboards and rules, in the manner of a
// monitoring mixin's configuration. The zero value is all defaults, and the
// files committed in this directory are Generate(Config{}).
type Config struct {
	// Selector is extra label matchers added to every rule and panel query,
	// without braces: `job=~"checkout.*", env!="dev"`. It must be a valid
	// PromQL label-matcher list (classic label names; values quoted; the
	// values of =~ and !~ valid regular expressions), else Generate and
	// Queries return a *core.ConfigError on Config.Selector. Default: none.
	Selector string
	// GrafanaURL is the base URL of the Grafana that serves the dashboards;
	// the alerts' dashboard_url annotation starts with it. Default: none, so
	// the link is the path alone ("/d/redress-overview/..."). It must be an
	// absolute http(s) URL (a sub-path is fine) without query or fragment.
	GrafanaURL string
	// RateWindow is the range of rate() in the rules. Default 5m. It must be
	// at least four scrape intervals of your Prometheus.
	RateWindow time.Duration
	// CircuitOpenFor is how long a breaker must stay away from closed (open,
	// or half-open with failing probes) before RedressCircuitOpen fires.
	// Default 5m.
	CircuitOpenFor time.Duration
	// For is how long the other alerts' conditions must hold before they
	// fire. Default 5m.
	For time.Duration
	// RetryRatio is the retries-per-call ratio above which RedressRetryStorm
	// fires. Default 0.5. Must be in (0, 10].
	RetryRatio float64
	// RetryAmplification is the attempts-per-call ratio above which
	// RedressRetryAmplification fires; the retry amplification panels draw
	// it as a threshold. Attempts are what the downstream receives, calls
	// what the callers asked for (a call refused locally counts with no
	// attempt), so 2 means the downstream sees twice the load the callers
	// send. Default 2: the default RetryRatio already warns from 1.5
	// attempts per call, and this alert is the stronger signal. Must be in
	// (1, 10].
	RetryAmplification float64
	// NonRetryableRatio is the share of calls failing with a non-retryable
	// class (auth, permission, permanent) above which
	// RedressNonRetryableFailures fires. Default 0.05. Must be in (0, 1).
	NonRetryableRatio float64
	// LimiterRejectionRatio is the share of calls refused by a limiter
	// (events limited and concurrency_limited) above which
	// RedressLimiterRejections fires. Default 0.1. Must be in (0, 1).
	LimiterRejectionRatio float64
	// LatencyP99 is the p99 of operation duration above which
	// RedressHighLatency fires; dashboards draw it as a threshold.
	// Default 2s.
	LatencyP99 time.Duration
}

func (c Config) withDefaults() (Config, error) {
	if c.RateWindow < 0 {
		return c, &core.ConfigError{Field: "Config.RateWindow", Reason: "must not be negative"}
	}
	if c.RateWindow == 0 {
		c.RateWindow = 5 * time.Minute
	}
	if c.RateWindow < time.Second || c.RateWindow%time.Second != 0 {
		return c, &core.ConfigError{Field: "Config.RateWindow", Reason: "must be a whole number of seconds"}
	}
	if c.CircuitOpenFor < 0 {
		return c, &core.ConfigError{Field: "Config.CircuitOpenFor", Reason: "must not be negative"}
	}
	if c.CircuitOpenFor == 0 {
		c.CircuitOpenFor = 5 * time.Minute
	}
	if c.For < 0 {
		return c, &core.ConfigError{Field: "Config.For", Reason: "must not be negative"}
	}
	if c.For == 0 {
		c.For = 5 * time.Minute
	}
	if c.RetryRatio == 0 {
		c.RetryRatio = 0.5
	}
	if !(c.RetryRatio > 0 && c.RetryRatio <= 10) {
		return c, &core.ConfigError{Field: "Config.RetryRatio", Reason: "must be in (0, 10]"}
	}
	if c.RetryAmplification == 0 {
		c.RetryAmplification = 2
	}
	if !(c.RetryAmplification > 1 && c.RetryAmplification <= 10) {
		return c, &core.ConfigError{Field: "Config.RetryAmplification", Reason: "must be in (1, 10]"}
	}
	if c.NonRetryableRatio == 0 {
		c.NonRetryableRatio = 0.05
	}
	if !(c.NonRetryableRatio > 0 && c.NonRetryableRatio < 1) {
		return c, &core.ConfigError{Field: "Config.NonRetryableRatio", Reason: "must be in (0, 1)"}
	}
	if c.LimiterRejectionRatio == 0 {
		c.LimiterRejectionRatio = 0.1
	}
	if !(c.LimiterRejectionRatio > 0 && c.LimiterRejectionRatio < 1) {
		return c, &core.ConfigError{Field: "Config.LimiterRejectionRatio", Reason: "must be in (0, 1)"}
	}
	if c.LatencyP99 < 0 {
		return c, &core.ConfigError{Field: "Config.LatencyP99", Reason: "must not be negative"}
	}
	if c.LatencyP99 == 0 {
		c.LatencyP99 = 2 * time.Second
	}
	if err := c.validateLatency(); err != nil {
		return c, err
	}
	c.Selector = strings.TrimSpace(c.Selector)
	if strings.HasPrefix(c.Selector, "{") || strings.HasSuffix(c.Selector, "}") {
		return c, &core.ConfigError{Field: "Config.Selector", Reason: "must be label matchers without braces"}
	}
	if why := checkSelector(c.Selector); why != "" {
		return c, &core.ConfigError{Field: "Config.Selector", Reason: why}
	}
	c.Selector = strings.TrimRight(strings.TrimSpace(c.Selector), ", \t\r\n")
	c.GrafanaURL = strings.TrimRight(c.GrafanaURL, "/")
	if c.GrafanaURL != "" {
		u, err := url.Parse(c.GrafanaURL)
		switch {
		case err != nil:
			return c, &core.ConfigError{Field: "Config.GrafanaURL", Reason: fmt.Sprintf("is not a URL: %v", err)}
		case u.Scheme != "http" && u.Scheme != "https", u.Host == "":
			return c, &core.ConfigError{Field: "Config.GrafanaURL", Reason: fmt.Sprintf("must be an absolute http(s) URL such as https://grafana.example.com, not %q", c.GrafanaURL)}
		case u.RawQuery != "" || u.Fragment != "" || strings.ContainsAny(c.GrafanaURL, "{} \t\n\"\\"):
			return c, &core.ConfigError{Field: "Config.GrafanaURL", Reason: "must be a base URL without query, fragment, spaces, quotes or braces (the alerts' links append the dashboard path)"}
		}
	}
	return c, nil
}

// promDuration formats d the way PromQL and rule files write durations.
func promDuration(d time.Duration) string { return model.Duration(d).String() }

func (c Config) validateLatency() error {
	lo, hi := telemetry.Buckets[0], telemetry.Buckets[len(telemetry.Buckets)-1]
	if s := c.LatencyP99.Seconds(); s <= lo || s >= hi {
		return &core.ConfigError{Field: "Config.LatencyP99", Reason: fmt.Sprintf("must be within the histogram buckets, (%gs, %gs)", lo, hi)}
	}
	return nil
}
