package redressgrpc_test

import (
	"context"
	"fmt"
	"net"
	"sync/atomic"
	"time"

	"github.com/redress-go/redress/contrib/grpc"
	"github.com/redress-go/redress/core"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/status"
)

// flaky fails its first two calls with UNAVAILABLE.
type flaky struct {
	testpb.UnimplementedTestServiceServer
	calls atomic.Int32
}

func (f *flaky) EmptyCall(context.Context, *testpb.Empty) (*testpb.Empty, error) {
	if f.calls.Add(1) <= 2 {
		return nil, status.Error(codes.Unavailable, "warming up")
	}
	return &testpb.Empty{}, nil
}

// printer prints attempt ends and the outcome.
type printer struct{}

func (printer) Events() core.EventSet {
	return core.EventsOf(core.EventAttemptEnd) | core.TerminalEvents
}

func (printer) Handle(_ context.Context, e core.Event) {
	if e.Kind == core.EventAttemptEnd {
		fmt.Printf("attempt %d %s %s\n", e.Attempt, e.Operation, e.Labels.RPCStatusCode)
		return
	}
	fmt.Printf("%s (%s)\n", e.Kind, e.Outcome)
}

func Example() {
	lis, _ := net.Listen("tcp", "127.0.0.1:0")
	srv := grpc.NewServer()
	testpb.RegisterTestServiceServer(srv, &flaky{})
	go srv.Serve(lis)
	defer srv.Stop()

	pc := redressgrpc.DefaultPolicyConfig()
	pc.Bus = core.NewBus(printer{})
	pc.Retry.Strategy = core.Constant(10 * time.Millisecond)
	policy, err := core.NewPolicy(pc)
	if err != nil {
		panic(err)
	}
	ic, err := redressgrpc.New(redressgrpc.Config{Policy: policy})
	if err != nil {
		panic(err)
	}
	conn, err := grpc.NewClient(lis.Addr().String(), append(ic.DialOptions(),
		grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithDisableRetry())...)
	if err != nil {
		panic(err)
	}
	defer conn.Close()

	_, err = testpb.NewTestServiceClient(conn).EmptyCall(context.Background(), &testpb.Empty{})
	fmt.Println("error:", err)
	// Output:
	// attempt 1 /grpc.testing.TestService/EmptyCall UNAVAILABLE
	// attempt 2 /grpc.testing.TestService/EmptyCall UNAVAILABLE
	// attempt 3 /grpc.testing.TestService/EmptyCall OK
	// success (success_after_retry)
	// error: <nil>
}

func ExampleClassifyCode() {
	for _, c := range []codes.Code{codes.ResourceExhausted, codes.Unavailable, codes.NotFound, codes.Internal} {
		cl := redressgrpc.ClassifyCode(c)
		fmt.Printf("%s: %s (%s)\n", redressgrpc.CodeName(c), cl.Class, cl.Reason)
	}
	// Output:
	// RESOURCE_EXHAUSTED: rate_limit (grpc_resource_exhausted)
	// UNAVAILABLE: transient (grpc_unavailable)
	// NOT_FOUND: permanent (grpc_not_found)
	// INTERNAL: server_error (grpc_internal)
}

func ExampleWithMaxAttempts() {
	// A call that is not safe to repeat: run it once, still guarded by the
	// breaker and observed.
	var client testpb.TestServiceClient // from testpb.NewTestServiceClient(conn)
	if client != nil {
		_, _ = client.UnaryCall(context.Background(), &testpb.SimpleRequest{}, redressgrpc.WithMaxAttempts(1))
	}
}

func ExampleWithIdempotent() {
	// A read that is safe to repeat even after the server may have applied
	// it: retried on DEADLINE_EXCEEDED, INTERNAL and DATA_LOSS too, not only
	// on UNAVAILABLE and RESOURCE_EXHAUSTED.
	var client testpb.TestServiceClient // from testpb.NewTestServiceClient(conn)
	if client != nil {
		_, _ = client.UnaryCall(context.Background(), &testpb.SimpleRequest{}, redressgrpc.WithIdempotent())
	}
}

func ExampleInterceptors_Idempotent() {
	ic, err := redressgrpc.New(redressgrpc.Config{Idempotent: []string{
		"grpc.health.v1.Health",               // every method of the service
		"/grpc.testing.TestService/EmptyCall", // one method
	}})
	if err != nil {
		panic(err)
	}
	for _, m := range []string{"/grpc.health.v1.Health/Check", "/grpc.testing.TestService/EmptyCall", "/grpc.testing.TestService/UnaryCall"} {
		fmt.Println(m, ic.Idempotent(m))
	}
	// Output:
	// /grpc.health.v1.Health/Check true
	// /grpc.testing.TestService/EmptyCall true
	// /grpc.testing.TestService/UnaryCall false
}

func ExampleClassifier() {
	// Override one code, keep the rest: ALREADY_EXISTS is permanent here.
	classify := func(err error) core.Classification {
		if status.Code(err) == codes.AlreadyExists {
			return core.Classification{Class: core.ClassPermanent, Reason: "grpc_already_exists"}
		}
		return redressgrpc.Classifier(err)
	}
	fmt.Println(classify(status.Error(codes.AlreadyExists, "dup")).Class)
	fmt.Println(classify(status.Error(codes.Unavailable, "down")).Class)
	// Output:
	// permanent
	// transient
}
