package core_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/redress-go/redress/core"
	"github.com/redress-go/redress/core/coretest"
)

// A chaos experiment: every attempt of the "checkout" operation fails as a
// server error while the injector is enabled; other operations are left
// alone. The injector is off until Enable.
func ExampleNewFaultInjector() {
	faults, err := core.NewFaultInjector(core.FaultConfig{Rules: []core.FaultRule{
		{Operation: "checkout", Rate: 1, Err: core.InjectedError(core.ClassServerError)},
	}})
	if err != nil {
		panic(err)
	}
	clk := coretest.NewFakeClock(coretest.StartTime) // instant sleeps for the example
	p, err := core.NewPolicy(core.PolicyConfig{Name: "shop", Faults: faults, Clock: clk, Sleeper: clk})
	if err != nil {
		panic(err)
	}
	op := func(context.Context) error { return nil }
	fmt.Println("off:", p.Run(context.Background(), op, core.WithOperation("checkout")))

	faults.Enable()
	err = p.Run(context.Background(), op, core.WithOperation("checkout"))
	var injected *core.InjectedFaultError
	fmt.Println("on:", errors.As(err, &injected), injected.Class)
	fmt.Println("other operation:", p.Run(context.Background(), op, core.WithOperation("search")))
	faults.Disable()
	// Output:
	// off: <nil>
	// on: true server_error
	// other operation: <nil>
}
