package redressgrpc_test

import (
	"errors"
	"reflect"
	"strconv"
	"testing"
	"testing/synctest"
	"time"

	"github.com/redress-go/redress/contrib/grpc"
	"github.com/redress-go/redress/core"
	"github.com/redress-go/redress/core/coretest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/status"
)

func TestUnaryUnavailableTwiceThenOK(t *testing.T) {
	p, rec, clk := testPolicy(t, core.RetryConfig{})
	e := newEnv(t, redressgrpc.Config{Policy: p}, []fault{{code: codes.Unavailable}, {code: codes.Unavailable}})
	out, err := e.client.UnaryCall(ctxTimeout(t, 5*time.Second), &testpb.SimpleRequest{Payload: &testpb.Payload{Body: []byte("hello")}})
	if err != nil {
		t.Fatalf("UnaryCall: %v", err)
	}
	if string(out.GetPayload().GetBody()) != "hello" {
		t.Errorf("reply payload = %q, want hello", out.GetPayload().GetBody())
	}
	if got := e.srv.Calls(); got != 3 {
		t.Errorf("server calls = %d, want 3", got)
	}
	if got, want := e.srv.Previous(), []string{"", "1", "2"}; !reflect.DeepEqual(got, want) {
		t.Errorf("grpc-previous-rpc-attempts seen by the server = %q, want %q", got, want)
	}
	if got, want := attemptCodes(rec), []string{"UNAVAILABLE", "UNAVAILABLE", "OK"}; !reflect.DeepEqual(got, want) {
		t.Errorf("attempt_end status codes = %q, want %q", got, want)
	}
	if got := len(clk.Sleeps()); got != 2 {
		t.Errorf("sleeps = %d, want 2", got)
	}
	te := terminal(t, rec)
	if te.Kind != core.EventSuccess || te.Outcome != core.OutcomeSuccessAfterRetry || te.Attempt != 3 {
		t.Errorf("terminal = %s outcome %s attempt %d, want success success_after_retry 3", te.Kind, te.Outcome, te.Attempt)
	}
	method := testpb.TestService_UnaryCall_FullMethodName
	if te.Operation != method || te.Labels.RPCMethod != method || te.Labels.RPCSystem != "grpc" {
		t.Errorf("operation %q labels %+v, want operation and rpc.method %q, rpc.system.name grpc", te.Operation, te.Labels, method)
	}
	if te.Labels.ServerAddress != "127.0.0.1" || strconv.Itoa(te.Labels.ServerPort) != e.addr[len("127.0.0.1:"):] {
		t.Errorf("server labels %q:%d, want %s", te.Labels.ServerAddress, te.Labels.ServerPort, e.addr)
	}
}

