package redressprom_test

import (
	"strings"
	"testing"

	"github.com/redress-go/redress/core"
	redressprom "github.com/redress-go/redress/instrument/prometheus"
	"github.com/redress-go/redress/internal/telemetry/telemetrytest"
)

// Config.Policy drops the events of a filtered policy: the registry
// gathers no series of it, and the kept policy's series are there.
func TestPolicyFilterDropsFilteredPolicy(t *testing.T) {
	sub, reg := newSub(t, redressprom.Config{Policy: func(name string) bool { return name != "noisy" }})
	telemetrytest.RunPolicies(t, core.NewBus(sub), "kept", "noisy")
	text := scrape(t, reg)
	if strings.Contains(text, `redress_policy="noisy"`) {
		t.Errorf("series of the filtered policy:\n%s", text)
	}
	if !strings.Contains(text, `redress_retries_total{error_type="transient",redress_operation="kept",redress_policy="kept"} 1`) {
		t.Errorf("no retry series of the kept policy:\n%s", text)
	}
}

// With Config.OnError set, a panic in Handle (here: in the Policy filter)
// is recovered and reported there, never to the bus; without it the bus
// recovers it as before.
func TestOnErrorReceivesPanic(t *testing.T) {
	telemetrytest.CheckOnErrorGetsPanic(t, "redressprom", func(policy func(string) bool, onError func(error)) core.Subscriber {
		sub, _ := newSub(t, redressprom.Config{Policy: policy, OnError: onError})
		return sub
	})
}

// The subscriber records no error text, so Config.RedactError is never
// called and no error message reaches a series.
func TestRedactErrorNeverNeeded(t *testing.T) {
	called := false
	sub, reg := newSub(t, redressprom.Config{RedactError: func(err error) string { called = true; return err.Error() }})
	telemetrytest.RunPolicies(t, core.NewBus(sub), "api")
	if called {
		t.Error("RedactError called")
	}
	if text := scrape(t, reg); strings.Contains(text, "boom") {
		t.Errorf("error text in the series:\n%s", text)
	}
}
