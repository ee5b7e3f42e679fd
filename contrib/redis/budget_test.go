package redressredis

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redress-go/redress/core"
	"github.com/redress-go/redress/core/coretest"
)

func TestNewBudgetRejectsBadConfig(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer c.Close()
	s, err := NewStore(StoreConfig{Client: c, ManualSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, tc := range []struct {
		name  string
		cfg   BudgetConfig
		field string
	}{
		{"no name", BudgetConfig{}, "BudgetConfig.Name"},
		{"negative lease", BudgetConfig{Name: "x", LeaseSize: -1}, "BudgetConfig.LeaseSize"},
		{"clock", BudgetConfig{Name: "x", Budget: core.BudgetConfig{Clock: core.SystemClock{}}}, "BudgetConfig.Budget.Clock"},
		{"short window", BudgetConfig{Name: "x", Budget: core.BudgetConfig{Window: 50 * time.Millisecond}}, "BudgetConfig.Budget.Window"},
		{"core's own check", BudgetConfig{Name: "x", Budget: core.BudgetConfig{MaxRetries: -1}}, "BudgetConfig.Budget.MaxRetries"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := NewBudget(s, tc.cfg)
			var ce *core.ConfigError
			if !errors.As(err, &ce) || ce.Field != tc.field {
				t.Fatalf("NewBudget = %v, %v; want a ConfigError naming %s", b, err, tc.field)
			}
		})
	}
	if _, err := NewBudget(nil, BudgetConfig{Name: "x"}); err == nil {
		t.Error("NewBudget(nil store) succeeded")
	}
}

// TestSharedBudgetRatioSumsTheFleet: two replicas with their own clients
// deposit 10 requests each; a ratio of 0.5 over the fleet's 20 lets exactly
// 10 retries through, shared between them.
func TestSharedBudgetRatioSumsTheFleet(t *testing.T) {
	c1, c2 := newClient(t), newClient(t)
	prefix := testPrefix(t, c1)
	var stores []*Store
	var budgets []*Budget
	for _, c := range []*redis.Client{c1, c2} {
		s, err := NewStore(StoreConfig{Client: c, Prefix: prefix, ManualSync: true, Timeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		b, err := NewBudget(s, BudgetConfig{Name: "payments", Budget: core.BudgetConfig{Ratio: 0.5, DisableFloor: true, Window: time.Minute}})
		if err != nil {
			t.Fatal(err)
		}
		for range 10 {
			b.Core().Deposit()
		}
		stores, budgets = append(stores, s), append(budgets, b)
	}
	ctx := context.Background()
	granted := 0
	for round := 0; round < 6; round++ {
		for i, s := range stores {
			if err := s.Sync(ctx); err != nil {
				t.Fatal(err)
			}
			for budgets[i].Core().TryWithdraw() {
				granted++
			}
		}
	}
	if granted != 10 {
		t.Errorf("the fleet was granted %d retries, want 0.5 × 20 deposits = 10", granted)
	}
	// The second replica's first sync already saw both deposits.
	if a, _, ok := (*budgetLease)(budgets[1]).Level(); !ok || a != 10 {
		t.Errorf("allowance seen by the second replica = %v (known %v), want 10", a, ok)
	}
	ttl, err := c1.PTTL(ctx, budgets[0].Key()).Result()
	if err != nil || ttl <= 0 || ttl > 2*time.Minute {
		t.Errorf("PTTL(%s) = %v, %v; want a TTL of at most twice the window", budgets[0].Key(), ttl, err)
	}
}

// TestSharedBudgetFourClientsBoundedOverspend is the lease slack bound: four
// replicas, each with its own client and pool, hammer a fixed budget of 100
// retries per window for three windows. In no interval of one window do
// they spend more than 100 + 4 × LeaseSize.
func TestSharedBudgetFourClientsBoundedOverspend(t *testing.T) {
	const (
		replicas = 4
		max      = 100
		lease    = 4
		window   = 500 * time.Millisecond
		run      = 3 * window
	)
	first := newClient(t)
	prefix := testPrefix(t, first)
	type spend struct{ at time.Duration }
	var (
		mu     sync.Mutex
		spends []time.Duration
		wg     sync.WaitGroup
	)
	start := time.Now()
	var stores []*Store
	for r := range replicas {
		c := first
		if r > 0 {
			c = newClient(t)
		}
		s, err := NewStore(StoreConfig{Client: c, Prefix: prefix, Timeout: time.Second, SyncInterval: 2 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		stores = append(stores, s)
		b, err := NewBudget(s, BudgetConfig{Name: "bound", LeaseSize: lease, Budget: core.BudgetConfig{MaxRetries: max, Window: window}})
		if err != nil {
			t.Fatal(err)
		}
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for time.Since(start) < run {
					if b.Core().TryWithdraw() {
						at := time.Since(start)
						mu.Lock()
						spends = append(spends, at)
						mu.Unlock()
					} else {
						time.Sleep(200 * time.Microsecond) // pacing the load, not waiting for an outcome
					}
				}
			}()
		}
	}
	wg.Wait()
	for _, s := range stores {
		if s.Degradations() != 0 {
			t.Fatalf("a store degraded (%v): the shared budget was not in charge", s.LastError())
		}
		s.Close()
	}
	slices.Sort(spends)
	bound := max + replicas*lease
	worst := 0
	for i, j := 0, 0; i < len(spends); i++ {
		for j < len(spends) && spends[j] < spends[i]+window {
			j++
		}
		worst = maxInt(worst, j-i)
	}
	t.Logf("%d retries in %v over %d windows; most in one window %d (budget %d, bound %d)", len(spends), run, int(run/window), worst, max, bound)
	if worst > bound {
		t.Errorf("%d retries within one window, beyond the bound %d + %d × %d", worst, max, replicas, lease)
	}
	if len(spends) <= max {
		t.Errorf("only %d retries in %d windows: the budget did not refill", len(spends), int(run/window))
	}
}

func maxInt(a, b int) int {
	if a > b {
		return a
	}
	return b
}

// TestSharedBudgetRefundReturnsToLease: a retry cancelled in its sleep
// gives its token back to the replica's lease.
func TestSharedBudgetRefundReturnsToLease(t *testing.T) {
	c := newClient(t)
	s, err := NewStore(StoreConfig{Client: c, Prefix: testPrefix(t, c), ManualSync: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	b, err := NewBudget(s, BudgetConfig{Name: "refund", Budget: core.BudgetConfig{MaxRetries: 10}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if b.Held() != DefaultLeaseSize {
		t.Fatalf("Held = %d after a sync, want %d", b.Held(), DefaultLeaseSize)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p, err := core.NewPolicy(core.PolicyConfig{Budget: b.Core(), Retry: core.RetryConfig{MaxAttempts: 3},
		Sleeper: sleeperFunc(func(ctx context.Context, _ time.Duration) error { cancel(); return ctx.Err() })})
	if err != nil {
		t.Fatal(err)
	}
	_ = p.Run(ctx, func(context.Context) error { return coretest.ClassErr(core.ClassTransient) })
	if b.Held() != DefaultLeaseSize {
		t.Errorf("Held = %d after a cancelled retry, want the token back: %d", b.Held(), DefaultLeaseSize)
	}
	// Held tokens count as spent in Redis but are still the fleet's to
	// spend: Remaining reports them.
	if got := b.Core().Remaining(); got != 10 {
		t.Errorf("Remaining = %v, want 10", got)
	}
}

type sleeperFunc func(context.Context, time.Duration) error

func (f sleeperFunc) Sleep(ctx context.Context, d time.Duration) error { return f(ctx, d) }