func TestUnaryPushback(t *testing.T) {
	cases := []struct {
		name        string
		code        codes.Code // default RESOURCE_EXHAUSTED
		pushback    string
		maxPushback time.Duration
		wantCalls   int
		wantSleeps  []time.Duration
		wantClass   core.Class // of a call that stops: the code's own class
	}{
		{name: "honoured", pushback: "250", wantCalls: 2, wantSleeps: []time.Duration{250 * time.Millisecond}},
		// Zero is a hint too (HasRetryAfter): no sleep, not the strategy's 1ms.
		{name: "zero retries at once", pushback: "0", wantCalls: 2, wantSleeps: []time.Duration{0}},
		{name: "capped by MaxPushback", pushback: "3600000", maxPushback: 2 * time.Second, wantCalls: 2, wantSleeps: []time.Duration{2 * time.Second}},
		// Too large for an int64: capped, not refused as malformed.
		{name: "overflow capped by MaxPushback", pushback: "99999999999999999999", maxPushback: 3 * time.Second, wantCalls: 2, wantSleeps: []time.Duration{3 * time.Second}},
		{name: "malformed stops retries", pushback: "soon", wantCalls: 1, wantClass: core.ClassRateLimit},
		{name: "negative stops retries", pushback: "-1", wantCalls: 1, wantClass: core.ClassRateLimit},
		{name: "fractional is malformed", pushback: "1.5", wantCalls: 1, wantClass: core.ClassRateLimit},
		{name: "negative on UNAVAILABLE stays transient", code: codes.Unavailable, pushback: "-1", wantCalls: 1, wantClass: core.ClassTransient},
		{name: "zero on UNAVAILABLE retries at once", code: codes.Unavailable, pushback: "0", wantCalls: 2, wantSleeps: []time.Duration{0}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code := tc.code
			if code == codes.OK {
				code = codes.ResourceExhausted
			}
			p, rec, clk := testPolicy(t, core.RetryConfig{})
			e := newEnv(t, redressgrpc.Config{Policy: p, MaxPushback: tc.maxPushback},
				[]fault{{code: code, msg: "slow down", pushback: tc.pushback}})
			_, err := e.client.EmptyCall(ctxTimeout(t, 5*time.Second), &testpb.Empty{})
			if got := e.srv.Calls(); got != tc.wantCalls {
				t.Errorf("server calls = %d, want %d", got, tc.wantCalls)
			}
			if got := clk.Sleeps(); !reflect.DeepEqual(got, tc.wantSleeps) {
				t.Errorf("sleeps = %v, want %v", got, tc.wantSleeps)
			}
			if tc.wantClass == core.ClassUnknown {
				if err != nil {
					t.Fatalf("EmptyCall: %v", err)
				}
				return
			}
			if status.Code(err) != code || status.Convert(err).Message() != "slow down" {
				t.Errorf("status = %v %q, want the server's %v \"slow down\"", status.Code(err), status.Convert(err).Message(), code)
			}
			if re := retryError(t, err); re.Reason != core.StopNonRetryableClass || re.Class != tc.wantClass {
				t.Errorf("stop reason %s class %s, want non_retryable_class %s", re.Reason, re.Class, tc.wantClass)
			}
			te := terminal(t, rec)
			if te.Kind != core.EventPermanentFail || te.Reason != "grpc_pushback_stop" || te.Class != tc.wantClass {
				t.Errorf("terminal = %s reason %q class %s, want permanent_fail grpc_pushback_stop %s", te.Kind, te.Reason, te.Class, tc.wantClass)
			}
		})
	}
}

// TestPushbackStopCountsForTheBreaker: a server that says "do not retry"
// with UNAVAILABLE is still an unavailable server; the breaker counts it.
func TestPushbackStopCountsForTheBreaker(t *testing.T) {
	p, rec, _ := testPolicy(t, core.RetryConfig{})
	script := make([]fault, 3)
	for i := range script {
		script[i] = fault{code: codes.Unavailable, pushback: "-1"}
	}
	cfg := redressgrpc.Config{Policy: p, Breaker: &core.BreakerConfig{FailureThreshold: 3, Window: time.Minute, RecoveryTimeout: time.Minute}}
	e := newEnv(t, cfg, script)
	ctx := ctxTimeout(t, 5*time.Second)
	for i := range 3 {
		_, err := e.client.EmptyCall(ctx, &testpb.Empty{})
		if re := retryError(t, err); re.Reason != core.StopNonRetryableClass || re.Attempts != 1 {
			t.Fatalf("call %d: stop %s after %d attempts, want non_retryable_class after 1", i+1, re.Reason, re.Attempts)
		}
	}
	if st := e.ic.Breaker(e.conn.Target()).State(); st != core.StateOpen {
		t.Fatalf("breaker state = %s, want open after 3 UNAVAILABLE with pushback -1", st)
	}
	if rec.Count(core.EventCircuitOpened) != 1 {
		t.Errorf("circuit_opened events = %d, want 1", rec.Count(core.EventCircuitOpened))
	}
	if _, err := e.client.EmptyCall(ctx, &testpb.Empty{}); !errors.Is(err, core.ErrCircuitOpen) {
		t.Errorf("fourth call = %v, want a circuit-open rejection", err)
	}
	if got := e.srv.Calls(); got != 3 {
		t.Errorf("server calls = %d, want 3", got)
	}
}

