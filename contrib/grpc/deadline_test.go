package redressgrpc_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/redress-go/redress/contrib/grpc"
	"github.com/redress-go/redress/core"
	"google.golang.org/grpc/codes"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/status"
)

// thresholdOne is a breaker that opens on the first transient failure.
func thresholdOne() *core.BreakerConfig {
	return &core.BreakerConfig{FailureThreshold: 1, Window: time.Minute, RecoveryTimeout: time.Hour}
}

// TestCallerDeadlineDoesNotTripTheBreaker: a DEADLINE_EXCEEDED that the
// server sends because of the caller's own deadline is the caller's
// failure, even when it arrives before the caller's context's timer fires:
// not counted by the breaker, not retried. Deterministic: in a synctest
// bubble the server answers DEADLINE_EXCEEDED at once, while the caller's
// deadline is within core.DeadlineSlack (its timer cannot have fired,
// since no time passes); before the fix the first call opened the
// threshold-1 breaker.
func TestCallerDeadlineDoesNotTripTheBreaker(t *testing.T) {
	const calls = 20
	for _, idempotent := range []bool{false, true} {
		name := "not idempotent"
		if idempotent {
			name = "idempotent"
		}
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				script := make([]fault, calls)
				for i := range script {
					script[i] = fault{code: codes.DeadlineExceeded, msg: "server: deadline"}
				}
				p, rec, clk := testPolicy(t, core.RetryConfig{})
				cfg := redressgrpc.Config{Policy: p, Breaker: thresholdOne()}
				if idempotent {
					cfg.Idempotent = []string{testpb.TestService_EmptyCall_FullMethodName}
				}
				e := newMemEnv(t, cfg, script)
				for i := range calls {
					ctx, cancel := context.WithTimeout(context.Background(), core.DeadlineSlack/2)
					_, err := e.client.EmptyCall(ctx, &testpb.Empty{})
					if ctx.Err() != nil {
						t.Fatal("the caller's deadline fired: the test must see the server's answer first")
					}
					cancel()
					if status.Code(err) != codes.DeadlineExceeded || status.Convert(err).Message() != "server: deadline" {
						t.Fatalf("call %d: %v, want the server's DEADLINE_EXCEEDED", i+1, err)
					}
					if r, _ := core.StopReasonOf(err); r != core.StopCanceled || !errors.Is(err, context.DeadlineExceeded) {
						t.Fatalf("call %d: stop %s (%v), want canceled with context.DeadlineExceeded", i+1, r, err)
					}
					if st := e.ic.Breaker(e.conn.Target()).State(); st != core.StateClosed {
						t.Fatalf("call %d: breaker %s, want closed (the caller's deadline is not the server's fault)", i+1, st)
					}
				}
				if got := e.srv.Calls(); got != calls {
					t.Errorf("server calls = %d, want %d (no retry)", got, calls)
				}
				if n := rec.Count(core.EventCircuitOpened) + rec.Count(core.EventRetry); n != 0 || len(clk.Sleeps()) != 0 {
					t.Errorf("circuit_opened + retry events = %d, sleeps %v; want none", n, clk.Sleeps())
				}
				if n := rec.Count(core.EventCanceled); n != calls {
					t.Errorf("canceled events = %d, want %d", n, calls)
				}
			})
		})
	}
}

// TestCallerDeadlineLoopback is the report's reproduction on loopback TCP:
// many calls with a 20ms deadline to a server that waits. Whichever comes
// first, the caller's timer or the server's DEADLINE_EXCEEDED (which
// arrives at or after the caller's deadline: the server's deadline starts
// when the request arrives), the failure is the caller's: a threshold-1
// breaker never opens. Before the fix it opened in most runs.
func TestCallerDeadlineLoopback(t *testing.T) {
	const workers, perWorker = 10, 15
	script := make([]fault, workers*perWorker)
	for i := range script {
		script[i] = fault{sleep: time.Minute} // until the call's context ends
	}
	p, _, _ := testPolicy(t, core.RetryConfig{})
	e := newEnv(t, redressgrpc.Config{Policy: p, Breaker: thresholdOne()}, script)
	b := e.ic
	var wg sync.WaitGroup
	errs := make(chan error, workers*perWorker)
	for range workers {
		wg.Go(func() {
			for range perWorker {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
				_, err := e.client.EmptyCall(ctx, &testpb.Empty{})
				cancel()
				if status.Code(err) != codes.DeadlineExceeded {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if n := len(errs); n > 0 {
		t.Errorf("%d calls did not end with DEADLINE_EXCEEDED, the first: %v", n, <-errs)
	}
	if st := b.Breaker(e.conn.Target()).State(); st != core.StateClosed {
		t.Errorf("breaker %s after %d calls that ran out of the caller's time, want closed", st, workers*perWorker)
	}
	// A call whose deadline passed before it reached the server makes no
	// server call; a retry would make more than one.
	if got := e.srv.Calls(); got > workers*perWorker {
		t.Errorf("server calls = %d, want at most %d (no retry)", got, workers*perWorker)
	}
}
