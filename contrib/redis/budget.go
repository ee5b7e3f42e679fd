package redressredis

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redress-go/redress/core"
)

// BudgetConfig configures NewBudget.
type BudgetConfig struct {
	// Name names the budget: every replica whose store has the same
	// Prefix and that makes a budget of this Name draws from the same
	// allowance, kept at "<prefix>:budget:{<Name>}". Use one per
	// downstream. Required.
	Name string
	// Budget is the fleet-wide budget, with the fields and defaults of
	// core.BudgetConfig (Ratio, Adaptive, MinRetriesPerSecond,
	// DisableFloor, MaxRetries, Window), applied to the requests of every
	// replica together: MaxRetries 100 allows 100 retries per Window to the
	// whole fleet. Window is counted in milliseconds and must be at least
	// 100ms. Clock and Lease must not be set. While the store is degraded,
	// each replica applies this budget to its own traffic alone.
	Budget core.BudgetConfig
	// LeaseSize is the most retry tokens a replica holds ahead of use, so
	// that a retry never waits for Redis. The fleet can over-spend its
	// budget by at most LeaseSize per replica over a Window (the tokens a
	// replica held when the Window began); a replica whose lease runs dry
	// denies retries until its next refill, at most SyncInterval later (a
	// lease at half its size wakes the loop at once). Default 4.
	LeaseSize int
}

// DefaultLeaseSize is the default BudgetConfig.LeaseSize.
const DefaultLeaseSize = 4

// Budget is a retry budget shared by every replica through Redis. Give
// Core to core.PolicyConfig.Budget (or to a wrapper's policy): the policy
// deposits, withdraws and refunds as with a local budget, and never waits
// for Redis.
//
// A replica holds a lease of at most LeaseSize tokens, refilled by the
// store's loop from the shared window in one Lua script, which also adds
// the deposits and failed attempts the replica counted since its last
// sync. A token is counted as spent in Redis when it is leased, so the
// shared window never grants more than the budget; the over-spend is
// bounded by the tokens replicas hold across a window's edge: at most
// replicas × LeaseSize in any Window.
//
// A Budget is safe for concurrent use.
type Budget struct {
	name   string
	store  *Store
	key    string
	core   *core.Budget
	size   int64
	args   budgetArgs
	detach func()

	held     atomic.Int64  // tokens in hand; only the loop adds, Take and Return move them
	leftBits atomic.Uint64 // float64: allowance - used at the last sync

	mu                sync.Mutex // guards the fields below, written by the loop
	allowance, used   float64
	known             bool
	sentReq, sentFail int64
	grants            uint64
	synced            bool // a sync succeeded once
}

type budgetArgs struct {
	widthMs  int64
	fixed    int64
	floor    float64
	ratio    float64
	adaptive bool
	ttlMs    int64
}

// NewBudget returns a shared budget whose state the store's loop syncs, or
// a *core.ConfigError naming the first invalid field.
func NewBudget(s *Store, cfg BudgetConfig) (*Budget, error) {
	if s == nil {
		return nil, &core.ConfigError{Field: "store", Reason: "is required"}
	}
	if cfg.Name == "" {
		return nil, &core.ConfigError{Field: "BudgetConfig.Name", Reason: "is required"}
	}
	if cfg.LeaseSize < 0 {
		return nil, &core.ConfigError{Field: "BudgetConfig.LeaseSize", Reason: "must not be negative"}
	}
	if cfg.LeaseSize == 0 {
		cfg.LeaseSize = DefaultLeaseSize
	}
	bc := cfg.Budget
	if bc.Clock != nil {
		return nil, &core.ConfigError{Field: "BudgetConfig.Budget.Clock", Reason: "must not be set (the shared window runs on Redis's clock)"}
	}
	if bc.Lease != nil {
		return nil, &core.ConfigError{Field: "BudgetConfig.Budget.Lease", Reason: "must not be set (the shared budget is the lease)"}
	}
	if bc.Window == 0 {
		bc.Window = 10 * time.Second
	}
	if bc.Window > 0 && bc.Window < 100*time.Millisecond {
		return nil, &core.ConfigError{Field: "BudgetConfig.Budget.Window", Reason: "must be at least 100ms for a shared budget"}
	}
	b := &Budget{name: cfg.Name, store: s, key: s.Key("budget", cfg.Name), size: int64(cfg.LeaseSize)}
	bc.Lease = (*budgetLease)(b)
	cb, err := core.NewBudget(bc)
	if err != nil {
		if ce, ok := err.(*core.ConfigError); ok {
			ce.Field = "BudgetConfig.Budget." + trimPrefix(ce.Field, "BudgetConfig.")
		}
		return nil, err
	}
	b.core = cb
	a := budgetArgs{widthMs: bc.Window.Milliseconds() / 10, fixed: int64(bc.MaxRetries), ttlMs: 2 * bc.Window.Milliseconds()}
	if bc.MaxRetries == 0 {
		a.ratio, a.adaptive = bc.Ratio, bc.Adaptive
		if a.ratio == 0 {
			a.ratio, a.adaptive = 0.5, true
		}
		rps := bc.MinRetriesPerSecond
		if rps == 0 && !bc.DisableFloor {
			rps = 10
		}
		a.floor = rps * bc.Window.Seconds()
	}
	b.args = a
	b.detach = s.attach(b)
	return b, nil
}

