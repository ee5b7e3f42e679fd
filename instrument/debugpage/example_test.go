package redressdebug_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"

	"github.com/redress-go/redress/core"
	"github.com/redress-go/redress/core/coretest"
	redressdebug "github.com/redress-go/redress/instrument/debugpage"
)

func Example() {
	clock := coretest.NewFakeClock(coretest.StartTime)
	page, err := redressdebug.New(redressdebug.Config{Clock: clock})
	if err != nil {
		panic(err)
	}
	breaker, _ := core.NewBreaker(core.BreakerConfig{Name: "inventory", FailureThreshold: 2, Clock: clock})
	policy, _ := core.NewPolicy(core.PolicyConfig{
		Name: "inventory", Bus: core.NewBus(page), Breaker: breaker,
		Retry: core.RetryConfig{Strategy: coretest.Delays(0)}, Clock: clock, Sleeper: clock,
	})
	ctx := context.Background()
	_ = policy.Run(ctx, func(context.Context) error { return nil })
	// Two failures open the breaker, which refuses the third attempt.
	_ = policy.Run(ctx, coretest.FailTimes(5, core.Transient(errors.New("connection reset"))).Op())
	_ = policy.Run(ctx, func(context.Context) error { return nil }) // refused: the breaker is open

	// The JSON form, as a script would read it (the HTML page is the same
	// view, at the same path without ?format=json).
	rec := httptest.NewRecorder()
	page.ServeHTTP(rec, httptest.NewRequest("GET", "/debug/redress?format=json", nil))
	var v redressdebug.View
	_ = json.Unmarshal(rec.Body.Bytes(), &v)
	for _, b := range v.Breakers {
		fmt.Printf("breaker %s: %s since %s\n", b.Name, b.State, b.Since.Format("15:04:05"))
	}
	for _, o := range v.Operations {
		fmt.Printf("%s/%s: %d calls, %.0f%% ok, stops %v\n", o.Policy, o.Operation, o.Calls, 100*o.SuccessRatio, o.StopReasons)
		for _, f := range o.RecentFailures {
			fmt.Printf("  %s class=%q stop=%s attempts=%d error=%q\n", f.Event, f.Class, f.StopReason, f.Attempts, f.Error)
		}
	}
	// Output:
	// breaker inventory: open since 00:00:00
	// inventory/inventory: 3 calls, 33% ok, stops map[circuit_open:2]
	//   circuit_rejected class="" stop=circuit_open attempts=0 error="redress: circuit breaker \"inventory\" is open"
	//   circuit_rejected class="" stop=circuit_open attempts=2 error="connection reset"
}
