package core_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redress-go/redress/core"
	"github.com/redress-go/redress/core/coretest"
)

// A token bucket of 10 attempts a second, burst 1. The first policy waits
// for its turn (up to 250ms); the second refuses at once with the wait in
// a *LimitedError.
func ExampleNewRateLimiter() {
	clk := coretest.NewFakeClock(coretest.StartTime) // instant sleeps for the example
	waiting, _ := core.NewRateLimiter(core.RateLimiterConfig{Name: "search", Rate: 10, Burst: 1, MaxWait: 250 * time.Millisecond, Clock: clk})
	p, err := core.NewPolicy(core.PolicyConfig{Limiter: waiting, Clock: clk, Sleeper: clk})
	if err != nil {
		panic(err)
	}
	for range 3 {
		_ = p.Run(context.Background(), func(context.Context) error { return nil })
	}
	fmt.Println("waited", clk.Sleeps())

	refusing, _ := core.NewRateLimiter(core.RateLimiterConfig{Name: "search", Rate: 10, Burst: 1, Clock: clk})
	q, err := core.NewPolicy(core.PolicyConfig{Limiter: refusing, Clock: clk, Sleeper: clk})
	if err != nil {
		panic(err)
	}
	_ = q.Run(context.Background(), func(context.Context) error { return nil })
	err = q.Run(context.Background(), func(context.Context) error { return nil })
	var le *core.LimitedError
	fmt.Println(errors.As(err, &le), le.RetryIn)
	// Output:
	// waited [100ms 100ms]
	// true 100ms
}
