// Command redis-fleet shows two replicas of one service sharing resilience
// state through Redis (contrib/redis): a retry budget of 6 retries per
// window for the whole fleet, a limiter of 3 attempts per minute, and a
// Retry-After hold taken by one replica and honoured by the other. Each
// replica has its own store and its own client (its own connection pool),
// as two processes would. The stores sync by hand (ManualSync) so that the
// output is the same at every run; a service leaves their loop on.
//
//	$ go run ./examples/redis-fleet   # needs Redis on 127.0.0.1:6379 (REDIS_ADDR)
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/redis/go-redis/v9"

	redressredis "github.com/redress-go/redress/contrib/redis"
	"github.com/redress-go/redress/core"
)

func main() {
	addr := os.Getenv("REDIS_ADDR")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	prefix := fmt.Sprintf("redress-example-%d", time.Now().UnixNano())
	if err := run(context.Background(), addr, prefix, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// replica is one process of the fleet.
type replica struct {
	name    string
	client  *redis.Client
	store   *redressredis.Store
	budget  *redressredis.Budget
	limiter *redressredis.Limiter
	holds   *redressredis.HoldGate
	breaker *core.Breaker
	retrier *core.Policy // shared budget
	limited *core.Policy // shared limiter
	held    *core.Policy // breaker whose holds are shared
}

func newReplica(name, addr, prefix string) (*replica, error) {
	r := &replica{name: name, client: redis.NewClient(&redis.Options{Addr: addr})}
	var err error
	if r.store, err = redressredis.NewStore(redressredis.StoreConfig{Client: r.client, Prefix: prefix, Timeout: time.Second, ManualSync: true}); err != nil {
		return nil, err
	}
	if r.budget, err = redressredis.NewBudget(r.store, redressredis.BudgetConfig{Name: "inventory", LeaseSize: 2,
		Budget: core.BudgetConfig{MaxRetries: 6, Window: time.Minute}}); err != nil {
		return nil, err
	}
	if r.limiter, err = redressredis.NewLimiter(r.store, redressredis.LimiterConfig{Name: "search", Rate: 3, Per: time.Minute, Burst: 3}); err != nil {
		return nil, err
	}
	if r.holds, err = redressredis.NewHoldGate(r.store); err != nil {
		return nil, err
	}
	if r.breaker, err = core.NewBreaker(core.BreakerConfig{Name: "payments"}); err != nil {
		return nil, err
	}
	r.holds.ShareBreaker("payments.example.com", r.breaker)
	instant := sleeperFunc(func(ctx context.Context, _ time.Duration) error { return ctx.Err() })
	if r.retrier, err = core.NewPolicy(core.PolicyConfig{Name: "inventory", Budget: r.budget.Core(), Sleeper: instant, Retry: core.RetryConfig{MaxAttempts: 3}}); err != nil {
		return nil, err
	}
	if r.limited, err = core.NewPolicy(core.PolicyConfig{Name: "search", Limiter: r.limiter}); err != nil {
		return nil, err
	}
	if r.held, err = core.NewPolicy(core.PolicyConfig{Name: "payments", Breaker: r.breaker}); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *replica) close() {
	r.store.Close()
	r.client.Close()
}

type sleeperFunc func(context.Context, time.Duration) error

func (f sleeperFunc) Sleep(ctx context.Context, d time.Duration) error { return f(ctx, d) }

var errDown = errors.New("inventory: 503 Service Unavailable")

func run(ctx context.Context, addr, prefix string, w io.Writer) error {
	a, err := newReplica("A", addr, prefix)
	if err != nil {
		return err
	}
	defer a.close()
	b, err := newReplica("B", addr, prefix)
	if err != nil {
		return err
	}
	defer b.close()
	if err := a.client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis at %s: %w", addr, err)
	}
	fleet := []*replica{a, b}

	fmt.Fprintln(w, "== retry budget: 6 retries per minute for the fleet; inventory is down")
	retries := 0
	for round := 1; round <= 3; round++ {
		for _, r := range fleet {
			if err := r.store.Sync(ctx); err != nil {
				return err
			}
			attempts := 0
			err := r.retrier.Run(ctx, func(context.Context) error { attempts++; return core.Classify(errDown, core.Classification{Class: core.ClassServerError}) })
			stop, _ := core.StopReasonOf(err)
			retries += attempts - 1
			fmt.Fprintf(w, "round %d replica %s: %d attempts, stopped: %s (lease holds %d)\n", round, r.name, attempts, stop, r.budget.Held())
		}
	}
	fmt.Fprintf(w, "fleet retries: %d\n", retries)

	fmt.Fprintln(w, "== limiter: 3 attempts per minute for the fleet")
	admitted := 0
	for round := 1; round <= 2; round++ {
		for _, r := range fleet {
			if err := r.store.Sync(ctx); err != nil {
				return err
			}
			for call := 1; call <= 2; call++ {
				err := r.limited.Run(ctx, func(context.Context) error { return nil })
				outcome := "sent"
				if err != nil {
					stop, _ := core.StopReasonOf(err)
					outcome = "refused: " + stop.String()
				} else {
					admitted++
				}
				fmt.Fprintf(w, "round %d replica %s call %d: %s\n", round, r.name, call, outcome)
			}
		}
	}
	fmt.Fprintf(w, "fleet attempts sent: %d\n", admitted)

	fmt.Fprintln(w, "== Retry-After: payments answered replica A with 429, Retry-After: 30")
	a.breaker.Hold(30 * time.Second)
	for _, r := range fleet {
		if err := r.store.Sync(ctx); err != nil {
			return err
		}
	}
	for _, r := range fleet {
		sent := false
		err := r.held.Run(ctx, func(context.Context) error { sent = true; return nil })
		var he *core.HeldError
		if errors.As(err, &he) {
			fmt.Fprintf(w, "replica %s: refused locally, held (%ds more), sent: %v\n", r.name, (he.RetryIn+time.Second-1)/time.Second, sent)
		} else {
			fmt.Fprintf(w, "replica %s: %v, sent: %v\n", r.name, err, sent)
		}
	}
	for _, r := range fleet {
		fmt.Fprintf(w, "replica %s: degraded %v\n", r.name, r.store.Degraded())
	}
	return cleanup(ctx, a.client, prefix)
}

// cleanup deletes the example's keys (they would expire on their own).
func cleanup(ctx context.Context, c *redis.Client, prefix string) error {
	keys, err := c.Keys(ctx, prefix+":*").Result()
	if err != nil || len(keys) == 0 {
		return err
	}
	return c.Del(ctx, keys...).Err()
}
