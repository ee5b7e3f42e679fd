package redressdebug

import (
	"net/http"

	"github.com/redress-go/redress/core"
)

// Defaults of Config.
const (
	// DefaultMaxOperations bounds the (policy, operation) pairs tracked.
	DefaultMaxOperations = 1000
	// DefaultMaxFailures is the number of recent failures kept per operation.
	DefaultMaxFailures = 5
	// DefaultMaxTransitions is the number of recent transitions kept per breaker.
	DefaultMaxTransitions = 10
	// DefaultMaxErrorLen bounds the bytes of error text kept per failure.
	DefaultMaxErrorLen = 96
)

// Upper limits of Config's bounds: a larger value is a *core.ConfigError.
const (
	maxMaxOperations  = 100_000
	maxMaxFailures    = 100
	maxMaxTransitions = 100
	maxMaxErrorLen    = 4096
)

// Config configures New. The zero value is all defaults.
type Config struct {
	// Clock tells the time of events and of the page: it drives the
	// one-minute windows. Default core.SystemClock. A typed nil is a
	// *core.ConfigError.
	Clock core.Clock
	// MaxOperations bounds the (policy, operation) pairs tracked one by one;
	// the events of any further pair are counted under the operation
	// "(other)" of the policy "(other)". It also bounds the breakers and the
	// budgets tracked (the breakers and budgets beyond it are counted, not
	// shown). Default 1000; at most 100000; negative is a *core.ConfigError.
	MaxOperations int
	// MaxFailures is the number of most recent failures kept per operation.
	// Default 5; at most 100; negative is a *core.ConfigError.
	MaxFailures int
	// MaxTransitions is the number of most recent state changes kept per
	// breaker. Default 10; at most 100; negative is a *core.ConfigError.
	MaxTransitions int
	// MaxErrorLen bounds the bytes of a failure's error text (after
	// RedactError); longer text is cut at a rune boundary and marked with
	// "…". Default 96; at most 4096; negative is a *core.ConfigError.
	MaxErrorLen int
	// RedactError returns the text shown for a failure's error (for a
	// *core.RetryError, its last failure, Err: the page shows the stop
	// reason and the attempts itself); "" shows none. Default err.Error() with the query strings of any URL in it cut
	// (as the other subscribers cut them from operation names). The error
	// message is the only free text the page shows: scrub secrets here.
	RedactError func(err error) string
	// Authorize, if set, is asked for each request to the page; false
	// answers 403 Forbidden. Default: every request is served (mount the
	// page behind your own authentication, never on a public listener).
	Authorize func(*http.Request) bool
	// Policies are declared at construction (see Page.Declare): their
	// breaker and budget are shown before their first event. No entry may
	// be nil. Unlike Policy, this is no filter, and Policy does not apply
	// to it.
	Policies []*core.Policy
	// Policy, if set, filters events by policy name: the events of a policy
	// for which it returns false are ignored (the page does not show its
	// calls). It is called for every event, so it must be fast and safe for
	// concurrent use. Default nil: every policy.
	Policy func(name string) bool
}