func TestUnaryStatusClassification(t *testing.T) {
	cases := []struct {
		code      codes.Code
		wantCalls int
		wantStop  core.StopReason
		wantClass core.Class
	}{
		{codes.Unavailable, 4, core.StopMaxAttempts, core.ClassTransient},
		{codes.ResourceExhausted, 4, core.StopMaxAttempts, core.ClassRateLimit},
		// EmptyCall is not declared idempotent: the server may have
		// applied it (TestRetrySafety covers idempotent methods).
		{codes.Internal, 1, core.StopNotResendable, core.ClassServerError},
		{codes.DataLoss, 1, core.StopNotResendable, core.ClassServerError},
		{codes.DeadlineExceeded, 1, core.StopNotResendable, core.ClassTransient},
		{codes.NotFound, 1, core.StopNonRetryableClass, core.ClassPermanent},
		{codes.InvalidArgument, 1, core.StopNonRetryableClass, core.ClassPermanent},
		{codes.Unauthenticated, 1, core.StopNonRetryableClass, core.ClassAuth},
		{codes.PermissionDenied, 1, core.StopNonRetryableClass, core.ClassPermission},
		{codes.Canceled, 1, core.StopNonRetryableClass, core.ClassPermanent},
	}
	for _, tc := range cases {
		t.Run(tc.code.String(), func(t *testing.T) {
			p, _, _ := testPolicy(t, core.RetryConfig{})
			script := make([]fault, 4)
			for i := range script {
				script[i] = fault{code: tc.code, msg: "scripted"}
			}
			e := newEnv(t, redressgrpc.Config{Policy: p}, script)
			_, err := e.client.EmptyCall(ctxTimeout(t, 5*time.Second), &testpb.Empty{})
			if got := e.srv.Calls(); got != tc.wantCalls {
				t.Errorf("server calls = %d, want %d", got, tc.wantCalls)
			}
			st, ok := status.FromError(err)
			if !ok || st.Code() != tc.code || st.Message() != "scripted" {
				t.Errorf("status.FromError = %v %q %v, want the server's status unchanged", st.Code(), st.Message(), ok)
			}
			re := retryError(t, err)
			if re.Reason != tc.wantStop || re.Class != tc.wantClass {
				t.Errorf("stop %s class %s, want %s %s", re.Reason, re.Class, tc.wantStop, tc.wantClass)
			}
		})
	}
}

// TestUnaryDeadline runs in synctest bubbles on an in-memory network: the
// caller's deadline, the attempt timeouts and the server's delays are
// exact, so each outcome is the only possible one.
func TestUnaryDeadline(t *testing.T) {
	t.Run("pushback past the deadline stops at once", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			// A real sleeper (the bubble's clock): the call must return
			// without sleeping towards the pushback.
			p, err := core.NewPolicy(core.PolicyConfig{Retry: core.RetryConfig{
				MaxAttempts: 3, Classifier: redressgrpc.Classifier,
				Strategy: core.RetryAfterOr(core.Constant(time.Millisecond), 0),
			}})
			if err != nil {
				t.Fatal(err)
			}
			e := newMemEnv(t, redressgrpc.Config{Policy: p}, []fault{{code: codes.ResourceExhausted, pushback: "5000"}})
			start := time.Now()
			_, err = e.client.EmptyCall(ctxTimeout(t, time.Second), &testpb.Empty{})
			if el := time.Since(start); el != 0 {
				t.Errorf("call took %v: it slept towards a retry that could not happen", el)
			}
			if !errors.Is(err, core.ErrStop(core.StopDeadline)) {
				t.Errorf("error %v does not match StopDeadline", err)
			}
			if status.Code(err) != codes.ResourceExhausted {
				t.Errorf("status = %v, want the last attempt's RESOURCE_EXHAUSTED", status.Code(err))
			}
			if got := e.srv.Calls(); got != 1 {
				t.Errorf("server calls = %d, want 1", got)
			}
		})
	})
	t.Run("caller deadline passed is not retried", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			p, rec, _ := testPolicy(t, core.RetryConfig{})
			e := newMemEnv(t, redressgrpc.Config{Policy: p}, []fault{{sleep: 2 * time.Second}})
			_, err := e.client.EmptyCall(ctxTimeout(t, 100*time.Millisecond), &testpb.Empty{})
			if status.Code(err) != codes.DeadlineExceeded {
				t.Errorf("status = %v, want DEADLINE_EXCEEDED", status.Code(err))
			}
			if got := e.srv.Calls(); got != 1 {
				t.Errorf("server calls = %d, want 1", got)
			}
			// Whether the caller's timer or the server's DEADLINE_EXCEEDED
			// comes first, the failure is the caller's.
			if te := terminal(t, rec); te.StopReason != core.StopCanceled {
				t.Errorf("stop reason = %s, want canceled", te.StopReason)
			}
		})
	})
	t.Run("attempt timeout of an idempotent method is retried within the caller deadline", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			p, rec, _ := testPolicyConfig(t, core.PolicyConfig{Timeout: core.TimeoutConfig{Attempt: 50 * time.Millisecond}})
			cfg := redressgrpc.Config{Policy: p, Idempotent: []string{testpb.TestService_EmptyCall_FullMethodName}}
			e := newMemEnv(t, cfg, []fault{{sleep: 2 * time.Second}})
			start := time.Now()
			if _, err := e.client.EmptyCall(ctxTimeout(t, 5*time.Second), &testpb.Empty{}); err != nil {
				t.Fatalf("EmptyCall: %v", err)
			}
			if got, want := attemptCodes(rec), []string{"DEADLINE_EXCEEDED", "OK"}; !reflect.DeepEqual(got, want) {
				t.Errorf("attempt codes = %q, want %q", got, want)
			}
			if el := time.Since(start); el != 50*time.Millisecond {
				t.Errorf("call took %v, want the one attempt timeout (50ms)", el)
			}
		})
	})
}

