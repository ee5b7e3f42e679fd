package redisbench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redress-go/redress/contrib/redis"
	"github.com/redress-go/redress/core"
	"github.com/redress-go/redress/internal/testenv"
)

var errFlaky = errors.New("flaky: try again")

// budgets returns the two budgets measured: the local one, and a shared
// one whose lease covers what a call rate of millions per second spends
// while the store's loop waits for a CPU on a loaded machine (a retry the
// lease cannot cover is denied, and counted in denied/op). Both are fixed
// budgets too large to run out.
func budgets(b *testing.B) map[string]*core.Budget {
	addr := testenv.Env("REDRESS_REDIS_ADDR", "127.0.0.1:6379")
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	b.Cleanup(func() { c.Close() })
	if err := c.Ping(context.Background()).Err(); err != nil {
		testenv.Missing(b, "Redis at "+addr+" (REDRESS_REDIS_ADDR)", err)
	}
	prefix := fmt.Sprintf("redressbench-%d-%d", os.Getpid(), time.Now().UnixNano())
	s, err := redressredis.NewStore(redressredis.StoreConfig{Client: c, Prefix: prefix, Timeout: time.Second})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		s.Close()
		keys, _ := c.Keys(context.Background(), prefix+":*").Result()
		if len(keys) > 0 {
			c.Del(context.Background(), keys...)
		}
	})
	cfg := core.BudgetConfig{MaxRetries: 1 << 40, Window: 10 * time.Second}
	shared, err := redressredis.NewBudget(s, redressredis.BudgetConfig{Name: "bench", Budget: cfg, LeaseSize: 1 << 20})
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; shared.Held() == 0; i++ { // wait for the first lease
		if i == 5000 {
			b.Fatal("no lease after 5s")
		}
		time.Sleep(time.Millisecond)
	}
	local, err := core.NewBudget(cfg)
	if err != nil {
		b.Fatal(err)
	}
	return map[string]*core.Budget{"local": local, "redis": shared.Core()}
}

func bench(b *testing.B, failOnce bool) {
	bs := budgets(b)
	for _, name := range []string{"local", "redis", "local-again", "redis-again"} {
		budget := bs[name[:5]]
		b.Run(name, func(b *testing.B) {
			p, err := core.NewPolicy(core.PolicyConfig{Budget: budget, Retry: core.RetryConfig{MaxAttempts: 3, Strategy: core.Constant(0)}})
			if err != nil {
				b.Fatal(err)
			}
			left := 0
			fn := func(context.Context) (int, error) {
				if left > 0 {
					left--
					return 0, errFlaky
				}
				return 1, nil
			}
			ctx := context.Background()
			denied := 0
			b.ReportAllocs()
			for b.Loop() {
				if failOnce {
					left = 1
				}
				if _, err := core.Do(ctx, p, fn); err != nil {
					if r, _ := core.StopReasonOf(err); r != core.StopBudgetExhausted {
						b.Fatal(err)
					}
					denied++ // the lease ran dry before the loop refilled it
				}
			}
			b.ReportMetric(float64(denied)/float64(b.N), "denied/op")
		})
	}
}

// BenchmarkBudgetSuccess: a call that succeeds at once (one deposit).
func BenchmarkBudgetSuccess(b *testing.B) { bench(b, false) }

// BenchmarkBudgetFailOnce: a call that fails once and then succeeds (a
// deposit and a retry token).
func BenchmarkBudgetFailOnce(b *testing.B) { bench(b, true) }
