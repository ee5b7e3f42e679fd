package core_test

import (
	"errors"
	"sync"
	"testing"

	"github.com/redress-go/redress/core"
)

func TestBreakerGroupOnePerKey(t *testing.T) {
	g, err := core.NewBreakerGroup(core.BreakerConfig{Name: "http", FailureThreshold: 1})
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "lookup before get", g.Lookup("a:443") == nil, true)
	var wg sync.WaitGroup
	got := make([]*core.Breaker, 8)
	for i := range got {
		wg.Add(1)
		go func() { defer wg.Done(); got[i] = g.Get("a:443") }()
	}
	wg.Wait()
	for _, b := range got {
		if b != got[0] {
			t.Fatal("Get created two breakers for one key")
		}
	}
	eq(t, "name", got[0].Name(), "http:a:443")
	p, _ := g.Get("a:443").Allow()
	p.Failure(core.ClassTransient)
	eq(t, "a opened", g.Lookup("a:443").State(), core.StateOpen)
	eq(t, "b independent", g.Get("b:443").State(), core.StateClosed)
	eq(t, "unnamed template", mustGroup(t, core.BreakerConfig{}).Get("h").Name(), "h")

	var ce *core.ConfigError
	if _, err := core.NewBreakerGroup(core.BreakerConfig{FailureRatio: 2}); !errors.As(err, &ce) || ce.Field != "BreakerConfig.FailureRatio" {
		t.Errorf("invalid template: %v", err)
	}
}

func mustGroup(t *testing.T, c core.BreakerConfig) *core.BreakerGroup {
	t.Helper()
	g, err := core.NewBreakerGroup(c)
	if err != nil {
		t.Fatal(err)
	}
	return g
}
