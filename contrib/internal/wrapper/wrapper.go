// Package wrapper is what the three wrappers (redresshttp, redressgrpc,
// redresssql) share of their configuration: the fields every wrapper's
// Config has, with the same names and meanings (Policy, Bus, Classifier,
// Breaker, DisableBreakers, BreakerKey, Operation), one validation of them
// and one construction of their defaults (the wrapper's default policy on
// Config.Bus, the per-key breakers built from the template).
//
// Every error is a *core.ConfigError naming the wrapper's field
// ("Config.Breaker", "Config.Policy", ...).
package wrapper

import (
	"github.com/redress-go/redress/core"
)

// Config is the common part of a wrapper's Config, field for field. The
// wrapper's BreakerKey and Operation functions take its own request type;
// Resolve only needs to know whether BreakerKey is set.
type Config struct {
	Policy          *core.Policy
	Bus             *core.Bus
	Classifier      core.Classifier
	Breaker         *core.BreakerConfig
	DisableBreakers bool
	// HasBreakerKey reports whether the wrapper's Config.BreakerKey is set.
	HasBreakerKey bool
}

// Spec is what a wrapper says of itself to Resolve.
type Spec struct {
	// Per names the per-key breakers in messages: "per-host",
	// "per-target", "per-database".
	Per string
	// DefaultPolicy returns the configuration of the wrapper's default
	// policy; Resolve sets its Bus to Config.Bus.
	DefaultPolicy func() core.PolicyConfig
	// DefaultBreaker returns the template used when Config.Breaker is nil.
	DefaultBreaker func() core.BreakerConfig
	// DefaultClassifier is the classifier used when Config.Classifier is
	// nil (nil: none, the policy's classifier decides).
	DefaultClassifier core.Classifier
}

// Resolved is a validated Config with its defaults filled in.
type Resolved struct {
	// Policy is Config.Policy, or the default policy publishing on
	// Config.Bus.
	Policy *core.Policy
	// Breakers holds the per-key breakers, nil when Config.DisableBreakers.
	// Their transitions and rejections are published by Policy on its bus.
	Breakers *core.BreakerGroup
	// Classifier is Config.Classifier, or Spec.DefaultClassifier.
	Classifier core.Classifier
}

// Resolve checks cfg, the common fields of a wrapper's Config, and builds
// what they configure: the policy, the breaker group and the classifier.
// Policies the wrapper uses beside Config.Policy (gRPC's Methods) are
// checked with CheckPolicy.
func Resolve(cfg Config, s Spec) (Resolved, error) {
	if cfg.Policy != nil && cfg.Bus != nil {
		return Resolved{}, &core.ConfigError{Field: "Config.Bus", Reason: "cannot be combined with Config.Policy (set the policy's own Bus)"}
	}
	if err := CheckPolicy("Config.Policy", cfg.Policy, cfg.DisableBreakers, s.Per); err != nil {
		return Resolved{}, err
	}
	if cfg.DisableBreakers && cfg.Breaker != nil {
		return Resolved{}, &core.ConfigError{Field: "Config.Breaker", Reason: "is the template of " + s.Per + " breakers, which Config.DisableBreakers turns off: set one or the other"}
	}
	if cfg.DisableBreakers && cfg.HasBreakerKey {
		return Resolved{}, &core.ConfigError{Field: "Config.BreakerKey", Reason: "picks the " + s.Per + " breaker of a request, which Config.DisableBreakers turns off: set one or the other"}
	}
	r := Resolved{Policy: cfg.Policy, Classifier: cfg.Classifier}
	if r.Classifier == nil {
		r.Classifier = s.DefaultClassifier
	}
	if r.Policy == nil {
		pc := s.DefaultPolicy()
		pc.Bus = cfg.Bus
		p, err := core.NewPolicy(pc)
		if err != nil {
			return Resolved{}, err
		}
		r.Policy = p
	}
	if cfg.DisableBreakers {
		return r, nil
	}
	tmpl := s.DefaultBreaker()
	if cfg.Breaker != nil {
		tmpl = *cfg.Breaker
	}
	if tmpl.Bus != nil && tmpl.Bus != r.Policy.Bus() {
		return Resolved{}, &core.ConfigError{Field: "Config.Breaker (BreakerConfig.Bus)", Reason: "must be unset or the policy's bus: the " + s.Per + " breakers publish their transitions, and the policy their rejections, on the policy's bus (set Config.Bus, or the policy's Bus)"}
	}
	tmpl.Bus = nil // the policy publishes on its own bus
	g, err := core.NewBreakerGroup(tmpl)
	if err != nil {
		if ce, ok := err.(*core.ConfigError); ok {
			return Resolved{}, &core.ConfigError{Field: "Config.Breaker (" + ce.Field + ")", Reason: ce.Reason}
		}
		return Resolved{}, err
	}
	r.Breakers = g
	return r, nil
}

// CheckPolicy returns the *core.ConfigError for p, the policy of field,
// when it has a Breaker of its own while the per-key breakers are on
// (disable false): they would replace it. A nil p is valid.
func CheckPolicy(field string, p *core.Policy, disable bool, per string) error {
	if p == nil || disable || p.Breaker() == nil {
		return nil
	}
	return &core.ConfigError{Field: field, Reason: "has a Breaker, which " + per + " breakers would replace: set Config.DisableBreakers or remove it"}
}

// Mark returns err carrying cl (core.Classify), the classification a
// wrapper's Classifier gave a failed attempt, so that the policy's
// classifier (any that honours core.Classified marks) sees it. A
// classification that forbids a retry also marks err with core.NoRetry,
// which the engine honours whatever the policy's classifier.
func Mark(err error, cl core.Classification) error {
	err = core.Classify(err, cl)
	if cl.NoRetry {
		err = core.NoRetry(err)
	}
	return err
}
