package core

import (
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// FaultRule is one fault a FaultInjector injects.
type FaultRule struct {
	// Operation limits the rule to the calls of one operation label
	// (WithOperation, or the wrapper's operation); "" matches every call.
	Operation string
	// Rate is the share of the matching attempts that get the fault, in
	// (0, 1].
	Rate float64
	// Latency is added before the attempt (on the policy's Sleeper, cut
	// short by the attempt's context). It may come with Err or Result.
	Latency time.Duration
	// Err, if set, is the attempt's error instead of the downstream's
	// answer: the attempt is not made. InjectedError(class) makes one of a
	// class.
	Err error
	// Result, if set, is the attempt's value instead of the downstream's
	// answer: the attempt is not made and the call returns it (Do and
	// Execute as their value, Step.Fallback to a wrapper; it must have the
	// call's type: an *http.Response under redresshttp).
	Result any
}

// FaultConfig configures a FaultInjector.
type FaultConfig struct {
	// Rules are tried in order; the first that matches the attempt's
	// operation and draws its Rate applies.
	Rules []FaultRule
	// Seed seeds the draws: the same seed, the same faults for the same
	// sequence of attempts. 0: a random seed.
	Seed uint64
}

// FaultInjector injects faults into a policy's attempts
// (PolicyConfig.Faults): latency, an error of a given class or a result,
// at a configured rate, per operation. It is off when made: nothing is
// injected until Enable, and Disable turns it off again, at run time. The
// only way to get one is NewFaultInjector and the only way to turn it on
// is Enable, so a production build that never calls both injects nothing;
// a policy without one pays a nil check.
//
// A fault is injected inside the breaker and the attempt timeout, after
// attempt_start: the breaker, the classifier, the budget, the retries and
// every subscriber see it as the downstream's answer. Each is published as
// EventFaultInjected (Reason "latency", "error" or "result"). It is safe
// for concurrent use.
type FaultInjector struct {
	on    atomic.Bool
	rules atomic.Pointer[[]FaultRule]
	mu    sync.Mutex
	rnd   *rand.Rand
}

// NewFaultInjector returns a fault injector, off, or a *ConfigError naming
// the first invalid rule field.
func NewFaultInjector(cfg FaultConfig) (*FaultInjector, error) {
	seed := cfg.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	f := &FaultInjector{rnd: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	if err := f.SetRules(cfg.Rules); err != nil {
		return nil, err
	}
	return f, nil
}

// SetRules replaces the rules, at run time, or returns a *ConfigError
// naming the first invalid field and keeps the old ones.
func (f *FaultInjector) SetRules(rules []FaultRule) error {
	for i, r := range rules {
		field := "FaultConfig.Rules[" + strconv.Itoa(i) + "]."
		switch {
		case !(r.Rate > 0 && r.Rate <= 1):
			return cfgErr(field+"Rate", "must be in (0, 1]")
		case r.Latency < 0:
			return cfgErr(field+"Latency", "must not be negative")
		case r.Err != nil && r.Result != nil:
			return cfgErr(field+"Result", "cannot come with Err: a fault is an error or a result")
		case r.Latency == 0 && r.Err == nil && r.Result == nil:
			return cfgErr(field+"Latency", "a rule needs a Latency, an Err or a Result")
		}
	}
	cp := append([]FaultRule(nil), rules...)
	f.rules.Store(&cp)
	return nil
}

// Enable turns injection on.
func (f *FaultInjector) Enable() { f.on.Store(true) }

// Disable turns injection off.
func (f *FaultInjector) Disable() { f.on.Store(false) }

// Enabled reports whether injection is on.
func (f *FaultInjector) Enabled() bool { return f.on.Load() }

// pick returns the rule that applies to an attempt of operation op, or nil.
func (f *FaultInjector) pick(op string) *FaultRule {
	rules := f.rules.Load()
	if rules == nil {
		return nil
	}
	for i := range *rules {
		r := &(*rules)[i]
		if r.Operation != "" && r.Operation != op {
			continue
		}
		f.mu.Lock()
		x := f.rnd.Float64()
		f.mu.Unlock()
		if x < r.Rate {
			return r
		}
	}
	return nil
}

// InjectedFaultError is an error a fault injector returns instead of the
// downstream's answer; it is classified as its Class (reason "injected").
type InjectedFaultError struct {
	// Class is the class the fault plays.
	Class Class
}

// InjectedError returns an injected error of class c, for FaultRule.Err.
func InjectedError(c Class) error { return &InjectedFaultError{Class: c} }

// Error implements error.
func (e *InjectedFaultError) Error() string {
	return "redress: injected fault (" + e.Class.String() + ")"
}

// RedressClassification implements Classified.
func (e *InjectedFaultError) RedressClassification() Classification {
	return Classification{Class: e.Class, Reason: "injected"}
}

// injectFault applies the fault injector's rule, if one applies, to the
// attempt Next just admitted. It returns true when the attempt is to be
// made by the caller (no fault, or latency only), false when the fault
// ended it (an error or a result): Next then goes on as if the caller had
// ended it.
func (s *Step) injectFault(f *FaultInjector) bool {
	r := f.pick(s.call.Operation)
	if r == nil {
		return true
	}
	p := s.p
	if s.mask.Has(EventFaultInjected) {
		var e Event
		s.event(&e, EventFaultInjected, s.attempt)
		e.Sleep = r.Latency
		switch {
		case r.Err != nil:
			e.Reason = "error"
			e.Err = r.Err
			e.Class = p.classify(r.Err).Class
		case r.Result != nil:
			e.Reason = "result"
		default:
			e.Reason = "latency"
		}
		p.bus.publish(s.opCtx, &e)
	}
	if r.Latency > 0 {
		_ = p.sleeper.Sleep(s.actx, r.Latency) // an attempt cut short fails on its context, as a slow downstream's would
	}
	switch {
	case r.Err != nil:
		s.End(r.Err)
		return false
	case r.Result != nil:
		s.end(nil, r.Result, true)
		if s.phase == stepDone && s.stop == StopNone && !s.fbUsed { // the injected result was accepted (not a Fallback's rescue)
			s.fbVal, s.fbUsed, s.fbFault, s.fbCause = r.Result, true, true, nil
		}
		return false
	}
	return true
}
