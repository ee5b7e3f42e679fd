package redressgrpc_test

import (
	"errors"
	"testing"
	"time"

	"github.com/redress-go/redress/core"
	"google.golang.org/grpc/codes"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/status"

	redressgrpc "github.com/redress-go/redress/contrib/grpc"
)

// TestBreakerKeyPerMethod: Config.BreakerKey groups calls by what it
// returns (here target and method): a method whose breaker opened is
// rejected while another method of the same target still reaches the
// server, and "" leaves a call unguarded.
func TestBreakerKeyPerMethod(t *testing.T) {
	p, _, _ := testPolicy(t, core.RetryConfig{MaxAttempts: 1})
	var infos []redressgrpc.CallInfo
	key := func(info redressgrpc.CallInfo) string {
		infos = append(infos, info)
		if info.Method == testpb.TestService_StreamingOutputCall_FullMethodName {
			return ""
		}
		return info.Target + " " + info.Method
	}
	cfg := redressgrpc.Config{Policy: p, BreakerKey: key, Breaker: &core.BreakerConfig{FailureThreshold: 2, RecoveryTimeout: time.Minute}}
	e := newEnv(t, cfg, []fault{{code: codes.Unavailable}, {code: codes.Unavailable}})
	ctx := ctxTimeout(t, 5*time.Second)
	for range 2 {
		if _, err := e.client.EmptyCall(ctx, &testpb.Empty{}); status.Code(err) != codes.Unavailable {
			t.Fatalf("EmptyCall = %v, want UNAVAILABLE", err)
		}
	}
	emptyKey := e.conn.Target() + " " + testpb.TestService_EmptyCall_FullMethodName
	if b := e.ic.Breaker(emptyKey); b == nil || b.State() != core.StateOpen {
		t.Fatalf("breaker %q = %v, want open", emptyKey, b)
	}
	if e.ic.Breaker(e.conn.Target()) != nil {
		t.Error("a per-target breaker exists beside the keys'")
	}
	if _, err := e.client.EmptyCall(ctx, &testpb.Empty{}); !errors.Is(err, core.ErrCircuitOpen) {
		t.Fatalf("EmptyCall after its breaker opened = %v, want a circuit-open rejection", err)
	}
	if _, err := e.client.UnaryCall(ctx, &testpb.SimpleRequest{}); err != nil {
		t.Fatalf("UnaryCall, another method of the target: %v", err)
	}
	if got := e.srv.Calls(); got != 3 {
		t.Errorf("server calls = %d, want 3 (the rejected call never sent)", got)
	}
	if len(infos) == 0 || infos[0].Target != e.conn.Target() || infos[0].Method != testpb.TestService_EmptyCall_FullMethodName {
		t.Errorf("BreakerKey saw %+v, want the target and the full method", infos)
	}
}

// TestOperationNamesTheCall: Config.Operation names the redress.operation
// label; the context's name wins over it, and "" means the full method.
func TestOperationNamesTheCall(t *testing.T) {
	method := testpb.TestService_UnaryCall_FullMethodName
	cases := []struct {
		name   string
		op     func(redressgrpc.CallInfo) string
		ctxOp  string
		wantOp string
	}{
		{"named by Operation", func(info redressgrpc.CallInfo) string {
			return "testing:" + info.Method[len("/grpc.testing.TestService/"):]
		}, "", "testing:UnaryCall"},
		{"empty means the method", func(redressgrpc.CallInfo) string { return "" }, "", method},
		{"the context wins", func(redressgrpc.CallInfo) string { return "unused" }, "Checkout", "Checkout"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, rec, _ := testPolicy(t, core.RetryConfig{})
			e := newEnv(t, redressgrpc.Config{Policy: p, Operation: tc.op}, nil)
			ctx := ctxTimeout(t, 5*time.Second)
			if tc.ctxOp != "" {
				ctx = core.ContextWithOperation(ctx, tc.ctxOp)
			}
			if _, err := e.client.UnaryCall(ctx, &testpb.SimpleRequest{}); err != nil {
				t.Fatal(err)
			}
			if te := terminal(t, rec); te.Operation != tc.wantOp || te.Labels.RPCMethod != method {
				t.Errorf("operation %q rpc.method %q, want %q and %q", te.Operation, te.Labels.RPCMethod, tc.wantOp, method)
			}
		})
	}
}

// TestClassifierChangesTheClass: Config.Classifier classifies every failed
// attempt, over the policy's classifier: UNAVAILABLE called permanent is
// not retried, and is published as permanent.
func TestClassifierChangesTheClass(t *testing.T) {
	p, rec, _ := testPolicy(t, core.RetryConfig{})
	classify := func(err error) core.Classification {
		if status.Code(err) == codes.Unavailable {
			return core.Classification{Class: core.ClassPermanent, Reason: "decommissioned"}
		}
		return redressgrpc.Classifier(err)
	}
	e := newEnv(t, redressgrpc.Config{Policy: p, Classifier: classify}, []fault{{code: codes.Unavailable}})
	if _, err := e.client.EmptyCall(ctxTimeout(t, 5*time.Second), &testpb.Empty{}); status.Code(err) != codes.Unavailable {
		t.Fatalf("EmptyCall = %v, want UNAVAILABLE", err)
	}
	if got := e.srv.Calls(); got != 1 {
		t.Errorf("server calls = %d, want 1 (not retried)", got)
	}
	te := terminal(t, rec)
	if te.Kind != core.EventPermanentFail || te.Class != core.ClassPermanent || te.Reason != "decommissioned" {
		t.Errorf("terminal %v %v/%s, want permanent_fail permanent/decommissioned", te.Kind, te.Class, te.Reason)
	}
}
