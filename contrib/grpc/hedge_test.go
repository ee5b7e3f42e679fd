package redressgrpc_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/redress-go/redress/contrib/grpc"
	"github.com/redress-go/redress/core"
	testpb "google.golang.org/grpc/interop/grpc_testing"
)

// A unary method declared idempotent is hedged: the first call hangs, the
// hedge sent after the delay answers; the first is cancelled. A method
// not declared idempotent is never hedged.
func TestUnaryHedge(t *testing.T) {
	for _, tc := range []struct {
		name       string
		idempotent []string
		opts       bool // WithIdempotent
		wantCalls  int
		wantTook   time.Duration
	}{
		{name: "idempotent method", idempotent: []string{testpb.TestService_UnaryCall_FullMethodName}, wantCalls: 2, wantTook: 10 * time.Millisecond},
		{name: "WithIdempotent", opts: true, wantCalls: 2, wantTook: 10 * time.Millisecond},
		{name: "not idempotent", wantCalls: 1, wantTook: time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h, err := core.NewHedger(core.HedgeConfig{Delay: 10 * time.Millisecond})
				if err != nil {
					t.Fatal(err)
				}
				p, rec, _ := testPolicyConfig(t, core.PolicyConfig{Hedge: h})
				e := newMemEnv(t, redressgrpc.Config{Policy: p, Idempotent: tc.idempotent}, []fault{{sleep: time.Second}})
				req := &testpb.SimpleRequest{Payload: &testpb.Payload{Body: []byte("abc")}}
				start := time.Now()
				var out *testpb.SimpleResponse
				if tc.opts {
					out, err = e.client.UnaryCall(ctxTimeout(t, 5*time.Second), req, redressgrpc.WithIdempotent())
				} else {
					out, err = e.client.UnaryCall(ctxTimeout(t, 5*time.Second), req)
				}
				if err != nil {
					t.Fatal(err)
				}
				if string(out.GetPayload().GetBody()) != "abc" {
					t.Errorf("reply %v, want the payload echoed", out)
				}
				if took := time.Since(start); took != tc.wantTook {
					t.Errorf("took %v, want %v", took, tc.wantTook)
				}
				if got := e.srv.Calls(); got != tc.wantCalls {
					t.Errorf("server calls %d, want %d", got, tc.wantCalls)
				}
				hedged := tc.wantCalls == 2
				if got := rec.Count(core.EventHedgeWon) == 1; got != hedged || rec.Count(core.EventAttemptEnd) != 1 {
					t.Errorf("events %v, want hedge_won: %v, one attempt", rec.Names(), hedged)
				}
			})
		})
	}
}
