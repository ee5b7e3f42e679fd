package core

import (
	"github.com/redress-go/redress/internal/shard"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// BudgetConfig configures NewBudget. The zero value is a ratio budget with
// the defaults below (the Finagle design).
type BudgetConfig struct {
	// Ratio is the share of recent requests that may be retried: 0.2 lets
	// one retry through for every five requests within Window. Must be in
	// [0, 1]. Not allowed with MaxRetries. Default: an adaptive budget
	// (Adaptive) of ratio 0.5.
	Ratio float64
	// Adaptive scales Ratio with the downstream's health, read from the
	// attempts the budget's policies report over the last fifth of Window
	// (2s by default): the whole Ratio
	// while at least 70% of the attempts succeed, none at or below 40%
	// (only the floor remains), linearly between. Retries then flow freely
	// through a partial failure (30% of attempts failing at random are all
	// retried) and stop when the downstream is down. A failure counts
	// against the downstream's health when its class is transient, server
	// error, rate limit or unknown; the downstream answered the others.
	// It is the default when neither Ratio nor MaxRetries is set; with an
	// explicit Ratio it must be asked for. Not allowed with MaxRetries.
	Adaptive bool
	// MinRetriesPerSecond is the floor that lets a low-traffic client retry
	// at all: MinRetriesPerSecond × Window seconds retries are always
	// allowed within Window. Default 10 (zero means the default: use
	// DisableFloor for none). Not allowed with MaxRetries.
	MinRetriesPerSecond float64
	// DisableFloor removes the floor: retries are then only Ratio of the
	// recent requests. Not allowed with MinRetriesPerSecond or MaxRetries.
	DisableFloor bool
	// MaxRetries, when set, makes a fixed budget instead: at most
	// MaxRetries retries within any Window, whatever the traffic. A
	// retry's token is counted for at least Window and at most 1.1 ×
	// Window (the window moves in tenths), so a budget spent at once
	// allows the next retry between Window and 1.1 × Window later.
	MaxRetries int
	// Window is the rolling window. Default 10s.
	Window time.Duration
	// Clock tells the time. Default SystemClock.
	Clock Clock
	// Lease, when set, grants the budget's retries from an allowance
	// shared with other processes (contrib/redis) instead of the budget's
	// own window, whenever it can decide without waiting; when it cannot
	// (the shared state is out of reach) the budget decides on its own
	// window, which counts every retry either way. Deposits and failed
	// attempts are counted as without a lease; the lease reads them with
	// Traffic. nil: the budget decides alone.
	Lease BudgetLease
}

// BudgetLease is a source of retry tokens shared beyond one process, held
// by a Budget (BudgetConfig.Lease). Its methods are called with the
// budget's mutex held: they must not block, and must not call back into
// the budget.
type BudgetLease interface {
	// Take asks for the token of one retry. decided false leaves the
	// decision to the budget's own window; otherwise ok says whether the
	// token is granted, and remaining is the number of retries the shared
	// allowance still holds afterwards, as far as the lease knows.
	Take() (ok, decided bool, remaining float64)
	// Return gives back a token Take granted, for a retry that was not
	// made after all.
	Return()
	// Level returns the shared allowance and the retries counted against
	// it, as last known; known false when the lease knows nothing (the
	// budget then reports its own window).
	Level() (allowance, used float64, known bool)
}

// budgetBuckets is the number of tenths of Window a ratio budget sums; a
// fixed budget sums one more (the partly elapsed oldest one), so that no
// interval of length Window can hold more than MaxRetries grants.
const budgetBuckets = 10

type budgetBucket struct {
	epoch    int64
	requests int64
	retries  int64
	failures int64 // failed attempts against the downstream's health (Adaptive)
}

// Budget caps retries across every policy and goroutine that shares it, so
// that an outage does not turn into a retry storm. A denied retry stops the
// call with StopBudgetExhausted. A token taken for a retry that is then not
// made (the caller cancelled during the backoff sleep, or the sleep handler
// aborted it) is given back. A Budget is safe for concurrent use.
//
// Deposit (one per logical request) and Failed (one per failed attempt)
// are a single atomic add each and read no clock; the window is only read
// and updated, under a mutex, when a retry asks for a token or its state
// is read.
type Budget struct {
	ratio    float64
	adaptive bool
	floor    float64 // retries always allowed per window
	fixed    int64
	window   time.Duration
	width    int64
	clock    Clock
	system   bool // clock is SystemClock: now reads the monotonic clock only
	epoch    time.Time
	pending  [shard.N]budgetShard // deposits and failures not yet folded, spread over shard.N cache lines
	denied   atomic.Uint64
	lease    BudgetLease
	mu       sync.Mutex
	buckets  [budgetBuckets + 1]budgetBucket
	lastFold int64
	// totals of the deposits and failed attempts folded so far (Traffic)
	totalReq, totalFail int64
}

// budgetShard holds the deposits and failed attempts not yet folded into
// the window, on a cache line of its own.
type budgetShard struct {
	requests atomic.Int64
	failures atomic.Int64
	_        [48]byte
}

// NewBudget returns a budget, or a *ConfigError naming the first invalid field.
func NewBudget(cfg BudgetConfig) (*Budget, error) {
	if cfg.MaxRetries < 0 {
		return nil, cfgErr("BudgetConfig.MaxRetries", "must not be negative")
	}
	if cfg.MaxRetries > 0 && (cfg.Ratio != 0 || cfg.MinRetriesPerSecond != 0 || cfg.DisableFloor || cfg.Adaptive) {
		return nil, cfgErr("BudgetConfig.MaxRetries", "cannot be combined with Ratio, Adaptive, MinRetriesPerSecond or DisableFloor")
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
			cfg.Ratio, cfg.Adaptive = 0.5, true
		}
		if cfg.MinRetriesPerSecond == 0 && !cfg.DisableFloor {
			cfg.MinRetriesPerSecond = 10
		}
	}
	if cfg.Clock != nil && isNil(cfg.Clock) {
		return nil, cfgErr("BudgetConfig.Clock", "holds a nil pointer (leave it nil for SystemClock)")
	}
	if cfg.Clock == nil {
		cfg.Clock = SystemClock{}
	}
	if cfg.Lease != nil && isNil(cfg.Lease) {
		return nil, cfgErr("BudgetConfig.Lease", "holds a nil pointer (leave it nil for none)")
	}
	b := &Budget{
		lease:    cfg.Lease,
		ratio:    cfg.Ratio,
		adaptive: cfg.Adaptive,
		floor:    cfg.MinRetriesPerSecond * cfg.Window.Seconds(),
		fixed:    int64(cfg.MaxRetries),
		window:   cfg.Window,
		width:    int64(cfg.Window) / budgetBuckets,
		clock:    cfg.Clock,
	}
	_, b.system = cfg.Clock.(SystemClock)
	b.epoch = cfg.Clock.Now()
	return b, nil
}

