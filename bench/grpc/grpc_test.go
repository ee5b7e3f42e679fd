package grpcbench

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	grpcretry "github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/retry"
	"github.com/redress-go/redress/contrib/grpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/status"
)

// server answers every call at once.
type server struct {
	testpb.UnimplementedTestServiceServer
	failFirst int32 // fail this many calls with UNAVAILABLE (semantics test)
	calls     atomic.Int32
}

func (s *server) UnaryCall(_ context.Context, in *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	if s.calls.Add(1) <= s.failFirst {
		return nil, status.Error(codes.Unavailable, "warming up")
	}
	return &testpb.SimpleResponse{Payload: in.GetPayload()}, nil
}

func startServer(tb testing.TB, s *server) string {
	tb.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("listen on loopback: %v", err)
	}
	gs := grpc.NewServer()
	testpb.RegisterTestServiceServer(gs, s)
	done := make(chan struct{})
	go func() { defer close(done); _ = gs.Serve(lis) }()
	tb.Cleanup(func() { gs.Stop(); <-done })
	return lis.Addr().String()
}

// grpcRetryConfig is grpc-go's built-in retry, as a service config.
const grpcRetryConfig = `{"methodConfig":[{"name":[{"service":"grpc.testing.TestService"}],
 "retryPolicy":{"maxAttempts":3,"initialBackoff":"0.001s","maxBackoff":"0.01s",
 "backoffMultiplier":2,"retryableStatusCodes":["UNAVAILABLE"]}}]}`

// variants are the clients compared, by sub-benchmark name.
func variants(tb testing.TB) []struct {
	name string
	opts []grpc.DialOption
} {
	ic, err := redressgrpc.New(redressgrpc.Config{})
	if err != nil {
		tb.Fatal(err)
	}
	return []struct {
		name string
		opts []grpc.DialOption
	}{
		{"baseline", nil},
		{"redress", ic.DialOptions()},
		{"grpc_builtin_retry", []grpc.DialOption{grpc.WithDefaultServiceConfig(grpcRetryConfig)}},
		{"grpc_middleware_retry", []grpc.DialOption{grpc.WithChainUnaryInterceptor(grpcretry.UnaryClientInterceptor(
			grpcretry.WithMax(3), grpcretry.WithCodes(codes.Unavailable),
			grpcretry.WithBackoff(grpcretry.BackoffExponential(time.Millisecond))))}},
	}
}

func dial(tb testing.TB, addr string, opts []grpc.DialOption) testpb.TestServiceClient {
	tb.Helper()
	conn, err := grpc.NewClient(addr, append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, opts...)...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close() })
	return testpb.NewTestServiceClient(conn)
}

