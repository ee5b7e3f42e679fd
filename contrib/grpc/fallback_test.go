package redressgrpc_test

import (
	"strings"
	"testing"
	"time"

	"github.com/redress-go/redress/contrib/grpc"
	"github.com/redress-go/redress/core"
	"google.golang.org/grpc/codes"
	testpb "google.golang.org/grpc/interop/grpc_testing"
)

// TestUnaryFallback: against a real server on loopback that answers
// UNAVAILABLE, the policy gives up and the reply is the message its
// Fallback supplied; a message of another type is an error naming both.
func TestUnaryFallback(t *testing.T) {
	down := []fault{{code: codes.Unavailable}, {code: codes.Unavailable}, {code: codes.Unavailable}, {code: codes.Unavailable}}
	p, rec, _ := testPolicyConfig(t, core.PolicyConfig{
		Retry: core.RetryConfig{MaxAttempts: 2},
		Fallback: core.FallbackValue(&testpb.SimpleResponse{
			Payload: &testpb.Payload{Body: []byte("cached")},
		}),
	})
	e := newEnv(t, redressgrpc.Config{Policy: p}, down)
	out, err := e.client.UnaryCall(ctxTimeout(t, 5*time.Second), &testpb.SimpleRequest{})
	if err != nil {
		t.Fatalf("UnaryCall: %v", err)
	}
	if got := string(out.GetPayload().GetBody()); got != "cached" {
		t.Errorf("reply payload = %q, want the fallback's \"cached\"", got)
	}
	if got := e.srv.Calls(); got != 2 {
		t.Errorf("server calls = %d, want 2", got)
	}
	if n := rec.Count(core.EventFallback); n != 1 {
		t.Errorf("fallback events = %d, want 1", n)
	}

	q, _, _ := testPolicyConfig(t, core.PolicyConfig{
		Retry:    core.RetryConfig{MaxAttempts: 1},
		Fallback: core.FallbackValue(&testpb.Empty{}),
	})
	e2 := newEnv(t, redressgrpc.Config{Policy: q}, down)
	_, err = e2.client.UnaryCall(ctxTimeout(t, 5*time.Second), &testpb.SimpleRequest{})
	if err == nil || !strings.Contains(err.Error(), "Empty") || !strings.Contains(err.Error(), "SimpleResponse") {
		t.Errorf("err = %v, want one naming the fallback's and the reply's types", err)
	}
}
