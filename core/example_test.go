package core_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redress-go/redress/core"
	"github.com/redress-go/redress/core/coretest"
)

// flaky fails n times with err, then returns v.
func flaky[T any](n int, err error, v T) func(context.Context) (T, error) {
	calls := 0
	return func(context.Context) (T, error) {
		calls++
		if calls <= n {
			var zero T
			return zero, err
		}
		return v, nil
	}
}

// A unified policy: retries with per-class backoff, a circuit breaker and a
// retry budget, all in one place.
func ExampleNewPolicy() {
	breaker, _ := core.NewBreaker(core.BreakerConfig{Name: "inventory", FailureThreshold: 5})
	budget, _ := core.NewBudget(core.BudgetConfig{Ratio: 0.2})
	policy, err := core.NewPolicy(core.PolicyConfig{
		Name: "inventory",
		Retry: core.RetryConfig{
			MaxAttempts: 4,
			Strategy:    core.DecorrelatedJitter(time.Millisecond, 10*time.Millisecond),
			Strategies: map[core.Class]core.Strategy{
				core.ClassRateLimit: core.RetryAfterOr(core.Constant(time.Millisecond), time.Second),
			},
		},
		Breaker: breaker,
		Budget:  budget,
	})
	if err != nil {
		panic(err)
	}
	stock, err := core.Do(context.Background(), policy, flaky(2, core.Transient(errors.New("reset")), 42))
	fmt.Println(stock, err)
	// Output: 42 <nil>
}

// The retry-only shortcut.
func ExampleNewRetryPolicy() {
	p, _ := core.NewRetryPolicy(core.RetryConfig{MaxAttempts: 2, Strategy: core.Constant(0)})
	_, err := core.Do(context.Background(), p, flaky(5, core.Transient(errors.New("reset")), 0))
	r, _ := core.StopReasonOf(err)
	fmt.Println(r)
	// Output: max_attempts
}

// Retry settings are a plain value: share one across policies, or embed it
// in your own configuration struct.
func ExampleRetryConfig() {
	type ServiceConfig struct {
		URL   string
		Retry core.RetryConfig
	}
	shared := core.RetryConfig{MaxAttempts: 5, Strategy: core.Constant(0)}
	users := ServiceConfig{URL: "http://users", Retry: shared}
	orders := ServiceConfig{URL: "http://orders", Retry: shared}
	orders.Retry.MaxAttempts = 2 // a copy: users keep 5

	pu, _ := core.NewPolicy(core.PolicyConfig{Name: "users", Retry: users.Retry})
	po, _ := core.NewPolicy(core.PolicyConfig{Name: "orders", Retry: orders.Retry})
	fmt.Println(pu.Name(), users.Retry.MaxAttempts, po.Name(), orders.Retry.MaxAttempts)
	// Output: users 5 orders 2
}

// Per-class caps: at most two rate-limit failures, whatever MaxAttempts says.
func ExampleRetryConfig_perClass() {
	p, _ := core.NewRetryPolicy(core.RetryConfig{
		MaxAttempts:         10,
		Strategy:            core.Constant(0),
		MaxAttemptsPerClass: map[core.Class]int{core.ClassRateLimit: 2},
	})
	f := coretest.FailTimes(10, core.RateLimited(errors.New("slow down"), 0))
	err := p.Run(context.Background(), f.Op())
	r, _ := core.StopReasonOf(err)
	fmt.Println(r, f.Calls())
	// Output: max_attempts_per_class 2
}

// Errors can classify themselves with markers, or carry a status code.
func ExampleDefaultClassifier() {
	for _, err := range []error{
		core.Permanent(errors.New("bad input")),
		core.RateLimited(errors.New("quota"), 3*time.Second),
		&core.StatusError{Code: 503},
		context.DeadlineExceeded,
		errors.New("mystery"),
	} {
		c := core.DefaultClassifier(err)
		fmt.Println(c.Class, c.RetryAfter, c.Class.Retryable())
	}
	// Output:
	// permanent 0s false
	// rate_limit 3s true
	// server_error 0s true
	// transient 0s true
	// unknown 0s true
}

// RetryAfterOr honours the server's hint, capped, and falls back otherwise.
func ExampleRetryAfterOr() {
	clk := coretest.NewFakeClock(coretest.StartTime)
	p, _ := core.NewPolicy(core.PolicyConfig{
		Clock: clk, Sleeper: clk,
		Retry: core.RetryConfig{Strategy: core.RetryAfterOr(core.Constant(50*time.Millisecond), 2*time.Second)},
	})
	f := coretest.Schedule(core.RateLimited(errors.New("429"), 10*time.Second), core.Transient(errors.New("reset")))
	_ = p.Run(context.Background(), f.Op())
	fmt.Println(clk.Sleeps())
	// Output: [2s 50ms]
}