func TestBreakerOpensAndRejectsWithoutDialling(t *testing.T) {
	p, rec, _ := testPolicy(t, core.RetryConfig{MaxAttempts: 1})
	script := make([]fault, 10)
	for i := range script {
		script[i] = fault{code: codes.Unavailable}
	}
	cfg := redressgrpc.Config{Policy: p, Breaker: &core.BreakerConfig{FailureThreshold: 3, Window: time.Minute, RecoveryTimeout: time.Minute}}
	e := newEnv(t, cfg, script)
	ctx := ctxTimeout(t, 5*time.Second)
	for range 3 {
		if _, err := e.client.EmptyCall(ctx, &testpb.Empty{}); status.Code(err) != codes.Unavailable {
			t.Fatalf("EmptyCall = %v, want UNAVAILABLE", err)
		}
	}
	if st := e.ic.Breaker(e.conn.Target()).State(); st != core.StateOpen {
		t.Fatalf("breaker state = %s, want open", st)
	}
	if rec.Count(core.EventCircuitOpened) != 1 {
		t.Errorf("circuit_opened events = %d, want 1", rec.Count(core.EventCircuitOpened))
	}
	// A new connection to the same target shares the breaker: the call is
	// rejected before the connection is ever made.
	accepted := e.lis.accepted.Load()
	client := testpb.NewTestServiceClient(e.dial(t))
	_, err := client.EmptyCall(ctx, &testpb.Empty{})
	if !errors.Is(err, core.ErrCircuitOpen) || status.Code(err) != codes.Unavailable {
		t.Errorf("error %v (code %v), want a circuit-open rejection with UNAVAILABLE", err, status.Code(err))
	}
	if got := e.srv.Calls(); got != 3 {
		t.Errorf("server calls = %d, want 3", got)
	}
	if got := e.lis.accepted.Load(); got != accepted {
		t.Errorf("connections accepted went from %d to %d: the rejected call dialled", accepted, got)
	}
	if rec.Count(core.EventCircuitRejected) != 1 {
		t.Errorf("circuit_rejected events = %d, want 1", rec.Count(core.EventCircuitRejected))
	}
}

