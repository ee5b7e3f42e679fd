package redressgrpc_test

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	redressgrpc "github.com/redress-go/redress/contrib/grpc"
	"github.com/redress-go/redress/core"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/status"
)

// markSeer fails its first call UNAVAILABLE and records, per call, whether
// the server interceptor marked the context as serving a retrying caller.
type markSeer struct {
	testpb.UnimplementedTestServiceServer
	mu   sync.Mutex
	seen []bool
}

func (m *markSeer) EmptyCall(ctx context.Context, _ *testpb.Empty) (*testpb.Empty, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.seen = append(m.seen, core.CallerRetries(ctx))
	if len(m.seen) == 1 {
		return nil, status.Error(codes.Unavailable, "down")
	}
	return &testpb.Empty{}, nil
}

// Over a real loopback server with UnaryServerInterceptor: a retry
// (grpc-previous-rpc-attempts) is served as from a retrying caller; a
// healthy target's first attempt carries no marker, a failing one's
// (here: no breaker, taken to be failing) carries AttemptMetadataKey.
func TestServerInterceptorMarksRetryingCallers(t *testing.T) {
	for _, noBreaker := range []bool{false, true} {
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := grpc.NewServer(grpc.UnaryInterceptor(redressgrpc.UnaryServerInterceptor()))
		seer := &markSeer{}
		testpb.RegisterTestServiceServer(srv, seer)
		go func() { _ = srv.Serve(lis) }()
		pc := redressgrpc.DefaultPolicyConfig()
		pc.Retry.Strategy = core.Constant(0)
		p, err := core.NewPolicy(pc)
		if err != nil {
			t.Fatal(err)
		}
		ic, err := redressgrpc.New(redressgrpc.Config{Policy: p, DisableBreakers: noBreaker})
		if err != nil {
			t.Fatal(err)
		}
		conn, err := grpc.NewClient(lis.Addr().String(), append(ic.DialOptions(),
			grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithDisableRetry())...)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err = testpb.NewTestServiceClient(conn).EmptyCall(ctx, &testpb.Empty{})
		cancel()
		_ = conn.Close()
		srv.Stop()
		if err != nil {
			t.Fatalf("noBreaker=%v: %v", noBreaker, err)
		}
		want := []bool{noBreaker, true}
		if len(seer.seen) != 2 || seer.seen[0] != want[0] || seer.seen[1] != want[1] {
			t.Errorf("noBreaker=%v: caller-retries marks %v, want %v", noBreaker, seer.seen, want)
		}
	}
}
