package redressgrpc_test

import (
	"errors"
	"testing"
	"time"

	"github.com/redress-go/redress/contrib/grpc"
	"github.com/redress-go/redress/core"
	testpb "google.golang.org/grpc/interop/grpc_testing"
)

// TestComponentsOverLoopback: the policy components work under the unary
// interceptor against a real server on loopback: an injected server error
// is retried and never reaches the server, an injected reply is returned
// as the server's, and a rate limiter refuses the call beyond its burst
// before it is sent, each with its typed error.
func TestComponentsOverLoopback(t *testing.T) {
	faults, err := core.NewFaultInjector(core.FaultConfig{Rules: []core.FaultRule{
		{Operation: "/grpc.testing.TestService/UnaryCall", Rate: 1, Err: core.InjectedError(core.ClassServerError)},
	}})
	if err != nil {
		t.Fatal(err)
	}
	p, rec, _ := testPolicyConfig(t, core.PolicyConfig{Retry: core.RetryConfig{MaxAttempts: 3}, Faults: faults})
	e := newEnv(t, redressgrpc.Config{Policy: p}, nil)
	faults.Enable()
	_, err = e.client.UnaryCall(ctxTimeout(t, 5*time.Second), &testpb.SimpleRequest{})
	var ie *core.InjectedFaultError
	if !errors.As(err, &ie) || ie.Class != core.ClassServerError {
		t.Fatalf("err = %v, want the injected server error", err)
	}
	if n := rec.Count(core.EventFaultInjected); n != 3 || e.srv.Calls() != 0 {
		t.Errorf("%d faults injected, %d server calls; want 3 and 0", n, e.srv.Calls())
	}
	if err := faults.SetRules([]core.FaultRule{{Rate: 1, Result: &testpb.SimpleResponse{Payload: &testpb.Payload{Body: []byte("injected")}}}}); err != nil {
		t.Fatal(err)
	}
	out, err := e.client.UnaryCall(ctxTimeout(t, 5*time.Second), &testpb.SimpleRequest{})
	if err != nil || string(out.GetPayload().GetBody()) != "injected" || e.srv.Calls() != 0 {
		t.Fatalf("injected reply: %v, %v, %d server calls; want the injected payload and none", out, err, e.srv.Calls())
	}
	faults.Disable()

	rl, err := core.NewRateLimiter(core.RateLimiterConfig{Name: "inventory", Rate: 0.01, Burst: 1})
	if err != nil {
		t.Fatal(err)
	}
	q, _, _ := testPolicyConfig(t, core.PolicyConfig{Limiter: rl})
	e2 := newEnv(t, redressgrpc.Config{Policy: q}, nil)
	if _, err := e2.client.UnaryCall(ctxTimeout(t, 5*time.Second), &testpb.SimpleRequest{}); err != nil {
		t.Fatal(err)
	}
	_, err = e2.client.UnaryCall(ctxTimeout(t, 5*time.Second), &testpb.SimpleRequest{})
	var le *core.LimitedError
	if !errors.As(err, &le) || le.Limiter != "inventory" || e2.srv.Calls() != 1 {
		t.Errorf("second call: %v, %d server calls; want a *LimitedError and 1 call", err, e2.srv.Calls())
	}
}
