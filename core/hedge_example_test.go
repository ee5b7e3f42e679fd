package core_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/redress-go/redress/core"
)

// A hedged read: the first copy hangs, so after 10ms a hedge is sent beside
// it; the hedge answers, the first copy is cancelled, and the bus hears
// hedge then hedge_won. The retry budget pays for the hedge.
func ExampleNewHedger() {
	h, err := core.NewHedger(core.HedgeConfig{Delay: 10 * time.Millisecond, MaxHedges: 1})
	if err != nil {
		panic(err)
	}
	budget, err := core.NewBudget(core.BudgetConfig{Ratio: 0.1})
	if err != nil {
		panic(err)
	}
	bus := core.NewBus(hedgePrinter{})
	p, err := core.NewPolicy(core.PolicyConfig{Name: "profile", Hedge: h, Budget: budget, Bus: bus})
	if err != nil {
		panic(err)
	}
	var copies atomic.Int32
	v, err := core.Do(context.Background(), p, func(ctx context.Context) (string, error) {
		if copies.Add(1) == 1 {
			<-ctx.Done() // the slow replica: cancelled when the hedge wins
			return "", ctx.Err()
		}
		return "from the hedge", nil
	})
	fmt.Println(v, err)
	// Output:
	// hedge 1
	// hedge_won 1
	// from the hedge <nil>
}

// hedgePrinter prints the hedge events.
type hedgePrinter struct{}

func (hedgePrinter) Events() core.EventSet { return core.EventsOf(core.EventHedge, core.EventHedgeWon) }

func (hedgePrinter) Handle(_ context.Context, e core.Event) { fmt.Println(e.Kind, e.Hedge) }