// Adaptive backs off harder while the failure rate is high.
func ExampleAdaptive() {
	a := core.Adaptive(core.Constant(100*time.Millisecond), core.AdaptiveConfig{MaxMultiplier: 4, Smoothing: 1})
	fmt.Println(a.Backoff(core.BackoffInput{Attempt: 1}))
	a.Observe(true)
	fmt.Println(a.Backoff(core.BackoffInput{Attempt: 1}))
	a.Observe(false)
	fmt.Println(a.Backoff(core.BackoffInput{Attempt: 1}))
	// Output:
	// 100ms
	// 400ms
	// 100ms
}

// A budget shared by two policies caps their retries together.
func ExampleNewBudget() {
	budget, _ := core.NewBudget(core.BudgetConfig{MaxRetries: 3, Window: time.Minute})
	a, _ := core.NewPolicy(core.PolicyConfig{Budget: budget, Retry: core.RetryConfig{MaxAttempts: 10, Strategy: core.Constant(0)}})
	b, _ := core.NewPolicy(core.PolicyConfig{Budget: budget, Retry: core.RetryConfig{MaxAttempts: 10, Strategy: core.Constant(0)}})
	fa := coretest.FailTimes(100, core.Transient(errors.New("down")))
	fb := coretest.FailTimes(100, core.Transient(errors.New("down")))
	errA := a.Run(context.Background(), fa.Op())
	errB := b.Run(context.Background(), fb.Op())
	ra, _ := core.StopReasonOf(errA)
	rb, _ := core.StopReasonOf(errB)
	fmt.Println(fa.Calls(), ra, fb.Calls(), rb)
	// Output: 4 budget_exhausted 1 budget_exhausted
}

// A breaker used standalone, as a wrapper would: Allow, then record.
func ExampleBreaker_Allow() {
	b, _ := core.NewBreaker(core.BreakerConfig{Name: "payments", FailureThreshold: 2})
	for i := range 3 {
		permit, err := b.Allow()
		if err != nil {
			fmt.Println("call", i, "rejected:", err, errors.Is(err, core.ErrCircuitOpen))
			continue
		}
		permit.Failure(core.ClassServerError)
		fmt.Println("call", i, "failed; breaker", b.State())
	}
	// Output:
	// call 0 failed; breaker closed
	// call 1 failed; breaker open
	// call 2 rejected: redress: circuit breaker "payments" is open true
}

// A job queue defers retries instead of sleeping.
func ExampleRetryConfig_scheduled() {
	p, _ := core.NewRetryPolicy(core.RetryConfig{
		Strategy:     core.Constant(30 * time.Second),
		SleepHandler: func(context.Context, core.SleepInfo) core.SleepAction { return core.SleepDefer },
	})
	out := core.Execute(context.Background(), p, flaky(1, core.Transient(errors.New("busy")), "done"))
	fmt.Println(out.StopReason, out.NextDelay)
	// Output: scheduled 30s
}

// AbortIf stops retrying when the service shuts down.
func ExampleRetryConfig_abortIf() {
	shuttingDown := false
	p, _ := core.NewRetryPolicy(core.RetryConfig{Strategy: core.Constant(0), AbortIf: func() bool { return shuttingDown }})
	err := p.Run(context.Background(), func(context.Context) error {
		shuttingDown = true
		return core.Transient(errors.New("unavailable"))
	})
	r, _ := core.StopReasonOf(err)
	fmt.Println(r)
	// Output: aborted
}

// A result classifier turns a returned value into a failure.
func ExampleRetryConfig_resultClassifier() {
	type reply struct{ Status int }
	p, _ := core.NewRetryPolicy(core.RetryConfig{
		MaxAttempts: 2, Strategy: core.Constant(0),
		ResultClassifier: func(v any) error {
			if r := v.(reply); r.Status >= 500 {
				return &core.StatusError{Code: r.Status}
			}
			return nil
		},
	})
	_, err := core.Do(context.Background(), p, func(context.Context) (reply, error) { return reply{503}, nil })
	var re *core.RetryError
	errors.As(err, &re)
	fmt.Println(re.Reason, re.Class, re.LastResult)
	// Output: max_attempts server_error {503}
}

