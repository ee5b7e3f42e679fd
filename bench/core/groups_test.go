package corebench

import (
	"context"
	"testing"

	"github.com/sony/gobreaker/v2"

	"github.com/redress-go/redress/core"
)

// The benchmark groups, shared by the benchmarks (bench_test.go) and by the
// tests that check each variant does what its name says (semantics_test.go).

// full is the redress policy of the success-path target: retry,
// circuit breaker and retry budget, no bus.
var full = policyOpts{breaker: true, budget: true}

// retryAll classifies every error as transient, without inspecting it: the
// peers retry every error the same way, so this is redress configured with
// their semantics (a breaker would count these failures; the variants that
// use it have none).
func retryAll(error) core.Classification {
	return core.Classification{Class: core.ClassTransient}
}

var successPath = []variant{
	{"baseline", baseline},
	{"redress", redressDo(full)},
	{"redress-retry-only", redressDo(policyOpts{})},
	{"gobreaker", gobreakerExecute},
	{"gobreaker-defaults", gobreakerDefaults},
	{"failsafe-retry-cb", failsafeRetryCB},
	{"failsafe-retry-cb-ctx", failsafeRetryCBCtx},
	{"failsafe-retry", failsafeRetry},
	{"retry-go", retryGo},
	{"cenkalti", cenkalti},
	{"resiliency-retrier-breaker", resiliencyRetrierBreaker},
	{"resiliency-retrier", resiliencyRetrier},
}

// twice is the baseline of the fail-once group: the operation called a
// second time by hand when the first call fails.
func twice(_ testing.TB, fn op) op {
	return func(ctx context.Context) (int, error) {
		v, err := fn(ctx)
		if err != nil {
			v, err = fn(ctx)
		}
		return v, err
	}
}

var failOnce = []variant{
	{"baseline", twice},
	{"redress", redressDo(policyOpts{})},
	{"redress-retry-all", redressDo(policyOpts{classifier: retryAll})},
	{"redress-breaker-budget", redressDo(full)},
	{"redress-breaker-adaptive-budget", redressDo(policyOpts{breaker: true, budget: true, adaptive: true})},
	{"retry-go", retryGo},
	{"failsafe-retry", failsafeRetry},
	{"cenkalti", cenkalti},
	{"resiliency-retrier", resiliencyRetrier},
}

// redressAllow is the standalone breaker, as a wrapper uses it: Allow, the
// call, then Permit.Success (or Failure with the error's class).
func redressAllow(tb testing.TB, fn op) op {
	br := must(core.NewBreaker(core.BreakerConfig{Name: "bench"}))(tb)
	return func(ctx context.Context) (int, error) {
		p, err := br.Allow()
		if err != nil {
			return 0, err
		}
		v, err := fn(ctx)
		if err != nil {
			p.Failure(core.DefaultClassifier(err).Class)
			return v, err
		}
		p.Success()
		return v, nil
	}
}

// gobreakerTwoStep is gobreaker's two-step breaker (Allow, then done).
func gobreakerTwoStep(_ testing.TB, fn op) op {
	cb := gobreaker.NewTwoStepCircuitBreaker[int](gobreaker.Settings{
		Name:         "bench",
		MaxRequests:  1,
		Interval:     breakerWindow,
		BucketPeriod: breakerBucket,
		Timeout:      breakerTimeout,
		ReadyToTrip:  func(c gobreaker.Counts) bool { return c.TotalFailures >= breakerFails },
	})
	return func(ctx context.Context) (int, error) {
		done, err := cb.Allow()
		if err != nil {
			return 0, err
		}
		v, err := fn(ctx)
		done(err)
		return v, err
	}
}

var breakerParallel = []variant{
	{"baseline", baseline},
	{"redress-allow", redressAllow},
	{"redress-policy-breaker", redressDo(policyOpts{breaker: true})},
	{"redress-policy", redressDo(full)},
	{"gobreaker", gobreakerExecute},
	{"gobreaker-twostep", gobreakerTwoStep},
	{"failsafe-cb", failsafeCB},
	{"resiliency-breaker", resiliencyBreaker},
}

// nopSub is a subscriber that wants the events in set and does nothing with
// them, so the benchmarks measure the engine's side of event delivery.
type nopSub struct{ set core.EventSet }

func (s nopSub) Events() core.EventSet                    { return s.set }
func (s nopSub) Handle(ctx context.Context, e core.Event) {}

// nopDecorator also implements core.ContextDecorator and returns the context
// unchanged (what the OTel subscriber does, minus the span).
type nopDecorator struct{ nopSub }

func (nopDecorator) Decorate(ctx context.Context, e core.Event) context.Context { return ctx }

// withBus is the full policy with a bus holding sub.
func withBus(sub core.Subscriber) func(testing.TB, op) op {
	return func(tb testing.TB, fn op) op {
		o := full
		o.bus = core.NewBus(sub)
		return redressDo(o)(tb, fn)
	}
}

var subscriber = []variant{
	{"baseline", baseline},
	{"redress", redressDo(full)},
	{"redress-bus-idle", withBus(nopSub{core.CircuitEvents})},
	{"redress-sub-terminal", withBus(nopSub{core.TerminalEvents})},
	{"redress-sub-all", withBus(nopSub{core.AllEvents})},
	{"redress-sub-all-decorator", withBus(nopDecorator{nopSub{core.AllEvents}})},
}

var subscriberFailOnce = []variant{
	{"baseline", twice},
	{"redress-breaker-budget", redressDo(full)},
	{"redress-sub-terminal", withBus(nopSub{core.TerminalEvents})},
	{"redress-sub-all", withBus(nopSub{core.AllEvents})},
}

// redressExecute is core.Execute with no options.
func redressExecute(tb testing.TB, fn op) op {
	p := newPolicy(tb, full)
	return func(ctx context.Context) (int, error) {
		o := core.Execute(ctx, p, fn)
		return o.Value, o.Err
	}
}

// redressExecuteTimeline is core.Execute recording a timeline of attempts.
func redressExecuteTimeline(tb testing.TB, fn op) op {
	p := newPolicy(tb, full)
	return func(ctx context.Context) (int, error) {
		o := core.Execute(ctx, p, fn, core.WithTimeline(new(core.Timeline)))
		return o.Value, o.Err
	}
}

// manualTimeout is the bare call under a context.WithTimeout made by hand.
func manualTimeout(_ testing.TB, fn op) op {
	return func(ctx context.Context) (int, error) {
		actx, cancel := context.WithTimeout(ctx, attemptTimeout)
		defer cancel()
		return fn(actx)
	}
}

var execute = []variant{
	{"baseline", baseline},
	{"redress-do", redressDo(full)},
	{"redress-execute", redressExecute},
	{"redress-execute-timeline", redressExecuteTimeline},
	{"redress-attempt-timeout", redressDo(policyOpts{breaker: true, budget: true, attemptTimeout: attemptTimeout})},
	{"manual-timeout", manualTimeout},
	{"failsafe-timeout", failsafeTimeout},
}