func trimPrefix(s, p string) string {
	if len(s) >= len(p) && s[:len(p)] == p {
		return s[len(p):]
	}
	return s
}

// Core returns the core.Budget to give to policies.
func (b *Budget) Core() *core.Budget { return b.core }

// Name returns the budget's name.
func (b *Budget) Name() string { return b.name }

// Key returns the budget's Redis key.
func (b *Budget) Key() string { return b.key }

// Held returns the number of tokens the replica holds now.
func (b *Budget) Held() int { return int(b.held.Load()) }

// Close detaches the budget from the store's loop; Core then decides on
// its local window alone, as while the store is degraded. Tokens held are
// kept.
func (b *Budget) Close() { b.detach() }

// budgetLease is the core.BudgetLease side of a Budget.
type budgetLease Budget

// Take implements core.BudgetLease: a token from the lease, never waiting
// for Redis; undecided while the store is degraded.
func (l *budgetLease) Take() (ok, decided bool, remaining float64) {
	b := (*Budget)(l)
	if b.store.Degraded() {
		return false, false, 0
	}
	n := b.held.Add(-1)
	if n < 0 {
		b.held.Add(1)
		b.store.kick()
		return false, true, b.left()
	}
	if 2*n <= b.size {
		b.store.kick()
	}
	return true, true, b.left() + float64(n)
}

// left is what the shared window had left at the last sync.
func (b *Budget) left() float64 { return math.Float64frombits(b.leftBits.Load()) }

// Return implements core.BudgetLease: a refunded token goes back into the
// lease, which never holds more than LeaseSize (one beyond is dropped: the
// shared window counted it as spent, which errs on the side of fewer
// retries).
func (l *budgetLease) Return() {
	b := (*Budget)(l)
	for {
		n := b.held.Load()
		if n >= b.size || b.held.CompareAndSwap(n, n+1) {
			return
		}
	}
}