func TestCallOptions(t *testing.T) {
	p, rec, _ := testPolicy(t, core.RetryConfig{})
	other, otherRec, _ := testPolicy(t, core.RetryConfig{MaxAttempts: 2})
	cases := []struct {
		name      string
		opts      []grpc.CallOption
		wantCalls int
		wantMain  int // terminal events on the main policy
		wantOther int
	}{
		{"Bypass", opts(redressgrpc.Bypass()), 1, 0, 0},
		{"WithMaxAttempts(1)", opts(redressgrpc.WithMaxAttempts(1)), 1, 1, 0},
		{"WithPolicy", opts(redressgrpc.WithPolicy(other)), 2, 0, 1},
		{"WithPolicy(nil) bypasses", opts(redressgrpc.WithPolicy(nil)), 1, 0, 0},
		// Later options win, whichever kind they are.
		{"Bypass then WithPolicy", opts(redressgrpc.Bypass(), redressgrpc.WithPolicy(other)), 2, 0, 1},
		{"WithPolicy then Bypass", opts(redressgrpc.WithPolicy(other), redressgrpc.Bypass()), 1, 0, 0},
		{"WithPolicy(nil) then WithPolicy", opts(redressgrpc.WithPolicy(nil), redressgrpc.WithPolicy(other)), 2, 0, 1},
		{"WithPolicy then WithPolicy(nil)", opts(redressgrpc.WithPolicy(other), redressgrpc.WithPolicy(nil)), 1, 0, 0},
		{"WithMaxAttempts kept across WithPolicy", opts(redressgrpc.WithMaxAttempts(1), redressgrpc.Bypass(), redressgrpc.WithPolicy(other)), 1, 0, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec.Reset()
			otherRec.Reset()
			script := []fault{{code: codes.Unavailable}, {code: codes.Unavailable}, {code: codes.Unavailable}, {code: codes.Unavailable}}
			e := newEnv(t, redressgrpc.Config{Policy: p, DisableBreakers: true}, script)
			_, err := e.client.EmptyCall(ctxTimeout(t, 5*time.Second), &testpb.Empty{}, tc.opts...)
			if status.Code(err) != codes.Unavailable {
				t.Errorf("status = %v, want UNAVAILABLE", status.Code(err))
			}
			if got := e.srv.Calls(); got != tc.wantCalls {
				t.Errorf("server calls = %d, want %d", got, tc.wantCalls)
			}
			count := func(r interface{ Names() []string }) int {
				n := 0
				for _, name := range r.Names() {
					if k, _ := core.ParseEventKind(name); k.Terminal() {
						n++
					}
				}
				return n
			}
			if got := count(rec); got != tc.wantMain {
				t.Errorf("terminal events of the configured policy = %d, want %d", got, tc.wantMain)
			}
			if got := count(otherRec); got != tc.wantOther {
				t.Errorf("terminal events of the WithPolicy policy = %d, want %d", got, tc.wantOther)
			}
		})
	}
}

// opts is a literal slice of call options.
func opts(o ...grpc.CallOption) []grpc.CallOption { return o }

