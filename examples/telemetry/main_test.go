package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), 3, &out); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{
		`level=WARN msg="redress retry" redress.event=retry redress.policy=inventory redress.operation=GetStock`,
		"call 1: err=<nil>",
		"ALERT level=ERROR msg=\"redress circuit_opened\"",
		"redress_circuit_breaker_state{redress_circuit_breaker_name=\"inventory\",redress_circuit_breaker_state=\"open\",redress_policy=\"inventory\"} 1",
		`redress_retries_total{error_type="transient",redress_operation="GetStock",redress_policy="inventory"}`,
		"GetStock x3",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
}
