package corebench

import (
	"context"
	"errors"
	"testing"
	"time"

	retrygo "github.com/avast/retry-go/v4"
	"github.com/cenkalti/backoff/v5"
	resbreaker "github.com/eapache/go-resiliency/breaker"
	"github.com/eapache/go-resiliency/retrier"
	"github.com/failsafe-go/failsafe-go"
	fscb "github.com/failsafe-go/failsafe-go/circuitbreaker"
	"github.com/failsafe-go/failsafe-go/retrypolicy"
	fstimeout "github.com/failsafe-go/failsafe-go/timeout"
	"github.com/sony/gobreaker/v2"

	"github.com/redress-go/redress/core"
)

// op is the operation every variant runs: the bare call of the baseline, the
// operation handed to redress and to the peers.
type op func(ctx context.Context) (int, error)

// variant is one sub-benchmark: build wraps the operation in a library,
// once, and returns the function that makes one logical call. Every variant,
// the baseline included, is called through that one func value, so the
// indirection costs the same everywhere.
type variant struct {
	name  string
	build func(tb testing.TB, fn op) op
}

// succeed is the operation of the success path: it returns at once.
//
//go:noinline
func succeed(context.Context) (int, error) { return 42, nil }

// errFlaky is a plain error, as most operations return: no marker, no
// status code, so redress's DefaultClassifier runs its whole chain of
// checks and ends at ClassUnknown (retryable; not a failure for the breaker).
var errFlaky = errors.New("flaky: try again")

// flaky fails while left > 0, then succeeds. Benchmarks set left = 1 before
// each logical call (fail once, then succeed) and count calls in tests.
type flaky struct {
	left  int
	calls int
	err   error
}

func (f *flaky) op(context.Context) (int, error) {
	f.calls++
	if f.left > 0 {
		f.left--
		return 0, f.err
	}
	return 42, nil
}

// Shared settings. Every library gets 3 attempts (2 retries), zero backoff,
// and a breaker that opens after 5 failures within 60 s, stays open 30 s
// and lets 1 probe through: redress's BreakerConfig defaults.
const (
	attempts       = 3
	breakerFails   = 5
	breakerWindow  = 60 * time.Second
	breakerBucket  = 6 * time.Second // redress keeps 10 buckets per window
	breakerTimeout = 30 * time.Second
	attemptTimeout = time.Second
)

// must returns v, or fails tb with err.
func must[T any](v T, err error) func(tb testing.TB) T {
	return func(tb testing.TB) T {
		tb.Helper()
		if err != nil {
			tb.Fatal(err)
		}
		return v
	}
}

// policyOpts selects the parts of a redress policy.
type policyOpts struct {
	breaker        bool
	budget         bool
	adaptive       bool
	bus            *core.Bus
	attemptTimeout time.Duration
	classifier     core.Classifier
}

// newPolicy builds the redress policy the benchmarks measure: MaxAttempts 3,
// Constant(0) backoff (no sleep), DefaultClassifier unless told otherwise;
// with opts.breaker a default breaker (5 transient/server failures in 60 s,
// 30 s open, 1 probe), with opts.budget a ratio budget of one retry per
// request (Ratio 1, floor 10/s over 10 s, so fail-once never exhausts it);
// with opts.adaptive as well, an adaptive budget whose floor (1e9/s) is
// never spent: fail-once fails half of the attempts, which leaves an
// adaptive budget only its floor, so this measures the health accounting
// (Failed on each failed attempt, the health read on each withdrawal)
// without a denial.
func newPolicy(tb testing.TB, o policyOpts) *core.Policy {
	tb.Helper()
	cfg := core.PolicyConfig{
		Name: "bench",
		Retry: core.RetryConfig{
			MaxAttempts: attempts,
			Strategy:    core.Constant(0),
			Classifier:  o.classifier,
		},
		Timeout: core.TimeoutConfig{Attempt: o.attemptTimeout},
		Bus:     o.bus,
	}
	if o.breaker {
		cfg.Breaker = must(core.NewBreaker(core.BreakerConfig{Name: "bench"}))(tb)
	}
	if o.budget {
		bc := core.BudgetConfig{Ratio: 1}
		if o.adaptive {
			bc.Adaptive, bc.MinRetriesPerSecond = true, 1e9
		}
		cfg.Budget = must(core.NewBudget(bc))(tb)
	}
	return must(core.NewPolicy(cfg))(tb)
}