func TestMethodsPolicies(t *testing.T) {
	def, _, _ := testPolicy(t, core.RetryConfig{})
	svc, _, _ := testPolicy(t, core.RetryConfig{})
	m, _, _ := testPolicy(t, core.RetryConfig{})
	ic, err := redressgrpc.New(redressgrpc.Config{Policy: def, Methods: map[string]*core.Policy{
		"grpc.testing.TestService":                  svc,
		testpb.TestService_EmptyCall_FullMethodName: m,
		testpb.TestService_UnaryCall_FullMethodName: nil,
		"/grpc.testing.ReconnectService/Start":      m,
	}})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		method string
		want   *core.Policy
	}{
		{testpb.TestService_EmptyCall_FullMethodName, m},
		{testpb.TestService_UnaryCall_FullMethodName, nil},
		{testpb.TestService_FullDuplexCall_FullMethodName, svc},
		{"/grpc.testing.ReconnectService/Stop", def},
		{"/grpc.testing.ReconnectService/Start", m},
	}
	for _, tc := range cases {
		if got := ic.Policy(tc.method); got != tc.want {
			t.Errorf("Policy(%q) = %p, want %p", tc.method, got, tc.want)
		}
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	withBreaker, err := core.NewBreaker(core.BreakerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	pb, err := core.NewPolicy(core.PolicyConfig{Breaker: withBreaker})
	if err != nil {
		t.Fatal(err)
	}
	plain, err := core.NewPolicy(core.PolicyConfig{})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		cfg   redressgrpc.Config
		field string
	}{
		{"negative MaxPushback", redressgrpc.Config{MaxPushback: -1}, "Config.MaxPushback"},
		{"Bus with Policy", redressgrpc.Config{Policy: plain, Bus: core.NewBus()}, "Config.Bus"},
		{"policy breaker with target breakers", redressgrpc.Config{Policy: pb}, "Config.Policy"},
		{"method policy breaker", redressgrpc.Config{Methods: map[string]*core.Policy{"a.B": pb}}, "Config.Methods[a.B]"},
		{"bad method key", redressgrpc.Config{Methods: map[string]*core.Policy{"/a.B": plain}}, "Config.Methods[/a.B]"},
		{"method key not a name", redressgrpc.Config{Methods: map[string]*core.Policy{"not a method": plain}}, "Config.Methods[not a method]"},
		{"Idempotent entry not a name", redressgrpc.Config{Idempotent: []string{"/a.B/M", "not a method"}}, "Config.Idempotent[1]"},
		{"bad breaker template", redressgrpc.Config{Breaker: &core.BreakerConfig{FailureRatio: 2}}, "Config.Breaker (BreakerConfig.FailureRatio)"},
		{"breaker template with a bus of its own", redressgrpc.Config{Breaker: &core.BreakerConfig{Bus: core.NewBus()}}, "Config.Breaker (BreakerConfig.Bus)"},
		{"Breaker with target breakers disabled", redressgrpc.Config{Breaker: &core.BreakerConfig{}, DisableBreakers: true}, "Config.Breaker"},
		{"BreakerKey with target breakers disabled", redressgrpc.Config{BreakerKey: func(redressgrpc.CallInfo) string { return "k" }, DisableBreakers: true}, "Config.BreakerKey"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := redressgrpc.New(tc.cfg)
			var ce *core.ConfigError
			if !errors.As(err, &ce) || ce.Field != tc.field {
				t.Fatalf("New = %v, want a ConfigError on %s", err, tc.field)
			}
		})
	}
	if _, err := redressgrpc.New(redressgrpc.Config{Policy: pb, DisableBreakers: true}); err != nil {
		t.Errorf("policy breaker with DisableBreakers: %v", err)
	}
	bus := core.NewBus()
	if _, err := redressgrpc.New(redressgrpc.Config{Bus: bus, Breaker: &core.BreakerConfig{Bus: bus}}); err != nil {
		t.Errorf("breaker template with the policy's bus: %v", err)
	}
}

// New copies Config.Methods: changing the caller's map afterwards, even
// while calls run, changes nothing (and is no data race).
func TestMethodsCopiedAtConstruction(t *testing.T) {
	def, _, _ := testPolicy(t, core.RetryConfig{})
	m, _, _ := testPolicy(t, core.RetryConfig{})
	methods := map[string]*core.Policy{testpb.TestService_EmptyCall_FullMethodName: m}
	ic, err := redressgrpc.New(redressgrpc.Config{Policy: def, Methods: methods})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 200 {
			methods[testpb.TestService_EmptyCall_FullMethodName] = nil
			methods["grpc.testing.TestService"] = m
			methods["pkg.S"+strconv.Itoa(i)] = def
			delete(methods, testpb.TestService_EmptyCall_FullMethodName)
		}
	}()
	for range 200 {
		if got := ic.Policy(testpb.TestService_EmptyCall_FullMethodName); got != m {
			t.Fatalf("Policy(EmptyCall) = %p, want %p (the entry given to New)", got, m)
		}
		if got := ic.Policy(testpb.TestService_UnaryCall_FullMethodName); got != def {
			t.Fatalf("Policy(UnaryCall) = %p, want the default %p (the caller added a service entry after New)", got, def)
		}
	}
	<-done
	if got := ic.Policy(testpb.TestService_EmptyCall_FullMethodName); got != m {
		t.Errorf("after the caller deleted the entry, Policy(EmptyCall) = %p, want %p", got, m)
	}
}

