package core_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/redress-go/redress/core"
)

// A bulkhead of one slot: while a call holds it, another is refused at
// once with a typed error and the stop reason concurrency_limited.
func ExampleNewBulkhead() {
	bh, err := core.NewBulkhead(core.BulkheadConfig{Name: "reports", MaxConcurrent: 1})
	if err != nil {
		panic(err)
	}
	p, err := core.NewPolicy(core.PolicyConfig{Name: "reports", Concurrency: bh})
	if err != nil {
		panic(err)
	}
	_ = p.Run(context.Background(), func(ctx context.Context) error {
		// The slot is taken while this attempt runs.
		err := p.Run(ctx, func(context.Context) error { return nil })
		r, _ := core.StopReasonOf(err)
		fmt.Println(errors.Is(err, core.ErrConcurrencyLimited), r)
		return nil
	})
	fmt.Println("in flight after:", bh.InFlight())
	// Output:
	// true concurrency_limited
	// in flight after: 0
}

// An adaptive limiter starts at InitialLimit and moves with the latency
// it measures; share it between the policies that call one downstream.
func ExampleNewAdaptiveLimiter() {
	al, err := core.NewAdaptiveLimiter(core.AdaptiveLimiterConfig{Name: "search", InitialLimit: 10, MaxLimit: 100})
	if err != nil {
		panic(err)
	}
	p, err := core.NewPolicy(core.PolicyConfig{Name: "search", Concurrency: al})
	if err != nil {
		panic(err)
	}
	err = p.Run(context.Background(), func(context.Context) error { return nil })
	fmt.Println(err, al.Limit(), al.InFlight())
	// Output:
	// <nil> 10 0
}