// --- redress ---------------------------------------------------------------

func baseline(_ testing.TB, fn op) op { return fn }

func redressDo(o policyOpts) func(testing.TB, op) op {
	return func(tb testing.TB, fn op) op {
		p := newPolicy(tb, o)
		return func(ctx context.Context) (int, error) { return core.Do(ctx, p, fn) }
	}
}

// --- peers -----------------------------------------------------------------

// newGobreaker mirrors the redress breaker: a rolling 60 s window in 6 s
// buckets, open after 5 failures in it (TotalFailures, not consecutive), 30 s
// open, 1 probe.
func newGobreaker() *gobreaker.CircuitBreaker[int] {
	return gobreaker.NewCircuitBreaker[int](gobreaker.Settings{
		Name:         "bench",
		MaxRequests:  1,
		Interval:     breakerWindow,
		BucketPeriod: breakerBucket,
		Timeout:      breakerTimeout,
		ReadyToTrip:  func(c gobreaker.Counts) bool { return c.TotalFailures >= breakerFails },
	})
}

// gobreakerExecute is gobreaker's bare Execute: no retry.
func gobreakerExecute(_ testing.TB, fn op) op {
	cb := newGobreaker()
	return func(ctx context.Context) (int, error) {
		return cb.Execute(func() (int, error) { return fn(ctx) })
	}
}

// gobreakerDefaults is Execute with gobreaker's zero Settings (counts never
// cleared while closed, open after more than 5 consecutive failures, 60 s open).
func gobreakerDefaults(_ testing.TB, fn op) op {
	cb := gobreaker.NewCircuitBreaker[int](gobreaker.Settings{Name: "bench"})
	return func(ctx context.Context) (int, error) {
		return cb.Execute(func() (int, error) { return fn(ctx) })
	}
}

// newFailsafeCB mirrors the redress breaker: time-based thresholding, 5
// failures within 60 s, 30 s delay before half-open (1 probe closes it).
func newFailsafeCB() fscb.CircuitBreaker[int] {
	return fscb.NewBuilder[int]().
		WithFailureThresholdPeriod(breakerFails, breakerWindow).
		WithDelay(breakerTimeout).
		Build()
}

// newFailsafeRetry: 3 attempts, no delay (failsafe's default is no delay;
// it is spelled out), every error retried.
func newFailsafeRetry() retrypolicy.RetryPolicy[int] {
	return retrypolicy.NewBuilder[int]().WithMaxAttempts(attempts).WithDelay(0).Build()
}

// failsafeRetryCB is failsafe.With(retry, circuit breaker): the retry policy
// outermost, as redress nests them (the breaker guards every attempt).
func failsafeRetryCB(_ testing.TB, fn op) op {
	ex := failsafe.With[int](newFailsafeRetry(), newFailsafeCB())
	return func(ctx context.Context) (int, error) {
		return ex.GetWithExecution(func(e failsafe.Execution[int]) (int, error) { return fn(e.Context()) })
	}
}

// failsafeRetryCBCtx is failsafeRetryCB with the caller's context handed to
// failsafe (WithContext), as a call that propagates cancellation must.
func failsafeRetryCBCtx(_ testing.TB, fn op) op {
	ex := failsafe.With[int](newFailsafeRetry(), newFailsafeCB())
	return func(ctx context.Context) (int, error) {
		return ex.WithContext(ctx).GetWithExecution(func(e failsafe.Execution[int]) (int, error) { return fn(e.Context()) })
	}
}

