package redressotel_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/redress-go/redress/core"
	redressotel "github.com/redress-go/redress/instrument/otel"
	"github.com/redress-go/redress/internal/telemetry"
	"github.com/redress-go/redress/internal/telemetry/telemetrytest"
)

// Config.Policy drops the events of a filtered policy from both the spans
// and the metrics the SDK exports, and keeps the others'.
func TestPolicyFilterDropsFilteredPolicy(t *testing.T) {
	p := newPipeline(t, redressotel.Config{Policy: func(name string) bool { return name != "noisy" }})
	telemetrytest.RunPolicies(t, core.NewBus(p.sub), "kept", "noisy")

	spans := map[string]int{}
	for _, s := range p.spans.Ended() {
		spans[attrsOf(s.Attributes())[telemetry.AttrPolicy]]++
		if s.Name() == "noisy" || strings.HasPrefix(s.Name(), "noisy ") {
			t.Errorf("span %q of the filtered policy", s.Name())
		}
	}
	if spans["noisy"] != 0 || spans["kept"] == 0 {
		t.Errorf("spans by policy = %v, want kept only", spans)
	}
	if started := len(p.spans.Started()); started != len(p.spans.Ended()) {
		t.Errorf("%d spans started, %d ended", started, len(p.spans.Ended()))
	}
	points, _ := collect(t, p.reader)
	kept := 0
	for k := range points {
		if strings.Contains(k, telemetry.AttrPolicy+"=noisy") {
			t.Errorf("metric point of the filtered policy: %s", k)
		}
		if strings.Contains(k, telemetry.AttrPolicy+"=kept") {
			kept++
		}
	}
	if kept == 0 {
		t.Errorf("no metric point of the kept policy: %v", points)
	}
}

// Config.Events filters the metrics: without retry, no redress.retries
// point and no retry count in redress.events, and the spans still end.
func TestEventsFiltersMetrics(t *testing.T) {
	p := newPipeline(t, redressotel.Config{Events: redressotel.DefaultEvents &^ (1 << core.EventRetry)})
	telemetrytest.RunPolicies(t, core.NewBus(p.sub), "api")
	points, metrics := collect(t, p.reader)
	if _, ok := metrics[telemetry.Retries.Name]; ok {
		t.Errorf("%s recorded with retry filtered out", telemetry.Retries.Name)
	}
	for k := range points {
		if strings.Contains(k, "redress.event=retry") {
			t.Errorf("retry event counted: %s", k)
		}
	}
	if len(p.spans.Ended()) != 3 || len(p.spans.Started()) != 3 {
		t.Errorf("spans started %d, ended %d, want 3 and 3", len(p.spans.Started()), len(p.spans.Ended()))
	}
	for _, s := range p.spans.Ended() {
		for _, e := range s.Events() {
			if e.Name == "retry" {
				t.Errorf("retry span event on %q with retry filtered out", s.Name())
			}
		}
	}
}

// With Config.OnError set, a panic in Handle or Decorate (here: in the
// Policy filter) is recovered and reported there, never to the bus; without
// it the bus recovers it as before.
func TestOnErrorReceivesPanic(t *testing.T) {
	telemetrytest.CheckOnErrorGetsPanic(t, "redressotel", func(policy func(string) bool, onError func(error)) core.Subscriber {
		p := newPipeline(t, redressotel.Config{Policy: policy, OnError: onError})
		return p.sub
	})
}

// Config.RedactError gives the text of the span status and exception event.
func TestRedactErrorApplied(t *testing.T) {
	p := newPipeline(t, redressotel.Config{RedactError: func(error) string { return "redacted" }})
	telemetrytest.RunPolicies(t, core.NewBus(p.sub), "api")
	seen := 0
	for _, s := range p.spans.Ended() {
		if d := s.Status().Description; d != "" {
			seen++
			if d != "redacted" {
				t.Errorf("span %q status %q, want the redacted text", s.Name(), d)
			}
		}
		for _, e := range s.Events() {
			for _, kv := range e.Attributes {
				if kv.Key == "exception.message" && kv.Value.AsString() != "redacted" {
					t.Errorf("exception.message %q", kv.Value.AsString())
				}
			}
		}
	}
	if seen == 0 {
		t.Error("no span carried an error status")
	}
}

func TestBadEventsIsConfigError(t *testing.T) {
	_, err := redressotel.New(redressotel.Config{Events: 1 << 31})
	var ce *core.ConfigError
	if !errors.As(err, &ce) || ce.Field != "Config.Events" {
		t.Fatalf("err = %v, want a ConfigError on Config.Events", err)
	}
}
