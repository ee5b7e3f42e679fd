package main

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redress-go/redress/core"
)

// failedAttempts counts the attempts that ended with an error.
type failedAttempts struct{ n atomic.Int64 }

func (f *failedAttempts) Events() core.EventSet { return core.EventsOf(core.EventAttemptEnd) }
func (f *failedAttempts) Handle(_ context.Context, e core.Event) {
	if e.Err != nil {
		f.n.Add(1)
	}
}

// TestConcurrentOrdersDoNotCollide releases eight PlaceOrder transactions on
// the same item at once, several times: in a healthy phase none of their
// attempts may fail. (Deferred transactions that read and then write
// collided with SQLITE_BUSY and tripped the breaker in the healthy phase.)
func TestConcurrentOrdersDoNotCollide(t *testing.T) {
	sched, err := newSchedule("healthy", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	cur := &current{s: sched}
	failed := &failedAttempts{}
	u := &upstreams{}
	defer u.close()
	if err := u.startSQLite(cur, core.NewBus(failed), sched); err != nil {
		t.Fatal(err)
	}
	c := u.clients[0].(*sqlClient)
	const workers, rounds = 8, 5
	for range rounds {
		start := make(chan struct{})
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				<-start
				c.call(context.Background(), 0) // i = 0: a PlaceOrder transaction on item 0
			})
		}
		close(start)
		wg.Wait()
	}
	if n := failed.n.Load(); n != 0 {
		t.Errorf("%d attempts failed among %d concurrent orders", n, workers*rounds)
	}
	var orders int
	if err := c.db.QueryRowContext(context.Background(), `SELECT count(*) FROM orders`).Scan(&orders); err != nil {
		t.Fatal(err)
	}
	if orders != workers*rounds {
		t.Errorf("%d orders placed, want %d", orders, workers*rounds)
	}
}
