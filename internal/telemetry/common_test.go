package telemetry

import (
	"errors"
	"testing"

	"github.com/redress-go/redress/core"
)

func TestNewCommonDefaultsAndChecks(t *testing.T) {
	c, err := NewCommon(Common{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Events != DefaultEvents || c.RedactError(errors.New("x")) != "x" || c.OnError != nil || !c.Wants("any") {
		t.Errorf("defaults: %+v", c)
	}
	c, _ = NewCommon(Common{Events: core.AllEvents, Policy: func(n string) bool { return n == "a" }})
	if c.Events != core.AllEvents || !c.Wants("a") || c.Wants("b") {
		t.Errorf("set values not kept: %+v", c)
	}
	_, err = NewCommon(Common{Events: 1 << 31})
	var ce *core.ConfigError
	if !errors.As(err, &ce) || ce.Field != "Config.Events" {
		t.Errorf("err = %v, want a ConfigError on Config.Events", err)
	}
	if err := CheckDeclared([]*core.Policy{nil}); !errors.As(err, &ce) || ce.Field != "Config.DeclarePolicies[0]" {
		t.Errorf("CheckDeclared err = %v", err)
	}
}
