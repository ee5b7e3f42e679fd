package core_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redress-go/redress/core"
	"github.com/redress-go/redress/core/coretest"
)

// runStep runs fn under p as a wrapper does, driving a core.Step (the
// pattern of its documentation).
func runStep(p *core.Policy, ctx context.Context, c *core.Call, fn func(context.Context) error) error {
	var s core.Step
	s.Begin(ctx, p, c)
	defer s.Close()
	for s.Next() {
		s.End(fn(s.Context()))
	}
	return s.Err()
}

// runOptions runs fn under p with Policy.Run and the options of c, one
// Option per field set.
func runOptions(p *core.Policy, ctx context.Context, c *core.Call, fn func(context.Context) error) error {
	return p.Run(ctx, fn, optionsOf(c)...)
}

// optionsOf returns the Options that set the fields of c.
func optionsOf(c *core.Call) []core.Option {
	if c == nil {
		return nil
	}
	var opts []core.Option
	if c.Operation != "" {
		opts = append(opts, core.WithOperation(c.Operation))
	}
	if c.Labels != (core.Labels{}) {
		opts = append(opts, core.WithLabels(c.Labels))
	}
	if c.Timeline != nil {
		opts = append(opts, core.WithTimeline(c.Timeline))
	}
	if c.OnAttempt != nil {
		opts = append(opts, core.WithOnAttempt(c.OnAttempt))
	}
	if c.MaxAttempts != 0 {
		opts = append(opts, core.WithMaxAttempts(c.MaxAttempts))
	}
	if c.Breaker != nil {
		opts = append(opts, core.WithBreaker(c.Breaker))
	}
	return opts
}

// oneShotPolicy is a policy of one attempt whose breaker opens on a failure
// and lets one probe through a minute later, on the returned clock.
func oneShotPolicy(t *testing.T) (*core.Policy, *core.Breaker, *coretest.FakeClock) {
	clk := coretest.NewFakeClock(time.Unix(1000, 0))
	br := mustBreaker(t, core.BreakerConfig{FailureThreshold: 1, RecoveryTimeout: time.Minute, HalfOpenProbes: 1, Clock: clk})
	p, err := core.NewPolicy(core.PolicyConfig{Breaker: br, Retry: core.RetryConfig{MaxAttempts: 1}})
	if err != nil {
		t.Fatal(err)
	}
	return p, br, clk
}

// An open breaker refuses a step before its attempt with the typed
// rejection; a panicking attempt gives its half-open probe back (Close), so
// the next call may probe at once; a probe that succeeds closes the
// breaker.
func TestStepBreaker(t *testing.T) {
	p, br, clk := oneShotPolicy(t)
	ctx := context.Background()
	down := core.Transient(errors.New("down"))
	if err := runStep(p, ctx, &core.Call{}, func(context.Context) error { return down }); !errors.Is(err, down) {
		t.Fatalf("first call: %v, want %v", err, down)
	}
	if br.State() != core.StateOpen {
		t.Fatalf("after a failure: %s, want open", br.State())
	}
	called := false
	err := runStep(p, ctx, &core.Call{}, func(context.Context) error { called = true; return nil })
	var coe *core.CircuitOpenError
	if called || !errors.As(err, &coe) {
		t.Fatalf("open breaker: called %v, err %v; want no attempt and a CircuitOpenError", called, err)
	}
	clk.Advance(time.Minute)
	func() {
		defer func() {
			if recover() == nil {
				t.Error("the attempt's panic did not reach the caller")
			}
		}()
		_ = runStep(p, ctx, &core.Call{}, func(context.Context) error { panic("driver bug") })
	}()
	if br.State() != core.StateHalfOpen {
		t.Fatalf("after a panicking probe: %s, want half-open", br.State())
	}
	// The probe slot was given back: this call is admitted and closes it.
	if err := runStep(p, ctx, &core.Call{}, func(context.Context) error { return nil }); err != nil {
		t.Fatalf("probe after the panic: %v (the panicking probe kept its slot)", err)
	}
	if br.State() != core.StateClosed {
		t.Fatalf("after a successful probe: %s, want closed", br.State())
	}
}

