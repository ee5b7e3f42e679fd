package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestRun(t *testing.T) {
	defer goleak.VerifyNone(t)
	var out bytes.Buffer
	if err := run(context.Background(), settings{Pushback: 30 * time.Millisecond, Backoff: time.Millisecond}, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	want := `EmptyCall (the server is warming up):
  attempt 1 /grpc.testing.TestService/EmptyCall -> UNAVAILABLE
  retry   class=transient sleep=1ms
  attempt 2 /grpc.testing.TestService/EmptyCall -> UNAVAILABLE
  retry   class=transient sleep=1ms
  attempt 3 /grpc.testing.TestService/EmptyCall -> OK
  success outcome=success_after_retry attempts=3
UnaryCall (the server rate-limits with a pushback):
  attempt 1 /grpc.testing.TestService/UnaryCall -> RESOURCE_EXHAUSTED
  retry   class=rate_limit sleep=30ms
  attempt 2 /grpc.testing.TestService/UnaryCall -> OK
  success outcome=success_after_retry attempts=2
  waited at least the pushback: true
StreamingOutputCall (the first attempt fails before any message):
  attempt 1 /grpc.testing.TestService/StreamingOutputCall -> UNAVAILABLE
  retry   class=transient sleep=1ms
  attempt 2 /grpc.testing.TestService/StreamingOutputCall -> OK
  success outcome=success_after_retry attempts=2
  received 3 messages
`
	if got := out.String(); got != want {
		t.Errorf("output:\n%s\nwant:\n%s", got, want)
	}
	if strings.Count(out.String(), "success outcome") != 3 {
		t.Errorf("want three successful calls")
	}
}
