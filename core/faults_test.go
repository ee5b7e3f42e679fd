package core_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redress-go/redress/core"
	"github.com/redress-go/redress/core/coretest"
)

func newFaultPolicy(t *testing.T, rules []core.FaultRule, mod func(*core.PolicyConfig)) (*core.Policy, *core.FaultInjector, *coretest.Recorder, *coretest.FakeClock) {
	t.Helper()
	f, err := core.NewFaultInjector(core.FaultConfig{Rules: rules, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	pc := core.PolicyConfig{Faults: f, Retry: core.RetryConfig{MaxAttempts: 3, Strategy: core.Constant(time.Millisecond)}}
	if mod != nil {
		mod(&pc)
	}
	p, rec, clk, err := coretest.NewRecordingPolicy(pc)
	if err != nil {
		t.Fatal(err)
	}
	return p, f, rec, clk
}

func TestFaultInjectorIsOffUntilEnabled(t *testing.T) {
	p, f, rec, _ := newFaultPolicy(t, []core.FaultRule{{Rate: 1, Err: core.InjectedError(core.ClassServerError)}}, nil)
	calls := 0
	op := func(context.Context) error { calls++; return nil }
	if err := p.Run(context.Background(), op); err != nil || calls != 1 || f.Enabled() {
		t.Fatalf("off: err %v, %d calls; want the attempt made", err, calls)
	}
	f.Enable()
	err := p.Run(context.Background(), op)
	var ie *core.InjectedFaultError
	if !errors.As(err, &ie) || ie.Class != core.ClassServerError || calls != 1 {
		t.Fatalf("on: err %v, %d calls; want an injected server error and no attempt made", err, calls)
	}
	if r, _ := core.StopReasonOf(err); r != core.StopMaxAttempts {
		t.Errorf("stop reason %v, want max_attempts: injected errors are retried like the downstream's", r)
	}
	if n := rec.Count(core.EventFaultInjected); n != 3 {
		t.Errorf("%d fault_injected events, want 3 (one per attempt)", n)
	}
	for _, e := range rec.All() {
		if e.Kind == core.EventFaultInjected && (e.Reason != "error" || e.Class != core.ClassServerError) {
			t.Errorf("event %+v, want reason error, class server_error", e)
		}
	}
	f.Disable()
	if err := p.Run(context.Background(), op); err != nil || calls != 2 {
		t.Fatalf("disabled again: err %v, %d calls", err, calls)
	}
}

func TestFaultInjectedErrorTripsTheBreaker(t *testing.T) {
	br := mustBreaker(t, core.BreakerConfig{FailureThreshold: 2, RecoveryTimeout: time.Minute})
	p, f, rec, _ := newFaultPolicy(t, []core.FaultRule{{Rate: 1, Err: core.InjectedError(core.ClassTransient)}},
		func(pc *core.PolicyConfig) { pc.Breaker = br; pc.Retry.MaxAttempts = 2 })
	f.Enable()
	_ = p.Run(context.Background(), func(context.Context) error { t.Error("attempt made"); return nil })
	if br.State() != core.StateOpen || rec.Count(core.EventCircuitOpened) != 1 {
		t.Fatalf("breaker %v, events %v: want the injected failures to open it", br.State(), rec.Names())
	}
}

func TestFaultLatencyAndResult(t *testing.T) {
	p, f, rec, clk := newFaultPolicy(t, []core.FaultRule{
		{Operation: "slow", Rate: 1, Latency: 300 * time.Millisecond},
		{Operation: "cached", Rate: 1, Result: 42},
	}, nil)
	f.Enable()
	called := 0
	v, err := core.Do(context.Background(), p, func(context.Context) (int, error) { called++; return 1, nil }, core.WithOperation("slow"))
	if err != nil || v != 1 || called != 1 {
		t.Fatalf("latency: %d, %v, %d calls; want the attempt made after the latency", v, err, called)
	}
	if s := clk.Sleeps(); len(s) != 1 || s[0] != 300*time.Millisecond {
		t.Errorf("slept %v, want the injected 300ms", s)
	}
	o := core.Execute(context.Background(), p, func(context.Context) (int, error) { called++; return 1, nil }, core.WithOperation("cached"))
	if o.Err != nil || o.Value != 42 || called != 1 || o.Fallback || o.Attempts != 1 {
		t.Fatalf("result: %+v, %d calls; want 42 without an attempt made (and not reported as a fallback)", o, called)
	}
	if _, err := core.Do(context.Background(), p, func(context.Context) (string, error) { return "x", nil }, core.WithOperation("cached")); err == nil {
		t.Error("an injected int for a string call: want an error naming both types")
	}
	if v, err := core.Do(context.Background(), p, func(context.Context) (int, error) { return 7, nil }, core.WithOperation("other")); v != 7 || err != nil {
		t.Errorf("an operation no rule names: %d, %v; want the attempt's 7", v, err)
	}
	var reasons []string
	for _, e := range rec.All() {
		if e.Kind == core.EventFaultInjected {
			reasons = append(reasons, e.Reason)
		}
	}
	if len(reasons) != 3 || reasons[0] != "latency" || reasons[1] != "result" {
		t.Errorf("fault reasons %v, want latency, result, result", reasons)
	}
}

func TestFaultRateIsSeeded(t *testing.T) {
	count := func() (n int, seq []bool) {
		p, f, _, _ := newFaultPolicy(t, []core.FaultRule{{Rate: 0.3, Err: core.Permanent(errors.New("injected"))}},
			func(pc *core.PolicyConfig) { pc.Retry.MaxAttempts = 1 })
		f.Enable()
		for range 2000 {
			err := p.Run(context.Background(), func(context.Context) error { return nil })
			seq = append(seq, err != nil)
			if err != nil {
				n++
			}
		}
		return n, seq
	}
	n1, s1 := count()
	n2, s2 := count()
	if n1 < 2000*25/100 || n1 > 2000*35/100 {
		t.Errorf("%d of 2000 attempts faulted at rate 0.3", n1)
	}
	if n1 != n2 || len(s1) != len(s2) {
		t.Fatalf("same seed, %d then %d faults", n1, n2)
	}
	for i := range s1 {
		if s1[i] != s2[i] {
			t.Fatalf("same seed, different fault at attempt %d", i)
		}
	}
}

func TestFaultRulesValidated(t *testing.T) {
	for _, tc := range []struct {
		rule  core.FaultRule
		field string
	}{
		{core.FaultRule{Rate: 0, Latency: time.Second}, "FaultConfig.Rules[0].Rate"},
		{core.FaultRule{Rate: 1.5, Latency: time.Second}, "FaultConfig.Rules[0].Rate"},
		{core.FaultRule{Rate: 1, Latency: -1}, "FaultConfig.Rules[0].Latency"},
		{core.FaultRule{Rate: 1}, "FaultConfig.Rules[0].Latency"},
		{core.FaultRule{Rate: 1, Err: errors.New("x"), Result: 1}, "FaultConfig.Rules[0].Result"},
	} {
		_, err := core.NewFaultInjector(core.FaultConfig{Rules: []core.FaultRule{tc.rule}})
		var ce *core.ConfigError
		if !errors.As(err, &ce) || ce.Field != tc.field {
			t.Errorf("rule %+v: %v, want a ConfigError naming %s", tc.rule, err, tc.field)
		}
	}
	f, err := core.NewFaultInjector(core.FaultConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.SetRules([]core.FaultRule{{Rate: 2}}); err == nil {
		t.Error("SetRules accepted a rate of 2")
	}
}
