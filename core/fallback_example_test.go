package core_test

import (
	"context"
	"fmt"
	"time"

	"github.com/redress-go/redress/core"
	"github.com/redress-go/redress/core/coretest"
)

// A policy with a call timeout, an attempt timeout and a fallback: when
// the retries are spent, the call returns the last known value instead of
// the error, and the fallback knows why the policy gave up.
func ExampleFallback() {
	clk := coretest.NewFakeClock(coretest.StartTime) // instant sleeps for the example
	p, err := core.NewPolicy(core.PolicyConfig{
		Name:    "prices",
		Timeout: core.TimeoutConfig{Call: 2 * time.Second, Attempt: 500 * time.Millisecond},
		Retry:   core.RetryConfig{MaxAttempts: 3},
		Fallback: func(_ context.Context, info core.FallbackInfo) (any, error) {
			fmt.Printf("fallback after %d attempts: %s\n", info.Attempts, info.StopReason)
			return 41.5, nil // the last price seen
		},
		Clock: clk, Sleeper: clk,
	})
	if err != nil {
		panic(err)
	}
	o := core.Execute(context.Background(), p, func(context.Context) (float64, error) {
		return 0, coretest.ClassErr(core.ClassServerError)
	})
	fmt.Println(o.Value, o.Err, o.Fallback)
	// Output:
	// fallback after 3 attempts: max_attempts
	// 41.5 <nil> true
}