// failsafeRetry is failsafe's retry policy alone.
func failsafeRetry(_ testing.TB, fn op) op {
	ex := failsafe.With[int](newFailsafeRetry())
	return func(ctx context.Context) (int, error) {
		return ex.GetWithExecution(func(e failsafe.Execution[int]) (int, error) { return fn(e.Context()) })
	}
}

// failsafeCB is failsafe's circuit breaker alone.
func failsafeCB(_ testing.TB, fn op) op {
	ex := failsafe.With[int](newFailsafeCB())
	return func(ctx context.Context) (int, error) {
		return ex.GetWithExecution(func(e failsafe.Execution[int]) (int, error) { return fn(e.Context()) })
	}
}

// failsafeTimeout is failsafe's timeout policy (1 s) alone.
func failsafeTimeout(_ testing.TB, fn op) op {
	ex := failsafe.With[int](fstimeout.New[int](attemptTimeout))
	return func(ctx context.Context) (int, error) {
		return ex.GetWithExecution(func(e failsafe.Execution[int]) (int, error) { return fn(e.Context()) })
	}
}

// retryGo: 3 attempts, fixed zero delay and no jitter, the caller's context,
// and only the last error returned (redress returns the last failure too).
// The constant options are built once, not per call; only Context(ctx) is
// per call.
func retryGo(_ testing.TB, fn op) op {
	base := [...]retrygo.Option{
		retrygo.Attempts(attempts), retrygo.Delay(0), retrygo.MaxJitter(0),
		retrygo.DelayType(retrygo.FixedDelay), retrygo.LastErrorOnly(true),
	}
	return func(ctx context.Context) (int, error) {
		var opts [len(base) + 1]retrygo.Option
		copy(opts[:], base[:])
		opts[len(base)] = retrygo.Context(ctx)
		return retrygo.DoWithData(func() (int, error) { return fn(ctx) }, opts[:]...)
	}
}

// cenkalti: backoff.Retry with ZeroBackOff and 3 tries (MaxElapsedTime stays
// at its default, 15 min, which never applies here). The options are built
// once.
func cenkalti(_ testing.TB, fn op) op {
	opts := []backoff.RetryOption{backoff.WithBackOff(&backoff.ZeroBackOff{}), backoff.WithMaxTries(attempts)}
	return func(ctx context.Context) (int, error) {
		return backoff.Retry(ctx, func() (int, error) { return fn(ctx) }, opts...)
	}
}

// resiliencyRetrier: 2 retries of zero delay (3 attempts), every error
// retried (go-resiliency's DefaultClassifier).
func resiliencyRetrier(_ testing.TB, fn op) op {
	r := retrier.New(retrier.ConstantBackoff(attempts-1, 0), nil)
	return func(ctx context.Context) (int, error) {
		var v int
		err := r.RunCtx(ctx, func(ctx context.Context) error {
			var err error
			v, err = fn(ctx)
			return err
		})
		return v, err
	}
}

// newResiliencyBreaker: opens after 5 errors with no error-free 30 s gap,
// stays open 30 s, closes after 1 success (go-resiliency has a single
// timeout for both).
func newResiliencyBreaker() *resbreaker.Breaker {
	return resbreaker.New(breakerFails, 1, breakerTimeout)
}

// resiliencyRetrierBreaker is the retrier around the breaker, as redress
// nests them.
func resiliencyRetrierBreaker(_ testing.TB, fn op) op {
	r := retrier.New(retrier.ConstantBackoff(attempts-1, 0), nil)
	br := newResiliencyBreaker()
	return func(ctx context.Context) (int, error) {
		var v int
		err := r.RunCtx(ctx, func(ctx context.Context) error {
			return br.Run(func() error {
				var err error
				v, err = fn(ctx)
				return err
			})
		})
		return v, err
	}
}

// resiliencyBreaker is go-resiliency's breaker alone.
func resiliencyBreaker(_ testing.TB, fn op) op {
	br := newResiliencyBreaker()
	return func(ctx context.Context) (int, error) {
		var v int
		err := br.Run(func() error {
			var err error
			v, err = fn(ctx)
			return err
		})
		return v, err
	}
}
