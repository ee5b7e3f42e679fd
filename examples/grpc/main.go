// Command grpc shows redress under a gRPC client: a real server on loopback
// (grpc-go's interop TestService, with injected faults) and a client whose
// two dial options classify, retry, guard and observe every call. Each
// decision is printed by a small subscriber.
//
//	$ go run ./examples/grpc
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redress-go/redress/contrib/grpc"
	"github.com/redress-go/redress/core"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

func main() {
	pushback := flag.Duration("pushback", 200*time.Millisecond, "the delay the server asks for when it rate-limits")
	backoff := flag.Duration("backoff", 50*time.Millisecond, "the client's backoff when the server gives no pushback")
	flag.Parse()
	if err := run(context.Background(), settings{Pushback: *pushback, Backoff: *backoff}, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// settings are the knobs the test turns down.
type settings struct {
	Pushback time.Duration
	Backoff  time.Duration
}

// server is the interop TestService with faults: EmptyCall fails twice
// with UNAVAILABLE, UnaryCall is rate-limited once with a pushback, and
// the first StreamingOutputCall fails before sending anything.
type server struct {
	testpb.UnimplementedTestServiceServer
	pushback      time.Duration
	empty, unary  atomic.Int32
	streamAttempt atomic.Int32
}

func (s *server) EmptyCall(context.Context, *testpb.Empty) (*testpb.Empty, error) {
	if s.empty.Add(1) <= 2 {
		return nil, status.Error(codes.Unavailable, "warming up")
	}
	return &testpb.Empty{}, nil
}

func (s *server) UnaryCall(ctx context.Context, in *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	if s.unary.Add(1) == 1 {
		_ = grpc.SetTrailer(ctx, metadata.Pairs(redressgrpc.PushbackKey, fmt.Sprint(s.pushback.Milliseconds())))
		return nil, status.Error(codes.ResourceExhausted, "slow down")
	}
	return &testpb.SimpleResponse{Payload: in.GetPayload()}, nil
}

func (s *server) StreamingOutputCall(in *testpb.StreamingOutputCallRequest, st grpc.ServerStreamingServer[testpb.StreamingOutputCallResponse]) error {
	if s.streamAttempt.Add(1) == 1 {
		return status.Error(codes.Unavailable, "restarting")
	}
	for _, p := range in.GetResponseParameters() {
		if err := st.Send(&testpb.StreamingOutputCallResponse{Payload: &testpb.Payload{Body: make([]byte, p.GetSize())}}); err != nil {
			return err
		}
	}
	return nil
}

// printer prints one line per decision, and signals each call's end.
type printer struct {
	mu   sync.Mutex
	w    io.Writer
	done chan struct{}
}

func (*printer) Events() core.EventSet {
	return core.EventsOf(core.EventAttemptEnd, core.EventRetry) | core.TerminalEvents | core.CircuitEvents
}

func (p *printer) Handle(_ context.Context, e core.Event) {
	p.mu.Lock()
	switch {
	case e.Kind == core.EventAttemptEnd:
		fmt.Fprintf(p.w, "  attempt %d %s -> %s\n", e.Attempt, e.Operation, e.Labels.RPCStatusCode)
	case e.Kind == core.EventRetry:
		fmt.Fprintf(p.w, "  retry   class=%s sleep=%s\n", e.Class, e.Sleep)
	case e.Kind.Terminal():
		fmt.Fprintf(p.w, "  %s outcome=%s attempts=%d\n", e.Kind, e.Outcome, e.Attempt)
	default:
		fmt.Fprintf(p.w, "  %s\n", e.Kind)
	}
	p.mu.Unlock()
	if e.Kind.Terminal() {
		p.done <- struct{}{}
	}
}

func (p *printer) say(format string, args ...any) {
	p.mu.Lock()
	fmt.Fprintf(p.w, format+"\n", args...)
	p.mu.Unlock()
}

func run(ctx context.Context, s settings, w io.Writer) error {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := grpc.NewServer()
	testpb.RegisterTestServiceServer(srv, &server{pushback: s.Pushback})
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	defer func() { srv.Stop(); <-served }()

	pr := &printer{w: w, done: make(chan struct{}, 1)}
	pc := redressgrpc.DefaultPolicyConfig()
	pc.Bus = core.NewBus(pr)
	pc.Retry.Strategy = core.RetryAfterOr(core.Constant(s.Backoff), 0)
	policy, err := core.NewPolicy(pc)
	if err != nil {
		return err
	}
	ic, err := redressgrpc.New(redressgrpc.Config{Policy: policy})
	if err != nil {
		return err
	}
	conn, err := grpc.NewClient(lis.Addr().String(), append(ic.DialOptions(),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDisableRetry())...) // one retry layer: redress
	if err != nil {
		return err
	}
	defer conn.Close()
	client := testpb.NewTestServiceClient(conn)
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()

	pr.say("EmptyCall (the server is warming up):")
	if _, err := client.EmptyCall(ctx, &testpb.Empty{}); err != nil {
		return err
	}
	<-pr.done

	pr.say("UnaryCall (the server rate-limits with a pushback):")
	start := time.Now()
	if _, err := client.UnaryCall(ctx, &testpb.SimpleRequest{}); err != nil {
		return err
	}
	<-pr.done
	pr.say("  waited at least the pushback: %v", time.Since(start) >= s.Pushback)

	pr.say("StreamingOutputCall (the first attempt fails before any message):")
	st, err := client.StreamingOutputCall(ctx, &testpb.StreamingOutputCallRequest{
		ResponseParameters: []*testpb.ResponseParameters{{Size: 1}, {Size: 2}, {Size: 3}},
	})
	if err != nil {
		return err
	}
	n := 0
	for {
		if _, err := st.Recv(); err == io.EOF {
			break
		} else if err != nil {
			return err
		}
		n++
	}
	<-pr.done
	pr.say("  received %d messages", n)
	return nil
}
