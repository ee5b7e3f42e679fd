package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRun(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), options{Backoff: time.Millisecond, MaxRetryAfter: 20 * time.Millisecond}, &out); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{
		"GET /stock/{sku}         attempt 1: status 503 class=server_error",
		"GET /stock/{sku}         success (outcome=success_after_retry)",
		"GET /quota               attempt 1: status 429 class=rate_limit",
		"GET /quota               retry after 20ms", // Retry-After: 1, capped
		"POST /orders             attempt 1: status 503 class=server_error\n  POST /orders             permanent_fail (outcome=failure, stop=not_resendable)\n  => 503",
		"POST /orders             attempt 2: status 200",
		"breaker 127.0.0.1:",
		"closed -> open",
		"circuit_rejected (outcome=rejected)",
		"(circuit open: true)",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if n := strings.Count(got, "POST /orders             attempt"); n != 3 {
		t.Errorf("%d POST attempts, want 1 without the key and 2 with it", n)
	}
	if t.Failed() {
		t.Log(got)
	}
}
