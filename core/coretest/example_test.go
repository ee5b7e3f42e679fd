package coretest_test

import (
	"context"
	"fmt"
	"time"

	"github.com/redress-go/redress/core"
	"github.com/redress-go/redress/core/coretest"
)

// A test of code that uses a policy: the operation fails twice with a
// transient error, the recording policy retries it on a fake clock (no real
// sleep), and the test reads what happened.
func Example() {
	faults := coretest.FailTimes(2, coretest.ClassErr(core.ClassTransient))
	p, rec, clk, err := coretest.NewRecordingPolicy(core.PolicyConfig{
		Retry: core.RetryConfig{Strategy: core.Constant(100 * time.Millisecond)},
	})
	if err != nil {
		panic(err)
	}
	err = p.Run(context.Background(), faults.Op())
	fmt.Println("error:", err)
	fmt.Println("calls:", faults.Calls())
	fmt.Println("sleeps:", clk.Sleeps())
	fmt.Println("retries:", rec.Count(core.EventRetry), "successes:", rec.Count(core.EventSuccess))
	// Output:
	// error: <nil>
	// calls: 3
	// sleeps: [100ms 100ms]
	// retries: 2 successes: 1
}