// Breaker only looks a target's breaker up: it is nil until a call to the
// target creates it, and nil with target breakers disabled.
func TestBreakerLookupOnly(t *testing.T) {
	for _, tc := range []struct {
		name    string
		disable bool
	}{{"target breakers", false}, {"target breakers disabled", true}} {
		t.Run(tc.name, func(t *testing.T) {
			p, _, _ := testPolicy(t, core.RetryConfig{})
			e := newEnv(t, redressgrpc.Config{Policy: p, DisableBreakers: tc.disable}, nil)
			target := e.conn.Target()
			for range 2 { // a lookup must not create it for the next one
				if b := e.ic.Breaker(target); b != nil {
					t.Fatalf("Breaker(%q) before any call = %v, want nil", target, b)
				}
			}
			if _, err := e.client.EmptyCall(ctxTimeout(t, 5*time.Second), &testpb.Empty{}); err != nil {
				t.Fatalf("EmptyCall: %v", err)
			}
			b := e.ic.Breaker(target)
			if tc.disable {
				if b != nil {
					t.Errorf("Breaker(%q) with target breakers disabled = %v, want nil", target, b)
				}
				return
			}
			if b == nil || b.Name() != target || b.State() != core.StateClosed {
				t.Fatalf("Breaker(%q) after a call = %v, want the closed breaker named after the target", target, b)
			}
			if again := e.ic.Breaker(target); again != b {
				t.Errorf("second lookup returned another breaker")
			}
			if other := e.ic.Breaker("127.0.0.1:1"); other != nil {
				t.Errorf("Breaker of a target never called = %v, want nil", other)
			}
		})
	}
}

// The default policy does not retry a code the classifier cannot place
// (MaxUnknownAttempts 1), and still retries a transient one.
func TestDefaultPolicyUnknownCodesNotRetried(t *testing.T) {
	cases := []struct {
		name       string
		code       codes.Code
		idempotent bool
		wantCalls  int
		wantStop   core.StopReason
	}{
		// An idempotent method: the default policy's MaxUnknownAttempts 1.
		{"ALREADY_EXISTS", codes.AlreadyExists, true, 1, core.StopMaxUnknownAttempts},
		{"UNIMPLEMENTED", codes.Unimplemented, true, 1, core.StopMaxUnknownAttempts},
		{"ABORTED", codes.Aborted, true, 1, core.StopMaxUnknownAttempts},
		// Any other method too: the cap stops it before its resend safety.
		{"ABORTED not idempotent", codes.Aborted, false, 1, core.StopMaxUnknownAttempts},
		{"UNAVAILABLE retried", codes.Unavailable, false, 3, core.StopMaxAttempts},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := &coretest.Recorder{}
			script := []fault{{code: tc.code}, {code: tc.code}, {code: tc.code}}
			cfg := redressgrpc.Config{Bus: core.NewBus(rec), DisableBreakers: true}
			if tc.idempotent {
				cfg.Idempotent = []string{testpb.TestService_ServiceDesc.ServiceName}
			}
			e := newEnv(t, cfg, script)
			_, err := e.client.EmptyCall(ctxTimeout(t, 10*time.Second), &testpb.Empty{})
			if status.Code(err) != tc.code {
				t.Errorf("status = %v, want %v", status.Code(err), tc.code)
			}
			if got := e.srv.Calls(); got != tc.wantCalls {
				t.Errorf("server calls = %d, want %d", got, tc.wantCalls)
			}
			if r, ok := core.StopReasonOf(err); !ok || r != tc.wantStop {
				t.Errorf("stop reason = %v (%v), want %v", r, ok, tc.wantStop)
			}
			if te := terminal(t, rec); te.StopReason != tc.wantStop {
				t.Errorf("terminal event %s (stop %v), want stop %v", te.Kind, te.StopReason, tc.wantStop)
			}
		})
	}
}

// core.ContextWithOperation names the call instead of its method; the
// method stays the rpc.method label and still decides idempotency.
func TestUnaryOperationFromContext(t *testing.T) {
	p, rec, _ := testPolicy(t, core.RetryConfig{})
	method := testpb.TestService_UnaryCall_FullMethodName
	e := newEnv(t, redressgrpc.Config{Policy: p, Idempotent: []string{method}}, []fault{{code: codes.Internal}})
	ctx := core.ContextWithOperation(ctxTimeout(t, 5*time.Second), "Checkout")
	if _, err := e.client.UnaryCall(ctx, &testpb.SimpleRequest{}); err != nil {
		t.Fatalf("UnaryCall: %v (INTERNAL on an idempotent method is retried)", err)
	}
	te := terminal(t, rec)
	if te.Operation != "Checkout" || te.Labels.RPCMethod != method {
		t.Errorf("operation %q rpc.method %q, want Checkout and %q", te.Operation, te.Labels.RPCMethod, method)
	}
}
