package core_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redress-go/redress/core"
	"github.com/redress-go/redress/core/coretest"
)

// runInline runs fn under p as a wrapper does with core.Inline (the pattern
// of its documentation): the first attempt in the caller's frame when the
// policy allows it, else RunCall.
func runInline(p *core.Policy, ctx context.Context, c *core.Call, fn func(context.Context) error) error {
	in, ok, err := p.Inline(ctx, c)
	if !ok {
		return p.RunCall(ctx, c, fn)
	}
	if err != nil {
		return err
	}
	defer in.Release()
	if err := fn(ctx); err != nil {
		return in.Failed(ctx, c, err, fn)
	}
	in.Succeeded()
	return nil
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

// Inline takes the call only when RunCall would take its fast path: no
// subscriber, deadline, attempt timeout, abort predicate, hook or timeline,
// and a live context.
func TestInlineOnlyWhenNothingWatches(t *testing.T) {
	nop := funcSub{core.AllEvents, func(context.Context, core.Event) {}}
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	cases := []struct {
		name string
		cfg  core.PolicyConfig
		call core.Call
		ctx  context.Context
		want bool
	}{
		{"plain", core.PolicyConfig{}, core.Call{}, context.Background(), true},
		{"per-call breaker and cap", core.PolicyConfig{}, core.Call{Breaker: mustBreaker(t, core.BreakerConfig{}), MaxAttempts: 1, Operation: "op"}, context.Background(), true},
		{"subscriber", core.PolicyConfig{Bus: core.NewBus(nop)}, core.Call{}, context.Background(), false},
		{"deadline", core.PolicyConfig{Retry: core.RetryConfig{Deadline: time.Second}}, core.Call{}, context.Background(), false},
		{"attempt timeout", core.PolicyConfig{Retry: core.RetryConfig{AttemptTimeout: time.Second}}, core.Call{}, context.Background(), false},
		{"abort predicate", core.PolicyConfig{Retry: core.RetryConfig{AbortIf: func() bool { return false }}}, core.Call{}, context.Background(), false},
		{"policy hook", core.PolicyConfig{Retry: core.RetryConfig{OnAttempt: func(core.AttemptInfo) {}}}, core.Call{}, context.Background(), false},
		{"call hook", core.PolicyConfig{}, core.Call{OnAttempt: func(core.AttemptInfo) {}}, context.Background(), false},
		{"timeline", core.PolicyConfig{}, core.Call{Timeline: &core.Timeline{}}, context.Background(), false},
		{"canceled context", core.PolicyConfig{}, core.Call{}, canceled, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := core.NewPolicy(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			in, ok, err := p.Inline(tc.ctx, &tc.call)
			if ok != tc.want || err != nil {
				t.Fatalf("Inline = %v, %v; want %v, nil", ok, err, tc.want)
			}
			if ok {
				in.Succeeded()
			}
		})
	}
	var nilPolicy *core.Policy
	if _, ok, err := nilPolicy.Inline(context.Background(), &core.Call{}); ok || err != nil {
		t.Errorf("nil policy: Inline = %v, %v; want false, nil", ok, err)
	}
}

// A call begun without per-call options (a nil Call) gets them when its
// first attempt failed: the engine takes the attempt cap (and the labels)
// from the Call given to Failed.
func TestInlineOptionsAfterAFailure(t *testing.T) {
	p, err := core.NewPolicy(core.PolicyConfig{Retry: core.RetryConfig{MaxAttempts: 5, Strategy: core.Constant(0)}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	in, ok, err := p.Inline(ctx, nil)
	if !ok || err != nil {
		t.Fatalf("nil call: Inline = %v, %v; want true, nil", ok, err)
	}
	defer in.Release()
	blip := core.Transient(errors.New("blip"))
	n := 1 // the inline attempt
	c := core.Call{Operation: "late", MaxAttempts: 3}
	err = in.Failed(ctx, &c, blip, func(context.Context) error { n++; return blip })
	var re *core.RetryError
	if !errors.As(err, &re) || re.Attempts != 3 || n != 3 {
		t.Fatalf("err %v, %d attempts made; want 3 (the cap of the Call given to Failed)", err, n)
	}
}

// An open breaker refuses an inline call before its attempt with the typed
// rejection RunCall returns; a panicking inline attempt gives its half-open
// probe back (Release), so the next call may probe at once; a probe that
// succeeds closes the breaker.
func TestInlineBreaker(t *testing.T) {
	p, br, clk := oneShotPolicy(t)
	ctx := context.Background()
	down := core.Transient(errors.New("down"))
	if err := runInline(p, ctx, &core.Call{}, func(context.Context) error { return down }); !errors.Is(err, down) {
		t.Fatalf("first call: %v, want %v", err, down)
	}
	if br.State() != core.StateOpen {
		t.Fatalf("after a failure: %s, want open", br.State())
	}
	_, ok, err := p.Inline(ctx, &core.Call{})
	var coe *core.CircuitOpenError
	if !ok || !errors.As(err, &coe) {
		t.Fatalf("open breaker: Inline = %v, %v; want true and a CircuitOpenError", ok, err)
	}
	clk.Advance(time.Minute)
	func() {
		defer func() {
			if recover() == nil {
				t.Error("the attempt's panic did not reach the caller")
			}
		}()
		_ = runInline(p, ctx, &core.Call{}, func(context.Context) error { panic("driver bug") })
	}()
	if br.State() != core.StateHalfOpen {
		t.Fatalf("after a panicking probe: %s, want half-open", br.State())
	}
	// The probe slot was given back: this call is admitted and closes it.
	if err := runInline(p, ctx, &core.Call{}, func(context.Context) error { return nil }); err != nil {
		t.Fatalf("probe after the panic: %v (the panicking probe kept its slot)", err)
	}
	if br.State() != core.StateClosed {
		t.Fatalf("after a successful probe: %s, want closed", br.State())
	}
}

// Succeeded, Failed and Release end an inline call once; afterwards they do
// nothing (Failed returns its error unchanged).
func TestInlineEndsOnce(t *testing.T) {
	p, br, clk := oneShotPolicy(t)
	ctx := context.Background()
	_ = p.Run(ctx, func(context.Context) error { return core.Transient(errors.New("down")) })
	clk.Advance(time.Minute)
	c := core.Call{}
	in, ok, err := p.Inline(ctx, &c)
	if !ok || err != nil {
		t.Fatalf("probe: Inline = %v, %v", ok, err)
	}
	in.Succeeded()
	if br.State() != core.StateClosed {
		t.Fatalf("after Succeeded: %s, want closed", br.State())
	}
	in.Release()
	in.Succeeded()
	late := errors.New("late")
	if got := in.Failed(ctx, &c, late, nil); got != late {
		t.Fatalf("Failed after Succeeded = %v, want %v unchanged", got, late)
	}
	if br.State() != core.StateClosed {
		t.Fatalf("after the late calls: %s, want closed", br.State())
	}
	// Failed with a nil Call (Inline was given none): the engine goes on
	// with no per-call options.
	in, ok, err = p.Inline(ctx, nil)
	if !ok || err != nil {
		t.Fatalf("Inline = %v, %v", ok, err)
	}
	if got := in.Failed(ctx, nil, late, func(context.Context) error { return late }); !errors.Is(got, late) {
		t.Fatalf("Failed with a nil Call = %v, want %v", got, late)
	}
	var zero core.Inline
	zero.Release()
	zero.Succeeded()
	if got := zero.Failed(ctx, &c, late, nil); got != late {
		t.Fatalf("Failed on a zero Inline = %v, want %v unchanged", got, late)
	}
}
