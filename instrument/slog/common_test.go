package redressslog_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/redress-go/redress/core"
	redressslog "github.com/redress-go/redress/instrument/slog"
	"github.com/redress-go/redress/internal/telemetry/telemetrytest"
)

// Config.Policy drops the records of a filtered policy from the handler's
// output, and keeps the others'.
func TestPolicyFilterDropsFilteredPolicy(t *testing.T) {
	var buf bytes.Buffer
	sub, err := redressslog.New(redressslog.Config{
		Handler: slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}),
		Policy:  func(name string) bool { return name != "noisy" },
	})
	if err != nil {
		t.Fatal(err)
	}
	telemetrytest.RunPolicies(t, core.NewBus(sub), "kept", "noisy")
	out := buf.String()
	if strings.Contains(out, `"redress.policy":"noisy"`) {
		t.Errorf("records of the filtered policy:\n%s", out)
	}
	if !strings.Contains(out, `"msg":"redress retry","redress.event":"retry","redress.policy":"kept"`) {
		t.Errorf("no retry record of the kept policy:\n%s", out)
	}
}

// With Config.OnError set, a panic in Handle (here: in the Policy filter)
// is recovered and reported there, never to the bus; without it the bus
// recovers it as before.
func TestOnErrorReceivesPanic(t *testing.T) {
	telemetrytest.CheckOnErrorGetsPanic(t, "redressslog", func(policy func(string) bool, onError func(error)) core.Subscriber {
		sub, err := redressslog.New(redressslog.Config{Handler: &capture{min: slog.LevelDebug}, Policy: policy, OnError: onError})
		if err != nil {
			t.Fatal(err)
		}
		return sub
	})
}

// A handler's panic and a handler's error both reach Config.OnError (a
// panic with an error value wraps it), never the bus.
func TestOnErrorReceivesHandlerFailures(t *testing.T) {
	errBad := errors.New("handler broke")
	var got []error
	onError := func(err error) { got = append(got, err) }
	sub, err := redressslog.New(redressslog.Config{Handler: &errPanicky{capture{min: slog.LevelDebug}, errBad}, OnError: onError})
	if err != nil {
		t.Fatal(err)
	}
	bus := core.NewBus(sub)
	telemetrytest.RunPolicies(t, bus, "api")
	if bus.Panics() != 0 {
		t.Errorf("bus recovered %d panics, want 0", bus.Panics())
	}
	if len(got) == 0 {
		t.Fatal("OnError not called")
	}
	for _, err := range got {
		if !errors.Is(err, errBad) || !strings.Contains(err.Error(), "redressslog") {
			t.Errorf("OnError got %v, want it to wrap %v and name the package", err, errBad)
		}
	}

	got = nil
	sub2, _ := redressslog.New(redressslog.Config{Handler: &failing{capture{min: slog.LevelDebug}}, OnError: onError})
	telemetrytest.RunPolicies(t, core.NewBus(sub2), "api")
	if len(got) == 0 || got[0].Error() != "disk full" {
		t.Errorf("OnError got %v, want the handler's error", got)
	}
}

type errPanicky struct {
	capture
	err error
}

func (p *errPanicky) Handle(context.Context, slog.Record) error { panic(p.err) }

// Config.RedactError gives the value of the "error" key.
func TestRedactErrorApplied(t *testing.T) {
	var buf bytes.Buffer
	sub, _ := redressslog.New(redressslog.Config{
		Handler:     slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}),
		RedactError: func(error) string { return "redacted" },
	})
	telemetrytest.RunPolicies(t, core.NewBus(sub), "api")
	out := buf.String()
	if strings.Contains(out, "boom") || !strings.Contains(out, `"error":"redacted"`) {
		t.Errorf("records:\n%s", out)
	}
}
