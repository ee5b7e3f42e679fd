package redressprom_test

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/redress-go/redress/core"
	"github.com/redress-go/redress/core/coretest"
	redressprom "github.com/redress-go/redress/instrument/prometheus"
)

func Example() {
	reg := prometheus.NewRegistry()
	sub, err := redressprom.New(redressprom.Config{Registerer: reg})
	if err != nil {
		panic(err)
	}
	policy, _ := core.NewPolicy(core.PolicyConfig{
		Name: "inventory", Bus: core.NewBus(sub),
		Sleeper: coretest.InstantSleeper{},
	})
	faults := coretest.FailTimes(2, core.Transient(errors.New("connection reset")))
	_ = policy.Run(context.Background(), faults.Op())

	n, _ := testutil.GatherAndCount(reg, "redress_retries_total")
	fmt.Println("retry series:", n)
	err = testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP redress_retries_total Retries scheduled.
# TYPE redress_retries_total counter
redress_retries_total{error_type="transient",redress_operation="inventory",redress_policy="inventory"} 2
`), "redress_retries_total")
	fmt.Println("compare:", err)
	// Output:
	// retry series: 1
	// compare: <nil>
}

// Declaring a policy makes its breaker and budget series exist before the
// first event, so dashboards and alerts see zeros instead of no data.
func ExampleSubscriber_Declare() {
	breaker, _ := core.NewBreaker(core.BreakerConfig{Name: "payments"})
	policy, _ := core.NewPolicy(core.PolicyConfig{Name: "payments", Breaker: breaker})

	reg := prometheus.NewRegistry()
	if _, err := redressprom.New(redressprom.Config{Registerer: reg, DeclarePolicies: []*core.Policy{policy}}); err != nil {
		panic(err)
	}
	err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP redress_circuit_breaker_state Circuit breaker state: 1 for the current state, 0 for the others.
# TYPE redress_circuit_breaker_state gauge
redress_circuit_breaker_state{redress_circuit_breaker_name="payments",redress_circuit_breaker_state="closed",redress_policy="payments"} 1
redress_circuit_breaker_state{redress_circuit_breaker_name="payments",redress_circuit_breaker_state="half_open",redress_policy="payments"} 0
redress_circuit_breaker_state{redress_circuit_breaker_name="payments",redress_circuit_breaker_state="open",redress_policy="payments"} 0
`), "redress_circuit_breaker_state")
	fmt.Println(err)
	// Output:
	// <nil>
}