// End, Next and Close end a step once: after the call is over they do
// nothing, a zero Step has nothing to run, and a second Begin is ignored.
func TestStepEndsOnce(t *testing.T) {
	p, br, clk := oneShotPolicy(t)
	ctx := context.Background()
	_ = p.Run(ctx, func(context.Context) error { return core.Transient(errors.New("down")) })
	clk.Advance(time.Minute)
	var s core.Step
	if s.Next() {
		t.Fatal("a zero Step admitted an attempt")
	}
	s.Begin(ctx, p, nil)
	s.Begin(ctx, nil, nil) // ignored: the step is begun
	if !s.Next() || s.Attempt() != 1 {
		t.Fatalf("probe not admitted (attempt %d)", s.Attempt())
	}
	s.End(nil)
	if br.State() != core.StateClosed {
		t.Fatalf("after End(nil): %s, want closed", br.State())
	}
	s.End(core.Transient(errors.New("late"))) // no attempt open: nothing
	if s.Next() || s.Err() != nil || br.State() != core.StateClosed {
		t.Fatalf("after the call: Next admitted, or err %v, breaker %s", s.Err(), br.State())
	}
	s.Close()
}

// A Next while an attempt is open (End forgotten) ends the call as aborted
// and gives the probe slot back; a retry End decided but the caller never
// made ends as aborted on Close, its budget token returned.
func TestStepMisuseEndsTheCall(t *testing.T) {
	ctx := context.Background()
	p, br, clk := oneShotPolicy(t)
	_ = p.Run(ctx, func(context.Context) error { return core.Transient(errors.New("down")) })
	clk.Advance(time.Minute)
	var s core.Step
	s.Begin(ctx, p, nil)
	if !s.Next() {
		t.Fatal("probe not admitted")
	}
	if s.Next() {
		t.Fatal("Next admitted a second attempt while the first was open")
	}
	var re *core.RetryError
	if !errors.As(s.Err(), &re) || re.Reason != core.StopAborted {
		t.Fatalf("err %v, want an aborted stop", s.Err())
	}
	if err := runStep(p, ctx, nil, func(context.Context) error { return nil }); err != nil || br.State() != core.StateClosed {
		t.Fatalf("next probe: %v, breaker %s; want it admitted and the breaker closed", err, br.State())
	}

	bud := mustBudget(t, core.BudgetConfig{MaxRetries: 10})
	p2, err := core.NewPolicy(core.PolicyConfig{Budget: bud, Retry: core.RetryConfig{MaxAttempts: 3, Strategy: core.Constant(0)}})
	if err != nil {
		t.Fatal(err)
	}
	before := bud.Utilization()
	var s2 core.Step
	s2.Begin(ctx, p2, nil)
	s2.Next()
	s2.End(core.Transient(errors.New("blip"))) // a retry is decided: a token is spent
	if bud.Utilization() == before {
		t.Fatal("the retry took no token")
	}
	s2.Close() // the caller leaves: the token comes back
	if got := bud.Utilization(); got != before {
		t.Errorf("budget utilization %v after Close, want %v (the token returned)", got, before)
	}
	if !errors.As(s2.Err(), &re) || re.Reason != core.StopAborted {
		t.Fatalf("err %v, want an aborted stop", s2.Err())
	}
}

// A nil policy runs one attempt and returns its error as it is.
func TestStepNilPolicy(t *testing.T) {
	blip := errors.New("blip")
	n := 0
	err := runStep(nil, context.Background(), &core.Call{MaxAttempts: 5}, func(context.Context) error { n++; return blip })
	if err != blip || n != 1 {
		t.Fatalf("err %v after %d attempts, want %v after 1", err, n, blip)
	}
}

