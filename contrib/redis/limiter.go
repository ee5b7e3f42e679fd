package redressredis

import (
	"context"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redress-go/redress/core"
)

// LimiterConfig configures NewLimiter.
type LimiterConfig struct {
	// Name names the limiter: every replica whose store has the same
	// Prefix and that makes a limiter of this Name shares its rate, kept at
	// "<prefix>:rate:{<Name>}". Required.
	Name string
	// Rate is the number of attempts the whole fleet may send per Per.
	// Required, > 0.
	Rate float64
	// Per is the period of Rate. Default 1s.
	Per time.Duration
	// Burst is the number of attempts the fleet may send at once after a
	// quiet spell (the GCRA's burst tolerance). Default LeaseSize.
	Burst int
	// LeaseSize is the most admissions a replica holds ahead of use, so
	// that an attempt never waits for Redis. The fleet can exceed Rate by
	// at most LeaseSize per replica (admissions leased but spent later).
	// Default 1; at most Burst.
	LeaseSize int
	// LocalRate is the rate each replica enforces alone while the store is
	// degraded, per Per. Default Rate (each replica alone may then send
	// what the fleet could).
	LocalRate float64
}

// Limiter is a GCRA rate limiter shared by every replica through Redis, a
// core.Limiter: give it to core.PolicyConfig.Limiter, and each attempt is
// admitted against the fleet's rate or refused with a *core.LimitedError
// (StopLimited). Admissions come from a local lease of at most LeaseSize,
// refilled by the store's loop with one Lua script, so Allow never waits
// for Redis; while the store is degraded, a local GCRA at LocalRate
// decides. A Limiter is safe for concurrent use.
type Limiter struct {
	name   string
	store  *Store
	key    string
	size   int64
	emitMs float64 // emission interval, ms
	tauMs  float64 // burst tolerance, ms
	ttlMs  int64
	detach func()

	held    atomic.Int64
	retryIn atomic.Int64 // ns: the wait Redis gave at the last refill that granted nothing

	local localGCRA
}

// NewLimiter returns a shared limiter, or a *core.ConfigError naming the
// first invalid field.
func NewLimiter(s *Store, cfg LimiterConfig) (*Limiter, error) {
	if s == nil {
		return nil, &core.ConfigError{Field: "store", Reason: "is required"}
	}
	if cfg.Name == "" {
		return nil, &core.ConfigError{Field: "LimiterConfig.Name", Reason: "is required"}
	}
	if !(cfg.Rate > 0) || math.IsInf(cfg.Rate, 0) {
		return nil, &core.ConfigError{Field: "LimiterConfig.Rate", Reason: "must be a finite number > 0"}
	}
	if cfg.Per < 0 {
		return nil, &core.ConfigError{Field: "LimiterConfig.Per", Reason: "must not be negative"}
	}
	if cfg.Per == 0 {
		cfg.Per = time.Second
	}
	if cfg.Burst < 0 {
		return nil, &core.ConfigError{Field: "LimiterConfig.Burst", Reason: "must not be negative"}
	}
	if cfg.LeaseSize < 0 {
		return nil, &core.ConfigError{Field: "LimiterConfig.LeaseSize", Reason: "must not be negative"}
	}
	if cfg.LeaseSize == 0 {
		cfg.LeaseSize = 1
	}
	if cfg.Burst == 0 {
		cfg.Burst = cfg.LeaseSize
	}
	if cfg.LeaseSize > cfg.Burst {
		return nil, &core.ConfigError{Field: "LimiterConfig.LeaseSize", Reason: fmt.Sprintf("%d exceeds Burst %d (a lease that large could never be filled)", cfg.LeaseSize, cfg.Burst)}
	}
	if cfg.LocalRate < 0 || math.IsInf(cfg.LocalRate, 0) || math.IsNaN(cfg.LocalRate) {
		return nil, &core.ConfigError{Field: "LimiterConfig.LocalRate", Reason: "must be a finite number >= 0"}
	}
	if cfg.LocalRate == 0 {
		cfg.LocalRate = cfg.Rate
	}
	emit := float64(cfg.Per.Milliseconds()) / cfg.Rate
	if cfg.Per < time.Millisecond {
		return nil, &core.ConfigError{Field: "LimiterConfig.Per", Reason: "must be at least 1ms"}
	}
	l := &Limiter{
		name:   cfg.Name,
		store:  s,
		key:    s.Key("rate", cfg.Name),
		size:   int64(cfg.LeaseSize),
		emitMs: emit,
		tauMs:  emit * float64(cfg.Burst-1),
		ttlMs:  1000, // past the TAT, the key means nothing
	}
	l.local.emit = time.Duration(float64(cfg.Per) / cfg.LocalRate)
	l.local.tau = l.local.emit * time.Duration(cfg.Burst-1)
	l.detach = s.attach(l)
	return l, nil
}