// Options name the call and watch its attempts; every way to run a call
// takes them.
func ExampleWithOnAttempt() {
	p, _ := core.NewRetryPolicy(core.RetryConfig{Strategy: core.Constant(0)})
	hook := core.WithOnAttempt(func(a core.AttemptInfo) { fmt.Println(a.Operation, a.Attempt, a.Decision) })
	for _, n := range []int{0, 1} {
		_ = p.Run(context.Background(), coretest.FailTimes(n, core.Transient(errors.New("x"))).Op(), core.WithOperation("batch"), hook)
	}
	// Output:
	// batch 1 success
	// batch 1 retry
	// batch 2 success
}

// A Step lets the caller make each attempt in its own code, as the
// wrappers do: no function value, the labels set per attempt.
func ExampleStep() {
	p, _ := core.NewPolicy(core.PolicyConfig{Bus: core.NewBus(printSub{}), Retry: core.RetryConfig{Strategy: core.Constant(0)}})
	call := core.Call{Operation: "GetUser"}
	statuses := []int{503, 200}
	var s core.Step
	s.Begin(context.Background(), p, &call)
	defer s.Close()
	for s.Next() {
		code := statuses[s.Attempt()-1]
		s.SetStatusCode(code)
		if code >= 500 {
			s.End(&core.StatusError{Code: code})
			continue
		}
		s.End(nil)
	}
	fmt.Println(s.Err())
	// Output:
	// retry GetUser 1 server_error
	// success GetUser 2 unknown
	// <nil>
}

// Execute returns a structured outcome, with an optional timeline.
func ExampleExecute() {
	clk := coretest.NewFakeClock(coretest.StartTime)
	p, _ := core.NewPolicy(core.PolicyConfig{Clock: clk, Sleeper: clk, Retry: core.RetryConfig{Strategy: core.Constant(time.Second)}})
	var tl core.Timeline
	out := core.Execute(context.Background(), p, flaky(1, &core.StatusError{Code: 503}, "ok"), core.WithTimeline(&tl))
	fmt.Println(out.OK(), out.Value, out.Attempts, out.LastClass, out.Elapsed)
	for _, a := range out.Timeline.Attempts {
		fmt.Println(a.Attempt, a.Decision, a.Classification.Class, a.Sleep)
	}
	// Output:
	// true ok 2 server_error 1s
	// 1 retry server_error 1s
	// 2 success unknown 0s
}

// Errors after giving up wrap the last failure and carry the stop reason.
func ExampleStopReasonOf() {
	errDown := errors.New("db down")
	p, _ := core.NewRetryPolicy(core.RetryConfig{MaxAttempts: 2, Strategy: core.Constant(0)})
	err := p.Run(context.Background(), func(context.Context) error { return core.Transient(errDown) })
	r, _ := core.StopReasonOf(err)
	fmt.Println(r, errors.Is(err, errDown), errors.Is(err, core.ErrStop(core.StopMaxAttempts)))
	fmt.Println(err)
	// Output:
	// max_attempts true true
	// redress: stopped (max_attempts) after 2 attempts: db down
}

// printSub is a tiny subscriber.
type printSub struct{}

func (printSub) Events() core.EventSet { return core.EventsOf(core.EventRetry, core.EventSuccess) }
func (printSub) Handle(_ context.Context, e core.Event) {
	fmt.Println(e.Kind, e.Operation, e.Attempt, e.Class)
}

// Subscribers receive the events they ask for, in subscription order.
func ExampleNewBus() {
	p, _ := core.NewPolicy(core.PolicyConfig{Bus: core.NewBus(printSub{}), Retry: core.RetryConfig{Strategy: core.Constant(0)}})
	_ = p.Run(context.Background(), coretest.FailTimes(1, &core.StatusError{Code: 429}).Op(), core.WithOperation("Charge"))
	// Output:
	// retry Charge 1 rate_limit
	// success Charge 2 unknown
}

// A slow sink goes behind an asynchronous adapter that drops instead of
// blocking the call.
func ExampleNewAsync() {
	async, _ := core.NewAsync(printSub{}, core.AsyncConfig{QueueSize: 128})
	p, _ := core.NewPolicy(core.PolicyConfig{Bus: core.NewBus(async)})
	_ = p.Run(context.Background(), func(context.Context) error { return nil }, core.WithOperation("Ping"))
	_ = async.Close(context.Background()) // flushes what is queued
	fmt.Println("dropped:", async.Dropped())
	// Output:
	// success Ping 1 unknown
	// dropped: 0
}