// Deposit records one logical request. Policies call it once per call.
func (b *Budget) Deposit() { b.pending[shard.Index()].requests.Add(1) }

// paddedCount is a counter on a cache line of its own.
type paddedCount struct {
	n atomic.Int64
	_ [56]byte
}

// now returns the time since the budget's epoch in ns. With SystemClock it
// reads only the monotonic clock (time.Since), which costs about half of
// time.Now; the result is the same, as Sub uses the monotonic readings.
func (b *Budget) now() int64 {
	if b.system {
		return int64(time.Since(b.epoch))
	}
	return int64(b.clock.Now().Sub(b.epoch))
}

// TryWithdraw asks for one retry token now: shorthand for
// TryWithdrawAt(clock.Now()).
func (b *Budget) TryWithdraw() bool {
	ok, _ := b.withdrawAt(b.now())
	return ok
}

// TryWithdrawAt asks for one retry token at time now, and returns whether it
// was granted and how many retries the budget still allows afterwards.
func (b *Budget) TryWithdrawAt(now time.Time) (ok bool, remaining float64) {
	return b.withdrawAt(int64(now.Sub(b.epoch)))
}

// withdraw is TryWithdraw for a policy: it also returns the time of the
// grant (ns since the epoch), which refund takes back.
func (b *Budget) withdraw() (ok bool, remaining float64, at int64) {
	at = b.now()
	ok, remaining, leased := b.withdrawAtLease(at)
	if leased {
		at = leaseToken
	}
	return ok, remaining, at
}

// leaseToken is the grant time withdraw returns for a token that came
// from the lease: refund gives it back to the lease (the window, which
// decides only when the lease cannot, keeps counting it).
const leaseToken = math.MinInt64

// withdrawAt asks for a token at t, ns since the epoch.
func (b *Budget) withdrawAt(t int64) (ok bool, remaining float64) {
	ok, remaining, _ = b.withdrawAtLease(t)
	return ok, remaining
}

// withdrawAtLease is withdrawAt; leased reports a token the lease granted.
func (b *Budget) withdrawAtLease(t int64) (ok bool, remaining float64, leased bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.fold(t)
	if b.lease != nil {
		if ok, decided, rem := b.lease.Take(); decided {
			if !ok {
				b.denied.Add(1)
				return false, rem, false
			}
			b.bucket(t).retries++ // the window counts it, for when the lease cannot decide
			return true, rem, true
		}
	}
	allowance, used := b.level(t)
	if used+1 > allowance {
		b.denied.Add(1)
		return false, math.Max(0, allowance-used), false
	}
	b.bucket(t).retries++
	return true, math.Max(0, allowance-used-1), false
}

// refund gives back a token granted at t (ns since the epoch) for a retry
// that was never made (its sleep was cancelled or aborted). A token whose
// bucket has left the window is not counted any more: nothing to give back.
func (b *Budget) refund(t int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if t == leaseToken {
		b.lease.Return()
		return
	}
	e := t / b.width
	if bk := &b.buckets[int(uint64(e)%uint64(len(b.buckets)))]; bk.epoch == e && bk.retries > 0 {
		bk.retries--
	}
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
	t := b.now()
	b.mu.Lock()
	defer b.mu.Unlock()
	b.fold(t)
	if b.lease != nil {
		if a, u, ok := b.lease.Level(); ok {
			return a, u
		}
	}
	return b.level(t)
}