// Begin copies the Call: the caller may change or reuse it at once, and
// the labels the attempts set (SetStatusCode, SetRPCStatusCode) reach the
// events of the call that set them, not the Call.
func TestStepCopiesTheCall(t *testing.T) {
	var ends []core.Labels
	bus := core.NewBus(funcSub{core.EventsOf(core.EventAttemptEnd), func(_ context.Context, e core.Event) { ends = append(ends, e.Labels) }})
	p, err := core.NewPolicy(core.PolicyConfig{Bus: bus, Retry: core.RetryConfig{MaxAttempts: 2, Strategy: core.Constant(0)}})
	if err != nil {
		t.Fatal(err)
	}
	c := core.Call{Operation: "op", Labels: core.Labels{HTTPMethod: "GET"}}
	var s core.Step
	s.Begin(context.Background(), p, &c)
	c.Labels.HTTPMethod = "POST" // after Begin: not seen by the call
	defer s.Close()
	for s.Next() {
		s.SetStatusCode(500 + s.Attempt())
		s.SetRPCStatusCode("UNAVAILABLE")
		s.End(core.Transient(errors.New("blip")))
	}
	if len(ends) != 2 || ends[0].StatusCode != 501 || ends[1].StatusCode != 502 || ends[1].HTTPMethod != "GET" || ends[1].RPCStatusCode != "UNAVAILABLE" {
		t.Fatalf("attempt_end labels %+v; want GET with 501 then 502", ends)
	}
	if c.Labels.StatusCode != 0 {
		t.Errorf("the Call was written: %+v", c.Labels)
	}
}

// A failure marked NotResendable stops the call with StopNotResendable
// where it would have been retried, keeping its class for the breaker; a
// failure that would not have been retried keeps its own stop reason.
func TestNotResendableStops(t *testing.T) {
	br := mustBreaker(t, core.BreakerConfig{FailureThreshold: 1, RecoveryTimeout: time.Hour})
	p, err := core.NewPolicy(core.PolicyConfig{Breaker: br, Retry: core.RetryConfig{MaxAttempts: 3, Strategy: core.Constant(0)}})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	err = p.Run(context.Background(), func(context.Context) error {
		n++
		return core.NotResendable(core.Transient(errors.New("reset")))
	})
	var re *core.RetryError
	if !errors.As(err, &re) || re.Reason != core.StopNotResendable || re.Class != core.ClassTransient || n != 1 {
		t.Fatalf("err %v after %d attempts; want not_resendable, class transient, after 1", err, n)
	}
	if br.State() != core.StateOpen {
		t.Errorf("breaker %s: the failure was not counted", br.State())
	}
	p2, _ := core.NewPolicy(core.PolicyConfig{Retry: core.RetryConfig{MaxAttempts: 3, Strategy: core.Constant(0)}})
	err = p2.Run(context.Background(), func(context.Context) error {
		return core.NotResendable(core.Permanent(errors.New("bad request")))
	})
	if r, _ := core.StopReasonOf(err); r != core.StopNonRetryableClass {
		t.Errorf("permanent failure: stop %v, want non_retryable_class", r)
	}
	if core.NotResendable(nil) != nil || !core.IsNotResendable(core.NotResendable(errors.New("x"))) {
		t.Error("NotResendable(nil) or IsNotResendable is wrong")
	}
}

// A policy serving a request whose caller retries (WithCallerRetries) does
// not retry its own failures: it stops with StopCallerRetries where it
// would have retried; RetryUnderRetryingCaller turns that off.
func TestCallerRetriesStopsNestedRetries(t *testing.T) {
	ctx := core.WithCallerRetries(context.Background())
	for _, nested := range []bool{false, true} {
		p, err := core.NewPolicy(core.PolicyConfig{Retry: core.RetryConfig{MaxAttempts: 3, Strategy: core.Constant(0), RetryUnderRetryingCaller: nested}})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		err = p.Run(ctx, func(context.Context) error { n++; return core.Transient(errors.New("down")) })
		r, _ := core.StopReasonOf(err)
		want, wantN := core.StopCallerRetries, 1
		if nested {
			want, wantN = core.StopMaxAttempts, 3
		}
		if r != want || n != wantN {
			t.Errorf("nested=%v: stop %v after %d attempts, want %v after %d", nested, r, n, want, wantN)
		}
	}
	if core.CallerRetries(context.Background()) || !core.CallerRetries(ctx) {
		t.Error("CallerRetries does not read the mark")
	}
}
