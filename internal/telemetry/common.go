package telemetry

import (
	"fmt"

	"github.com/redress-go/redress/core"
)

// Common holds the Config fields every subscriber has (Events, Policy,
// RedactError, OnError), checked and defaulted once here for all of them.
type Common struct {
	// Events is the set of events handled; see each Config.Events.
	Events core.EventSet
	// Policy, if set, filters events by policy name: false ignores them.
	Policy func(name string) bool
	// RedactError returns the text recorded for an error.
	RedactError func(err error) string
	// OnError, if set, is told of the subscriber's own failures.
	OnError func(err error)
}

// RedactError is the default Config.RedactError of every subscriber:
// err.Error(), unchanged.
func RedactError(err error) string { return err.Error() }

// NewCommon returns c checked and with its defaults: Events DefaultEvents
// when zero, RedactError the package's RedactError when nil. The error is a
// *core.ConfigError naming the field (see CheckEvents).
func NewCommon(c Common) (Common, error) {
	if err := CheckEvents(c.Events); err != nil {
		return Common{}, err
	}
	if c.Events == 0 {
		c.Events = DefaultEvents
	}
	if c.RedactError == nil {
		c.RedactError = RedactError
	}
	return c, nil
}

// Wants reports whether the event of policy is not filtered out by Policy.
func (c *Common) Wants(policy string) bool {
	return c.Policy == nil || c.Policy(policy)
}

// Recover, deferred by a subscriber's Handle (or its handler call), turns a
// panic into an error that names pkg and reports it to OnError; without
// OnError the panic is swallowed. A subscriber that should let the bus see
// its panics when OnError is nil defers Recover only when OnError is set.
func (c *Common) Recover(pkg string) {
	if v := recover(); v != nil && c.OnError != nil {
		c.OnError(PanicError(pkg, v))
	}
}

// PanicError is the error OnError receives for a recovered panic of value
// v: it wraps v when v is an error.
func PanicError(pkg string, v any) error {
	if err, ok := v.(error); ok {
		return fmt.Errorf("%s: panic: %w", pkg, err)
	}
	return fmt.Errorf("%s: panic: %v", pkg, v)
}

// CheckDeclared validates a subscriber's Config.DeclarePolicies: a
// *core.ConfigError naming the first nil entry, else nil.
func CheckDeclared(ps []*core.Policy) error { return CheckPolicies("Config.DeclarePolicies", ps) }

// CheckPolicies validates the policies of the Config field named field: a
// *core.ConfigError naming the first nil entry, else nil.
func CheckPolicies(field string, ps []*core.Policy) error {
	for i, p := range ps {
		if p == nil {
			return &core.ConfigError{Field: fmt.Sprintf("%s[%d]", field, i), Reason: "must not be nil"}
		}
	}
	return nil
}