// Name implements core.Limiter.
func (l *Limiter) Name() string { return l.name }

// Key returns the limiter's Redis key.
func (l *Limiter) Key() string { return l.key }

// Held returns the admissions the replica holds now.
func (l *Limiter) Held() int { return int(l.held.Load()) }

// Close detaches the limiter from the store's loop: it then admits on its
// lease until spent, and then refuses.
func (l *Limiter) Close() { l.detach() }

// Allow implements core.Limiter: an admission from the lease, never waiting
// for Redis; the local GCRA while the store is degraded.
func (l *Limiter) Allow() (bool, time.Duration) {
	if l.store.Degraded() {
		return l.local.allow(time.Now())
	}
	for {
		n := l.held.Load()
		if n <= 0 {
			l.store.kick()
			return false, time.Duration(l.retryIn.Load())
		}
		if l.held.CompareAndSwap(n, n-1) {
			if 2*(n-1) < l.size {
				l.store.kick()
			}
			return true, 0
		}
	}
}

// limiterScript is the GCRA on Redis's clock: it admits up to ARGV[3]
// attempts at once, as many as the burst tolerance allows, moving the
// theoretical arrival time (TAT, ms) by one emission interval each. It
// returns the number admitted and, when none, the wait in ms until one
// would be.
//
// KEYS[1] the TAT. ARGV: emission interval ms, burst tolerance ms,
// wanted, TTL ms.
var limiterScript = redis.NewScript(`
local tm = redis.call('TIME')
local now = tonumber(tm[1]) * 1000 + tonumber(tm[2]) / 1000
local emit = tonumber(ARGV[1])
local tau = tonumber(ARGV[2])
local want = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local n = math.floor((now + tau - tat) / emit) + 1
if n > want then n = want end
if n <= 0 then
  return {0, math.ceil(tat - tau - now)}
end
tat = tat + n * emit
redis.call('SET', KEYS[1], string.format('%.3f', tat), 'PX', math.ceil(tat - now) + tonumber(ARGV[4]))
return {n, 0}
`)

// sync implements component: refill the lease.
func (l *Limiter) sync(ctx context.Context, restored bool) error {
	want := l.size - l.held.Load()
	if want <= 0 {
		return nil
	}
	res, err := limiterScript.Run(ctx, l.store.client, []string{l.key}, l.emitMs, l.tauMs, want, l.ttlMs).Int64Slice()
	if err != nil {
		return err
	}
	if len(res) != 2 {
		return fmt.Errorf("redressredis: limiter script returned %d values, want 2", len(res))
	}
	l.held.Add(res[0])
	l.retryIn.Store(int64(time.Duration(res[1]) * time.Millisecond))
	return nil
}

// localGCRA is the limiter of a degraded replica.
type localGCRA struct {
	mu        sync.Mutex
	tat       time.Time
	emit, tau time.Duration
}

func (g *localGCRA) allow(now time.Time) (bool, time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	tat := g.tat
	if tat.Before(now) {
		tat = now
	}
	if w := tat.Sub(now) - g.tau; w > 0 {
		return false, w
	}
	g.tat = tat.Add(g.emit)
	return true, 0
}

var _ core.Limiter = (*Limiter)(nil)