// Traffic returns the deposits (logical requests) and the failed attempts
// against the downstream's health (adaptive budgets only) counted so far,
// since the budget was made. A BudgetLease reads it to share them.
func (b *Budget) Traffic() (requests, failures int64) {
	t := b.now()
	b.mu.Lock()
	defer b.mu.Unlock()
	b.fold(t)
	return b.totalReq, b.totalFail
}

// level sums the window, and for an adaptive budget the health of its
// newest healthBuckets buckets in the same pass; b.mu must be held.
func (b *Budget) level(t int64) (allowance, used float64) {
	cur := t / b.width
	span := int64(budgetBuckets)
	if b.fixed > 0 {
		span++
	}
	var req, ret, hreq, hret, hfail int64
	for i := range b.buckets {
		bk := &b.buckets[i]
		if bk.epoch > cur-span && bk.epoch <= cur {
			req += bk.requests
			ret += bk.retries
			if bk.epoch > cur-healthBuckets {
				hreq += bk.requests
				hret += bk.retries
				hfail += bk.failures
			}
		}
	}
	if b.fixed > 0 {
		return float64(b.fixed), float64(ret)
	}
	return b.floor + b.ratio*b.health(hreq, hret, hfail)*float64(req), float64(ret)
}

// healthBuckets is how many of the newest tenths of Window an adaptive
// budget reads the downstream's health from: the current one and the one
// before, so that the health follows an outage within a fifth of Window
// (2s by default) rather than the whole window's history.
const healthBuckets = 2

// recentHealth is health over the newest healthBuckets buckets up to cur;
// b.mu must be held.
func (b *Budget) recentHealth(cur int64) float64 {
	var req, ret, fail int64
	for i := range b.buckets {
		bk := &b.buckets[i]
		if bk.epoch > cur-healthBuckets && bk.epoch <= cur {
			req += bk.requests
			ret += bk.retries
			fail += bk.failures
		}
	}
	return b.health(req, ret, fail)
}

// Adaptive budgets: the share of the ratio allowed at a success share of
// attempts, from none at healthLow to all at healthHigh.
const (
	healthLow  = 0.4
	healthHigh = 0.7
)

// health is the share of the ratio an adaptive budget allows, given the
// window's requests, retries and failed attempts (1 for a static budget).
func (b *Budget) health(req, ret, fail int64) float64 {
	attempts := req + ret
	if !b.adaptive || attempts <= 0 {
		return 1
	}
	ok := 1 - float64(fail)/float64(attempts)
	return math.Min(1, math.Max(0, (ok-healthLow)/(healthHigh-healthLow)))
}

// Health returns the share of its ratio an adaptive budget allows now,
// from the success share of the attempts of the last fifth of Window (1
// for a static or fixed budget).
func (b *Budget) Health() float64 {
	if !b.adaptive {
		return 1
	}
	t := b.now()
	b.mu.Lock()
	defer b.mu.Unlock()
	b.fold(t)
	return b.recentHealth(t / b.width)
}

// Failed records an attempt that failed against the downstream's health
// (an adaptive budget scales its ratio with it). Policies call it for
// their failed attempts; a standalone user of an adaptive budget calls it
// too. It does nothing for a static or fixed budget.
//
// Like Deposit it is one atomic add and reads no clock: the failure is
// counted at the budget's next withdrawal or read (TryWithdraw, Remaining,
// Utilization, Health), together with the deposits made since the one
// before. A policy asks for the token of a retry right after the failed
// attempt, so its failures are counted at once.
func (b *Budget) Failed() {
	if !b.adaptive {
		return
	}
	b.pending[shard.Index()].failures.Add(1)
}

// bucket returns the bucket for t; b.mu must be held.
func (b *Budget) bucket(t int64) *budgetBucket {
	e := t / b.width
	bk := &b.buckets[int(uint64(e)%uint64(len(b.buckets)))]
	if bk.epoch != e {
		*bk = budgetBucket{epoch: e}
	}
	return bk
}

// fold moves the pending deposits and failures into the window's bucket
// of t; when the last fold is older than the window, only the window's
// share of them counts (they are taken as spread evenly since). b.mu must
// be held.
func (b *Budget) fold(t int64) {
	var req, fail int64
	for i := range b.pending {
		sh := &b.pending[i]
		// A load first: most shards are empty, and a swap would take
		// each one's cache line for writing.
		if sh.requests.Load() != 0 {
			req += sh.requests.Swap(0)
		}
		if sh.failures.Load() != 0 {
			fail += sh.failures.Swap(0)
		}
	}
	if req > 0 || fail > 0 {
		b.totalReq += req
		b.totalFail += fail
		if dt := t - b.lastFold; dt > int64(b.window) {
			share := float64(b.window) / float64(dt)
			req, fail = int64(float64(req)*share), int64(float64(fail)*share)
		}
		bk := b.bucket(t)
		bk.requests += req
		bk.failures += fail
	}
	b.lastFold = t
}
