package redressredis

import (
	"context"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redress-go/redress/core"
)

// HoldGate shares Retry-After holds (core.Breaker.Hold: a 429 or 503 with
// Retry-After, a gRPC pushback) across the fleet: a hold that one replica's
// breaker takes is written to Redis at the store's next sync, and every
// other replica's breaker of the same key takes it at its own next sync,
// so that the downstream's request to wait is honoured by all within two
// SyncIntervals. The hold's key, "<prefix>:hold:{<key>}", expires with the
// hold. A HoldGate is safe for concurrent use.
type HoldGate struct {
	store  *Store
	mu     sync.Mutex
	shared map[string]*holdEntry
	detach func()
}

type holdEntry struct {
	key    string
	lookup func() *core.Breaker
}

// NewHoldGate returns a gate whose holds the store's loop syncs.
func NewHoldGate(s *Store) (*HoldGate, error) {
	if s == nil {
		return nil, &core.ConfigError{Field: "store", Reason: "is required"}
	}
	g := &HoldGate{store: s, shared: map[string]*holdEntry{}}
	g.detach = s.attach(g)
	return g, nil
}

// Share shares the holds of the breaker that lookup returns under key (a
// host: "api.example.com"). lookup is called at each sync and may return
// nil while the breaker does not exist yet (redresshttp's
// Transport.Breaker before the first request to a host): the hold then
// reaches it at the first sync after it does. Sharing a key again replaces
// its lookup.
func (g *HoldGate) Share(key string, lookup func() *core.Breaker) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.shared[key] = &holdEntry{key: g.store.Key("hold", key), lookup: lookup}
}

// ShareBreaker is Share for a breaker that exists already.
func (g *HoldGate) ShareBreaker(key string, b *core.Breaker) {
	g.Share(key, func() *core.Breaker { return b })
}

// Unshare stops sharing key.
func (g *HoldGate) Unshare(key string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.shared, key)
}

// Close detaches the gate from the store's loop.
func (g *HoldGate) Close() { g.detach() }

// holdScript keeps the latest end of a hold, on Redis's clock: ARGV[1] is
// the wait (ms) that remains of the local hold, 0 for none; it replaces
// the shared one only if it ends more than ARGV[2] ms later (else it is
// the same hold, seen a round trip later). It returns the
// wait that remains of the shared hold (ms, 0 for none); the key expires
// when it ends.
var holdScript = redis.NewScript(`
local tm = redis.call('TIME')
local now = tonumber(tm[1]) * 1000 + math.floor(tonumber(tm[2]) / 1000)
local wait = tonumber(ARGV[1])
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if wait > 0 and now + wait > cur + tonumber(ARGV[2]) then
  cur = now + wait
  redis.call('SET', KEYS[1], cur, 'PXAT', cur)
end
if cur > now then return cur - now end
return 0
`)

// holdSlack is the difference below which a shared hold is the local one.
const holdSlack = 10 * time.Millisecond

// sync implements component: push each local hold, take each shared one.
func (g *HoldGate) sync(ctx context.Context, restored bool) error {
	g.mu.Lock()
	entries := make([]*holdEntry, 0, len(g.shared))
	for _, e := range g.shared {
		entries = append(entries, e)
	}
	g.mu.Unlock()
	for _, e := range entries {
		b := e.lookup()
		var local time.Duration
		if b != nil {
			local = b.HeldFor()
		}
		ms := local.Milliseconds()
		if local > 0 && ms == 0 {
			ms = 1
		}
		rem, err := holdScript.Run(ctx, g.store.client, []string{e.key}, ms, holdSlack.Milliseconds()).Int64()
		if err != nil {
			return err
		}
		// A shared hold within holdSlack of the local one is the same hold
		// (the one this replica pushed, seen a round trip later): taking it
		// would lengthen the hold by a round trip at every sync.
		if shared := time.Duration(rem) * time.Millisecond; b != nil && shared > local+holdSlack {
			b.Hold(shared)
		}
	}
	return nil
}
