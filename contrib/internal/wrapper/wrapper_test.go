package wrapper

import (
	"errors"
	"testing"

	"github.com/redress-go/redress/core"
)

var spec = Spec{
	Per:            "per-test",
	DefaultPolicy:  func() core.PolicyConfig { return core.PolicyConfig{Name: "default"} },
	DefaultBreaker: core.DownstreamBreakerConfig,
	DefaultClassifier: func(error) core.Classification {
		return core.Classification{Class: core.ClassTransient, Reason: "default"}
	},
}

// TestResolveRefusesContradictions: every contradictory combination of the
// common fields is a *core.ConfigError naming the field, and the valid
// ones build what they say.
func TestResolveRefusesContradictions(t *testing.T) {
	br, err := core.NewBreaker(core.BreakerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	withBreaker, err := core.NewPolicy(core.PolicyConfig{Breaker: br})
	if err != nil {
		t.Fatal(err)
	}
	bus := core.NewBus()
	plain, err := core.NewPolicy(core.PolicyConfig{Bus: bus})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		cfg   Config
		field string
	}{
		{"zero", Config{}, ""},
		{"policy and bus", Config{Policy: plain, Bus: core.NewBus()}, "Config.Bus"},
		{"policy with a breaker", Config{Policy: withBreaker}, "Config.Policy"},
		{"policy with a breaker, breakers disabled", Config{Policy: withBreaker, DisableBreakers: true}, ""},
		{"template and DisableBreakers", Config{Breaker: &core.BreakerConfig{}, DisableBreakers: true}, "Config.Breaker"},
		{"BreakerKey and DisableBreakers", Config{HasBreakerKey: true, DisableBreakers: true}, "Config.BreakerKey"},
		{"invalid template", Config{Breaker: &core.BreakerConfig{Window: -1}}, "Config.Breaker (BreakerConfig.Window)"},
		{"template on another bus", Config{Policy: plain, Breaker: &core.BreakerConfig{Bus: core.NewBus()}}, "Config.Breaker (BreakerConfig.Bus)"},
		{"template on the policy's bus", Config{Policy: plain, Breaker: &core.BreakerConfig{Bus: bus}}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Resolve(tc.cfg, spec)
			var ce *core.ConfigError
			switch {
			case tc.field == "" && err != nil:
				t.Fatalf("err = %v, want none", err)
			case tc.field != "" && (!errors.As(err, &ce) || ce.Field != tc.field):
				t.Fatalf("err = %v, want a *core.ConfigError on %s", err, tc.field)
			}
		})
	}
}

// TestResolveDefaults: a zero Config gets the default policy on Config.Bus,
// the default classifier and breakers from the default template; a
// Config's own values are kept.
func TestResolveDefaults(t *testing.T) {
	bus := core.NewBus()
	r, err := Resolve(Config{Bus: bus}, spec)
	if err != nil {
		t.Fatal(err)
	}
	if r.Policy.Name() != "default" || r.Policy.Bus() != bus || r.Breakers == nil || r.Classifier(nil).Reason != "default" {
		t.Fatalf("resolved %+v: want the default policy on the bus, breakers, the default classifier", r)
	}
	if b := r.Breakers.Get("k"); b.Throttler() == nil {
		t.Error("the default template's throttler was lost")
	}
	own := func(error) core.Classification { return core.Classification{Class: core.ClassPermanent, Reason: "own"} }
	r, err = Resolve(Config{Classifier: own, DisableBreakers: true}, spec)
	if err != nil {
		t.Fatal(err)
	}
	if r.Breakers != nil || r.Classifier(nil).Reason != "own" {
		t.Fatalf("resolved %+v: want no breakers and the Config's classifier", r)
	}
}

// TestMarkKeepsTheClassification: Mark's error carries the classification
// for any classifier that honours marks, and a NoRetry classification is a
// core.NoRetry mark too.
func TestMarkKeepsTheClassification(t *testing.T) {
	base := errors.New("boom")
	err := Mark(base, core.Classification{Class: core.ClassConcurrency, Reason: "r"})
	if c := core.DefaultClassifier(err); c.Class != core.ClassConcurrency || c.Reason != "r" || core.IsNoRetry(err) || !errors.Is(err, base) {
		t.Fatalf("Mark = %v (%+v)", err, c)
	}
	if err := Mark(base, core.Classification{Class: core.ClassTransient, NoRetry: true}); !core.IsNoRetry(err) {
		t.Fatal("a NoRetry classification is not marked core.NoRetry")
	}
}
