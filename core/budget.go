package core

import (
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// BudgetConfig configures NewBudget. The zero value is a ratio budget with
// the defaults below (the Finagle design).
type BudgetConfig struct {
	// Ratio is the share of recent requests that may be retried: 0.2 lets
	// one retry through for every five requests within Window. Default 0.2.
	// Must be in [0, 1]. Not allowed with MaxRetries.
	Ratio float64
	// MinRetriesPerSecond is the floor that lets a low-traffic client retry
	// at all: MinRetriesPerSecond × Window seconds retries are always
	// allowed within Window. Default 10 (zero means the default: use
	// DisableFloor for none). Not allowed with MaxRetries.
	MinRetriesPerSecond float64
	// DisableFloor removes the floor: retries are then only Ratio of the
	// recent requests. Not allowed with MinRetriesPerSecond or MaxRetries.
	DisableFloor bool
	// MaxRetries, when set, makes a fixed budget instead: at
	// most MaxRetries retries within any Window, whatever the traffic.
	MaxRetries int
	// Window is the rolling window. Default 10s.
	Window time.Duration
	// Clock tells the time. Default SystemClock.
	Clock Clock
}

const budgetBuckets = 10

type budgetBucket struct {
	epoch    int64
	requests int64
	retries  int64
}

// Budget caps retries across every policy and goroutine that shares it, so
// that an outage does not turn into a retry storm. A denied retry stops the
// call with StopBudgetExhausted. A Budget is safe for concurrent use.
//
// Deposit (one per logical request) is a single atomic add; the window is
// only read and updated, under a mutex, when a retry asks for a token.
type Budget struct {
	ratio    float64
	floor    float64 // retries always allowed per window
	fixed    int64
	window   time.Duration
	width    int64
	clock    Clock
	epoch    time.Time
	pending  [8]paddedCount
	denied   atomic.Uint64
	mu       sync.Mutex
	buckets  [budgetBuckets]budgetBucket
	lastFold int64
}

// NewBudget returns a budget, or a *ConfigError naming the first invalid field.
func NewBudget(cfg BudgetConfig) (*Budget, error) {
	if cfg.MaxRetries < 0 {
		return nil, cfgErr("BudgetConfig.MaxRetries", "must not be negative")
	}
	if cfg.MaxRetries > 0 && (cfg.Ratio != 0 || cfg.MinRetriesPerSecond != 0 || cfg.DisableFloor) {
		return nil, cfgErr("BudgetConfig.MaxRetries", "cannot be combined with Ratio, MinRetriesPerSecond or DisableFloor")
	}
	if cfg.DisableFloor && cfg.MinRetriesPerSecond != 0 {
		return nil, cfgErr("BudgetConfig.DisableFloor", "cannot be combined with MinRetriesPerSecond")
	}
	if !(cfg.Ratio >= 0 && cfg.Ratio <= 1) {
		return nil, cfgErr("BudgetConfig.Ratio", "must be in [0, 1]")
	}
	if !(cfg.MinRetriesPerSecond >= 0) || math.IsInf(cfg.MinRetriesPerSecond, 0) {
		return nil, cfgErr("BudgetConfig.MinRetriesPerSecond", "must be a finite number >= 0")
	}
	if cfg.Window < 0 {
		return nil, cfgErr("BudgetConfig.Window", "must not be negative")
	}
	if cfg.Window == 0 {
		cfg.Window = 10 * time.Second
	}
	if cfg.Window < budgetBuckets {
		return nil, cfgErr("BudgetConfig.Window", "must be at least 10ns")
	}
	if cfg.MaxRetries == 0 {
		if cfg.Ratio == 0 {
			cfg.Ratio = 0.2
		}
		if cfg.MinRetriesPerSecond == 0 && !cfg.DisableFloor {
			cfg.MinRetriesPerSecond = 10
		}
	}
	if cfg.Clock == nil {
		cfg.Clock = SystemClock{}
	}
	b := &Budget{
		ratio:  cfg.Ratio,
		floor:  cfg.MinRetriesPerSecond * cfg.Window.Seconds(),
		fixed:  int64(cfg.MaxRetries),
		window: cfg.Window,
		width:  int64(cfg.Window) / budgetBuckets,
		clock:  cfg.Clock,
	}
	b.epoch = cfg.Clock.Now()
	return b, nil
}

// Deposit records one logical request. Policies call it once per call.
func (b *Budget) Deposit() { b.pending[rand.Uint32()&7].n.Add(1) }

type paddedCount struct {
	n atomic.Int64
	_ [56]byte
}

// TryWithdraw asks for one retry token now: shorthand for
// TryWithdrawAt(clock.Now()).
func (b *Budget) TryWithdraw() bool {
	ok, _ := b.TryWithdrawAt(b.clock.Now())
	return ok
}

// TryWithdrawAt asks for one retry token at time now, and returns whether it
// was granted and how many retries the budget still allows afterwards.
func (b *Budget) TryWithdrawAt(now time.Time) (ok bool, remaining float64) {
	t := int64(now.Sub(b.epoch))
	b.mu.Lock()
	defer b.mu.Unlock()
	b.fold(t)
	allowance, used := b.level(t)
	if used+1 > allowance {
		b.denied.Add(1)
		return false, math.Max(0, allowance-used)
	}
	b.bucket(t).retries++
	return true, math.Max(0, allowance-used-1)
}

// Remaining returns the number of retries the budget allows now.
func (b *Budget) Remaining() float64 {
	a, u := b.snapshot()
	return math.Max(0, a-u)
}

// Utilization returns the share of the budget in use now, in [0, 1].
func (b *Budget) Utilization() float64 {
	a, u := b.snapshot()
	if a <= 0 {
		return 1
	}
	return math.Min(1, u/a)
}

// Denied returns the number of retries refused so far.
func (b *Budget) Denied() uint64 { return b.denied.Load() }

func (b *Budget) snapshot() (allowance, used float64) {
	t := int64(b.clock.Now().Sub(b.epoch))
	b.mu.Lock()
	defer b.mu.Unlock()
	b.fold(t)
	return b.level(t)
}

// level sums the window; b.mu must be held.
func (b *Budget) level(t int64) (allowance, used float64) {
	cur := t / b.width
	var req, ret int64
	for i := range b.buckets {
		bk := &b.buckets[i]
		if bk.epoch > cur-budgetBuckets && bk.epoch <= cur {
			req += bk.requests
			ret += bk.retries
		}
	}
	if b.fixed > 0 {
		return float64(b.fixed), float64(ret)
	}
	return b.floor + b.ratio*float64(req), float64(ret)
}

// bucket returns the bucket for t; b.mu must be held.
func (b *Budget) bucket(t int64) *budgetBucket {
	e := t / b.width
	bk := &b.buckets[int(uint64(e)%budgetBuckets)]
	if bk.epoch != e {
		*bk = budgetBucket{epoch: e}
	}
	return bk
}

// fold moves pending deposits into the window, spread evenly since the last
// fold (only the share that falls within the window counts); b.mu must be held.
func (b *Budget) fold(t int64) {
	var n int64
	for i := range b.pending {
		n += b.pending[i].n.Swap(0)
	}
	if n > 0 {
		if dt := t - b.lastFold; dt > int64(b.window) {
			n = int64(float64(n) * float64(b.window) / float64(dt))
		}
		b.bucket(t).requests += n
	}
	b.lastFold = t
}
