package redressgrpc_test

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redress-go/redress/contrib/grpc"
	"github.com/redress-go/redress/core"
	"github.com/redress-go/redress/core/coretest"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/proto"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fault is what the server does on one call (one attempt).
type fault struct {
	code     codes.Code    // OK: succeed
	msg      string        // the status message
	pushback string        // the grpc-retry-pushback-ms trailer, "" for none
	after    int           // streams: messages sent (or read, for bidi) before failing
	sleep    time.Duration // wait this long (or until the call's context ends) first
}

// faultServer is the interop TestService with scripted faults: each call
// of any method takes the next fault of the script; past its end, calls
// succeed.
type faultServer struct {
	testpb.UnimplementedTestServiceServer

	mu       sync.Mutex
	script   []fault
	calls    int
	previous []string   // grpc-previous-rpc-attempts of each call ("" if absent)
	inputs   [][][]byte // StreamingInputCall/FullDuplexCall: the bytes of each message received, per call
}

func (s *faultServer) next(ctx context.Context) fault {
	md, _ := metadata.FromIncomingContext(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	prev := ""
	if v := md.Get(redressgrpc.PreviousAttemptsKey); len(v) > 0 {
		prev = v[0]
	}
	s.previous = append(s.previous, prev)
	s.calls++
	if len(s.script) == 0 {
		return fault{}
	}
	f := s.script[0]
	s.script = s.script[1:]
	return f
}

func (s *faultServer) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

func (s *faultServer) Previous() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.previous...)
}

func (s *faultServer) Inputs() [][][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][][]byte(nil), s.inputs...)
}

// fail applies f's delay and returns its status (nil for OK).
func (f fault) fail(ctx context.Context) error {
	if f.sleep > 0 {
		select {
		case <-time.After(f.sleep):
		case <-ctx.Done():
			return status.FromContextError(ctx.Err()).Err()
		}
	}
	if f.code == codes.OK {
		return nil
	}
	if f.pushback != "" {
		_ = grpc.SetTrailer(ctx, metadata.Pairs(redressgrpc.PushbackKey, f.pushback))
	}
	msg := f.msg
	if msg == "" {
		msg = "injected " + f.code.String()
	}
	return status.Error(f.code, msg)
}

func (s *faultServer) EmptyCall(ctx context.Context, _ *testpb.Empty) (*testpb.Empty, error) {
	if err := s.next(ctx).fail(ctx); err != nil {
		return nil, err
	}
	return &testpb.Empty{}, nil
}

func (s *faultServer) UnaryCall(ctx context.Context, in *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	if err := s.next(ctx).fail(ctx); err != nil {
		return nil, err
	}
	return &testpb.SimpleResponse{Payload: in.GetPayload()}, nil
}

func (s *faultServer) StreamingOutputCall(in *testpb.StreamingOutputCallRequest, st grpc.ServerStreamingServer[testpb.StreamingOutputCallResponse]) error {
	f := s.next(st.Context())
	for i, p := range in.GetResponseParameters() {
		if f.code != codes.OK && i == f.after {
			break
		}
		if err := st.Send(&testpb.StreamingOutputCallResponse{Payload: &testpb.Payload{Body: make([]byte, p.GetSize())}}); err != nil {
			return err
		}
	}
	return f.fail(st.Context())
}

func (s *faultServer) StreamingInputCall(st grpc.ClientStreamingServer[testpb.StreamingInputCallRequest, testpb.StreamingInputCallResponse]) error {
	f := s.next(st.Context())
	var got [][]byte
	size := 0
	for {
		m, err := st.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		b, _ := proto.MarshalOptions{Deterministic: true}.Marshal(m)
		got = append(got, b)
		size += len(m.GetPayload().GetBody())
	}
	s.mu.Lock()
	s.inputs = append(s.inputs, got)
	s.mu.Unlock()
	if err := f.fail(st.Context()); err != nil {
		return err
	}
	return st.SendAndClose(&testpb.StreamingInputCallResponse{AggregatedPayloadSize: int32(size)})
}

func (s *faultServer) FullDuplexCall(st grpc.BidiStreamingServer[testpb.StreamingOutputCallRequest, testpb.StreamingOutputCallResponse]) error {
	f := s.next(st.Context())
	var got [][]byte
	defer func() {
		s.mu.Lock()
		s.inputs = append(s.inputs, got)
		s.mu.Unlock()
	}()
	for n := 0; ; n++ {
		m, err := st.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		b, _ := proto.MarshalOptions{Deterministic: true}.Marshal(m)
		got = append(got, b)
		if f.code != codes.OK && n == f.after {
			return f.fail(st.Context())
		}
		if err := st.Send(&testpb.StreamingOutputCallResponse{Payload: m.GetPayload()}); err != nil {
			return err
		}
	}
}