// Level implements core.BudgetLease: the shared window as of the last sync.
func (l *budgetLease) Level() (allowance, used float64, known bool) {
	b := (*Budget)(l)
	if b.store.Degraded() {
		return 0, 0, false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	// The tokens held are counted as used in Redis but are still to spend.
	return b.allowance, math.Max(0, b.used-float64(b.held.Load())), b.known
}

// budgetScript adds a replica's deposits and failures to the shared
// window, drops the buckets that left it, and leases up to ARGV[8] tokens,
// counting them as retries at once. The window is Window/10 wide buckets
// of Redis's clock (TIME), summed like core.Budget's: ten for a ratio
// budget, eleven for a fixed one (so that no interval of one Window grants
// more than MaxRetries). It returns the tokens leased, the allowance and
// the retries counted (with the lease).
//
// KEYS[1] the budget hash: fields r<bucket> (requests), t<bucket>
// (retries), f<bucket> (failed attempts).
// ARGV: width ms, fixed (0: ratio), floor, ratio, adaptive (0/1),
// deposits, failures, wanted tokens, TTL ms.
var budgetScript = redis.NewScript(`
local tm = redis.call('TIME')
local now = tonumber(tm[1]) * 1000 + math.floor(tonumber(tm[2]) / 1000)
local width = tonumber(ARGV[1])
local fixed = tonumber(ARGV[2])
local floor = tonumber(ARGV[3])
local ratio = tonumber(ARGV[4])
local adaptive = ARGV[5] == '1'
local dep = tonumber(ARGV[6])
local fail = tonumber(ARGV[7])
local want = tonumber(ARGV[8])
local cur = math.floor(now / width)
local span = 10
if fixed > 0 then span = 11 end
local h = redis.call('HGETALL', KEYS[1])
local req, ret, hreq, hret, hfail = 0, 0, 0, 0, 0
local stale = {}
for i = 1, #h, 2 do
  local f = h[i]
  local e = tonumber(string.sub(f, 2))
  local v = tonumber(h[i + 1])
  if e == nil or e <= cur - span then
    stale[#stale + 1] = f
  else
    local k = string.sub(f, 1, 1)
    local recent = e > cur - 2
    if k == 'r' then
      req = req + v
      if recent then hreq = hreq + v end
    elseif k == 't' then
      ret = ret + v
      if recent then hret = hret + v end
    elseif recent then
      hfail = hfail + v
    end
  end
end
if #stale > 0 then redis.call('HDEL', KEYS[1], unpack(stale)) end
if dep > 0 then
  redis.call('HINCRBY', KEYS[1], 'r' .. cur, dep)
  req = req + dep
  hreq = hreq + dep
end
if fail > 0 then
  redis.call('HINCRBY', KEYS[1], 'f' .. cur, fail)
  hfail = hfail + fail
end
local allowance = fixed
if fixed == 0 then
  local health = 1
  local attempts = hreq + hret
  if adaptive and attempts > 0 then
    health = ((1 - hfail / attempts) - 0.4) / 0.3
    if health > 1 then health = 1 end
    if health < 0 then health = 0 end
  end
  allowance = floor + ratio * health * req
end
local grant = math.floor(allowance - ret)
if grant > want then grant = want end
if grant < 0 then grant = 0 end
if grant > 0 then
  redis.call('HINCRBY', KEYS[1], 't' .. cur, grant)
  ret = ret + grant
end
redis.call('PEXPIRE', KEYS[1], ARGV[9])
return {grant, tostring(allowance), ret}
`)

// sync implements component: push the traffic counted since the last
// sync, refill the lease.
func (b *Budget) sync(ctx context.Context, restored bool) error {
	req, fail := b.core.Traffic()
	b.mu.Lock()
	if restored && b.synced {
		// The traffic of a degraded spell was decided on locally: it is
		// not sent.
		b.sentReq, b.sentFail = req, fail
	}
	dreq, dfail := req-b.sentReq, fail-b.sentFail
	b.mu.Unlock()
	want := b.size - max(0, b.held.Load()) // held is below 0 only while a Take puts back what it could not have
	a := &b.args
	adaptive := "0"
	if a.adaptive {
		adaptive = "1"
	}
	res, err := budgetScript.Run(ctx, b.store.client, []string{b.key},
		a.widthMs, a.fixed, strconv.FormatFloat(a.floor, 'g', -1, 64), strconv.FormatFloat(a.ratio, 'g', -1, 64), adaptive,
		dreq, dfail, want, a.ttlMs).Slice()
	if err != nil {
		return err
	}
	if len(res) != 3 {
		return fmt.Errorf("redressredis: budget script returned %d values, want 3", len(res))
	}
	grant, _ := res[0].(int64)
	as, _ := res[1].(string)
	used, _ := res[2].(int64)
	allowance, perr := strconv.ParseFloat(as, 64)
	if perr != nil {
		return fmt.Errorf("redressredis: budget script returned allowance %q: %w", as, perr)
	}
	b.held.Add(grant)
	b.mu.Lock()
	b.sentReq, b.sentFail, b.synced = req, fail, true
	b.allowance, b.used, b.known = allowance, float64(used), true
	b.leftBits.Store(math.Float64bits(math.Max(0, allowance-float64(used))))
	b.grants += uint64(grant)
	b.mu.Unlock()
	return nil
}

// Leased returns the number of tokens this replica has leased from the
// shared window so far.
func (b *Budget) Leased() uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.grants
}