// BenchmarkUnary is one successful unary call with a 64-byte payload.
func BenchmarkUnary(b *testing.B) {
	addr := startServer(b, &server{})
	req := &testpb.SimpleRequest{Payload: &testpb.Payload{Body: make([]byte, 64)}}
	for _, v := range variants(b) {
		b.Run(v.name, func(b *testing.B) {
			client := dial(b, addr, v.opts)
			ctx := context.Background()
			if _, err := client.UnaryCall(ctx, req); err != nil { // connect first
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := client.UnaryCall(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkUnaryDeadline is BenchmarkUnary with a caller deadline on every
// call, the common case in services (redress then watches the deadline).
func BenchmarkUnaryDeadline(b *testing.B) {
	addr := startServer(b, &server{})
	req := &testpb.SimpleRequest{Payload: &testpb.Payload{Body: make([]byte, 64)}}
	for _, v := range variants(b) {
		b.Run(v.name, func(b *testing.B) {
			client := dial(b, addr, v.opts)
			if _, err := client.UnaryCall(context.Background(), req); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				_, err := client.UnaryCall(ctx, req)
				cancel()
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestEveryVariantRetries checks that the variants compared really retry:
// two UNAVAILABLE answers, then success. Baseline does not retry.
func TestEveryVariantRetries(t *testing.T) {
	for _, v := range variants(t) {
		t.Run(v.name, func(t *testing.T) {
			s := &server{failFirst: 2}
			client := dial(t, startServer(t, s), v.opts)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, err := client.UnaryCall(ctx, &testpb.SimpleRequest{})
			if v.name == "baseline" {
				if status.Code(err) != codes.Unavailable || s.calls.Load() != 1 {
					t.Fatalf("baseline: err %v calls %d, want UNAVAILABLE after 1 call", err, s.calls.Load())
				}
				return
			}
			if err != nil || s.calls.Load() != 3 {
				t.Fatalf("err %v after %d calls, want success after 3", err, s.calls.Load())
			}
		})
	}
}

// BenchmarkUnaryInterceptor isolates the interceptors' own cost: the
// invoker returns at once, so no network noise hides it. baseline calls
// the invoker directly. (grpc-go's built-in retry lives inside the
// ClientConn and cannot be measured this way.)
func BenchmarkUnaryInterceptor(b *testing.B) {
	conn, err := grpc.NewClient("passthrough:///127.0.0.1:1", grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	ic, err := redressgrpc.New(redressgrpc.Config{})
	if err != nil {
		b.Fatal(err)
	}
	invoker := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { return nil }
	mw := grpcretry.UnaryClientInterceptor(grpcretry.WithMax(3), grpcretry.WithCodes(codes.Unavailable))
	req, reply := &testpb.SimpleRequest{}, &testpb.SimpleResponse{}
	const method = testpb.TestService_UnaryCall_FullMethodName
	cases := []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"baseline", func(ctx context.Context) error { return invoker(ctx, method, req, reply, conn) }},
		{"redress", func(ctx context.Context) error { return ic.Unary()(ctx, method, req, reply, conn, invoker) }},
		{"grpc_middleware_retry", func(ctx context.Context) error { return mw(ctx, method, req, reply, conn, invoker) }},
	}
	for _, deadline := range []bool{false, true} {
		for _, c := range cases {
			name := c.name
			if deadline {
				name = "deadline/" + name
			}
			b.Run(name, func(b *testing.B) {
				ctx := context.Background()
				if deadline {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, time.Hour)
					defer cancel()
				}
				b.ReportAllocs()
				for b.Loop() {
					if err := c.call(ctx); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkUnaryPaired measures the redress path and the bare path of the
// same connection under the same load: every iteration makes one call of
// each, in alternating order. A sub-benchmark reports as ns/op the time of
// its own variant's calls only (B/op and allocs/op count both calls), and
// as redress/baseline the ratio of the two within the run, which no drift
// of the machine's load between runs can bias. baseline is the bare call
// (redressgrpc.Bypass: the interceptor steps aside at once), redress the
// full path with the default Config.
func BenchmarkUnaryPaired(b *testing.B) {
	addr := startServer(b, &server{})
	req := &testpb.SimpleRequest{Payload: &testpb.Payload{Body: make([]byte, 64)}}
	ic, err := redressgrpc.New(redressgrpc.Config{})
	if err != nil {
		b.Fatal(err)
	}
	client := dial(b, addr, ic.DialOptions())
	bypass := []grpc.CallOption{redressgrpc.Bypass()}
	for _, v := range []string{"baseline", "redress"} {
		b.Run(v, func(b *testing.B) {
			ctx := context.Background()
			if _, err := client.UnaryCall(ctx, req); err != nil {
				b.Fatal(err)
			}
			var total [2]time.Duration // bare, redress
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				for k := range 2 {
					which := (k + i) % 2
					var opts []grpc.CallOption
					if which == 0 {
						opts = bypass
					}
					start := time.Now()
					_, err := client.UnaryCall(ctx, req, opts...)
					total[which] += time.Since(start)
					if err != nil {
						b.Fatal(err)
					}
				}
				i++
			}
			own := total[0]
			if v == "redress" {
				own = total[1]
			}
			b.ReportMetric(float64(own.Nanoseconds())/float64(b.N), "ns/op")
			b.ReportMetric(float64(total[1])/float64(total[0]), "redress/baseline")
		})
	}
}