// countingListener counts the connections it accepted.
type countingListener struct {
	net.Listener
	accepted atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.accepted.Add(1)
	}
	return c, err
}

// env is a fault server on loopback TCP (or in memory, newMemEnv) and a
// client connection to it through the interceptors.
type env struct {
	srv    *faultServer
	lis    *countingListener
	addr   string
	ic     *redressgrpc.Interceptors
	conn   *grpc.ClientConn
	client testpb.TestServiceClient
}

// newEnv starts a server with script and a client with cfg. extra dial
// options come after the interceptors.
func newEnv(t *testing.T, cfg redressgrpc.Config, script []fault, extra ...grpc.DialOption) *env {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen on loopback: %v", err)
	}
	return startEnv(t, l, l.Addr().String(), cfg, script, extra)
}

// newMemEnv is newEnv on an in-memory network (grpc's bufconn); call it
// inside a testing/synctest bubble, where time is fake: attempt timeouts,
// deadlines and server delays are exact whatever the machine's load, and a
// test waits for none of them.
func newMemEnv(t *testing.T, cfg redressgrpc.Config, script []fault, extra ...grpc.DialOption) *env {
	t.Helper()
	l := bufconn.Listen(1 << 20)
	dialer := grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return l.DialContext(ctx) })
	return startEnv(t, l, "passthrough:///bufconn", cfg, script, append([]grpc.DialOption{dialer}, extra...))
}

func startEnv(t *testing.T, l net.Listener, addr string, cfg redressgrpc.Config, script []fault, extra []grpc.DialOption) *env {
	t.Helper()
	e := &env{srv: &faultServer{script: script}, lis: &countingListener{Listener: l}, addr: addr}
	gs := grpc.NewServer()
	testpb.RegisterTestServiceServer(gs, e.srv)
	done := make(chan struct{})
	go func() { defer close(done); _ = gs.Serve(e.lis) }()
	t.Cleanup(func() { gs.Stop(); <-done })
	var err error
	e.ic, err = redressgrpc.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	e.conn = e.dial(t, extra...)
	e.client = testpb.NewTestServiceClient(e.conn)
	return e
}

// dial opens another client connection to the server through e.ic.
func (e *env) dial(t *testing.T, extra ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	opts := append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, e.ic.DialOptions()...)
	conn, err := grpc.NewClient(e.addr, append(opts, extra...)...)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// testPolicy is a recording policy with the gRPC classifier, instant
// sleeps on a fake clock, and the server's pushback honoured.
func testPolicy(t *testing.T, r core.RetryConfig) (*core.Policy, *coretest.Recorder, *coretest.FakeClock) {
	t.Helper()
	return testPolicyConfig(t, core.PolicyConfig{Retry: r})
}

// testPolicyConfig is testPolicy for a whole policy configuration.
func testPolicyConfig(t *testing.T, pc core.PolicyConfig) (*core.Policy, *coretest.Recorder, *coretest.FakeClock) {
	t.Helper()
	r := pc.Retry
	if r.MaxAttempts == 0 {
		r.MaxAttempts = 4
	}
	if r.Strategy == nil {
		r.Strategy = core.RetryAfterOr(core.Constant(time.Millisecond), 0)
	}
	if r.Classifier == nil {
		r.Classifier = redressgrpc.Classifier
	}
	pc.Name, pc.Retry = "test", r
	p, rec, clk, err := coretest.NewRecordingPolicy(pc)
	if err != nil {
		t.Fatalf("NewRecordingPolicy: %v", err)
	}
	return p, rec, clk
}

// terminal returns the recorder's terminal event.
func terminal(t *testing.T, rec *coretest.Recorder) core.Event {
	t.Helper()
	var out []core.Event
	for _, e := range rec.All() {
		if e.Kind.Terminal() {
			out = append(out, e)
		}
	}
	if len(out) != 1 {
		t.Fatalf("terminal events = %d, want 1 (events %v)", len(out), rec.Names())
	}
	return out[0]
}

// attemptCodes returns the RPC status codes of the attempt_end events.
func attemptCodes(rec *coretest.Recorder) []string {
	var out []string
	for _, e := range rec.All() {
		if e.Kind == core.EventAttemptEnd {
			out = append(out, e.Labels.RPCStatusCode)
		}
	}
	return out
}

func retryError(t *testing.T, err error) *core.RetryError {
	t.Helper()
	var re *core.RetryError
	if !errors.As(err, &re) {
		t.Fatalf("error %v (%T) is not a *core.RetryError", err, err)
	}
	return re
}

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func contextWithCancel(t *testing.T) (context.Context, context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return ctx, cancel
}
