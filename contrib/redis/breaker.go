package redressredis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redress-go/redress/core"
)

// BreakerSyncConfig configures NewBreakerSync. The zero value is all
// defaults.
type BreakerSyncConfig struct {
	// Probes is the number of half-open probes the whole fleet may have
	// out at once for one breaker: each is a lease in Redis, taken by the
	// replica that sends the probe. Default: the breaker's HalfOpenProbes,
	// so that the fleet probes as one breaker would.
	Probes int
	// ProbeLease is how long a probe lease lasts when its holder reports
	// no verdict (a replica that stopped, or a probe that never ended):
	// another replica may probe after it. A verdict ends it at once. It
	// should exceed the breakers' RecoveryTimeout plus their RampUp, the
	// longest a holder's half-open period lasts. Default 1s.
	ProbeLease time.Duration
	// StateTTL is how long a breaker's key outlives its last change
	// (longer while it is open), so that the keys of downstreams nobody
	// calls any more expire. Default 10 minutes.
	StateTTL time.Duration
	// DisablePubSub turns the pub/sub channel off: the replicas learn of
	// each other's changes by polling alone, once per StoreConfig's
	// SyncInterval (for a Redis or proxy without pub/sub).
	DisablePubSub bool
}

// Defaults of BreakerSyncConfig.
const (
	DefaultProbeLease = time.Second
	DefaultStateTTL   = 10 * time.Minute
)

// BreakerSync shares circuit breakers across the replicas of a service
// through a Store: set it as core.BreakerConfig.Sync (of a breaker, or of
// the template of a core.BreakerGroup, such as the per-host breakers of
// redresshttp and the per-target breakers of redressgrpc) and the breakers
// of one name, in every replica, act as one:
//
//   - A breaker that opens in one replica opens in all, with what is left
//     of its recovery timeout. Each replica publishes its own transitions
//     from the store's goroutine and applies the others' to its local
//     breaker (core.Breaker.Adopt), as they come over a pub/sub channel and,
//     as a fallback, on every sync round of the store.
//   - Once the recovery timeout has passed, a replica sends half-open
//     probes only under a lease taken in Redis: the fleet has at most
//     Probes probes out at once per breaker (per ProbeLease, should a
//     holder never report), not one set per replica. A replica without a
//     lease keeps its breaker open and asks for one; the first verdict
//     closes or reopens the breaker in every replica.
//
// Redis is never on a call's path: a call reads the local breaker only (the
// success path of a closed breaker is one atomic load, as without sharing);
// transitions are queued and lease requests answered from memory.
//
// Propagation delay: a replica's change reaches the others within a few
// milliseconds over pub/sub; should a message be lost (the subscription
// reconnecting, DisablePubSub), within one SyncInterval plus three command
// timeouts (the round that publishes it, the round that reads it): 250ms
// with the Store's defaults. The documented bound is 500ms.
//
// Faults: while the store is degraded (Redis slow, paused, down), every
// breaker decides on its local state alone, and probes as a local breaker
// does. When the store is restored, each replica publishes the changes it
// made meanwhile (an open still in force, a close) and adopts the fleet's
// state: a replica that was cut off from Redis while the others opened
// opens too.
//
// Keys, per breaker name (the breaker's Name: "Name:key" in a group):
//
//   - <prefix>:breaker:{<name>}: a hash, the fleet's state (open or closed,
//     the end of the open period in Redis's clock, a version); TTL StateTTL
//     after the last change, or the open period plus twice ProbeLease if
//     longer;
//   - <prefix>:breaker-probes:{<name>}: a sorted set, the probe leases;
//     TTL ProbeLease;
//
// and one pub/sub channel, <prefix>:breaker-events.
//
// A BreakerSync is safe for concurrent use. It starts one goroutine (none
// with DisablePubSub), which Close stops.
type BreakerSync struct {
	store    *Store
	probes   int
	lease    time.Duration
	ttl      time.Duration
	channel  string
	origin   string // this replica's id in leases and messages
	epoch    time.Time
	detach   func()
	closed   atomic.Bool
	newIDSeq atomic.Uint64

	mu    sync.Mutex // guards links
	links map[string][]*breakerLink

	ps     *redis.PubSub // nil with DisablePubSub
	ctx    context.Context
	cancel context.CancelFunc // called by Close
	done   chan struct{}      // closed when the subscriber goroutine ends
}

// NewBreakerSync returns a BreakerSync on store, or a *core.ConfigError
// naming the first invalid field. Close it before the store.
func NewBreakerSync(store *Store, cfg BreakerSyncConfig) (*BreakerSync, error) {
	if store == nil {
		return nil, &core.ConfigError{Field: "store", Reason: "is required"}
	}
	if cfg.Probes < 0 {
		return nil, &core.ConfigError{Field: "BreakerSyncConfig.Probes", Reason: "must not be negative"}
	}
	if cfg.ProbeLease < 0 {
		return nil, &core.ConfigError{Field: "BreakerSyncConfig.ProbeLease", Reason: "must not be negative"}
	}
	if cfg.ProbeLease == 0 {
		cfg.ProbeLease = DefaultProbeLease
	}
	if cfg.ProbeLease < time.Millisecond {
		return nil, &core.ConfigError{Field: "BreakerSyncConfig.ProbeLease", Reason: "must be at least 1ms"}
	}
	if cfg.StateTTL < 0 {
		return nil, &core.ConfigError{Field: "BreakerSyncConfig.StateTTL", Reason: "must not be negative"}
	}
	if cfg.StateTTL == 0 {
		cfg.StateTTL = DefaultStateTTL
	}
	if cfg.StateTTL < time.Second {
		return nil, &core.ConfigError{Field: "BreakerSyncConfig.StateTTL", Reason: "must be at least 1s"}
	}
	var id [8]byte
	_, _ = rand.Read(id[:])
	s := &BreakerSync{
		store:   store,
		probes:  cfg.Probes,
		lease:   cfg.ProbeLease,
		ttl:     cfg.StateTTL,
		channel: store.Prefix() + ":breaker-events",
		origin:  hex.EncodeToString(id[:]),
		epoch:   time.Now(),
		links:   map[string][]*breakerLink{},
		done:    make(chan struct{}),
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if cfg.DisablePubSub {
		close(s.done)
	} else {
		// Subscribing sends nothing until the first receive: the
		// constructor never waits for Redis.
		s.ps = store.Client().Subscribe(s.ctx)
		go s.subscriber()
	}
	s.detach = store.attach(s)
	return s, nil
}

// Join links b to the fleet's state under b's name. It is called by
// core.NewBreaker and core.BreakerGroup for a breaker whose config's Sync
// is s; the first sync round of the store reads the fleet's state for it.
func (s *BreakerSync) Join(b *core.Breaker) core.BreakerLink {
	name := b.Name()
	l := &breakerLink{
		s:        s,
		b:        b,
		name:     name,
		key:      s.store.Key("breaker", name),
		leaseKey: s.store.Key("breaker-probes", name),
	}
	s.mu.Lock()
	s.links[name] = append(s.links[name], l)
	s.mu.Unlock()
	s.store.kick()
	return l
}

// Close stops the subscriber and detaches s from its store; the breakers
// keep working, on their local state alone. Close is idempotent.
func (s *BreakerSync) Close() error {
	if s.closed.CompareAndSwap(false, true) {
		s.detach()
		s.cancel()
		if s.ps != nil {
			_ = s.ps.Close()
		}
	}
	<-s.done
	return nil
}

// local reports whether the breakers decide alone: s is closed, or its
// store is degraded or closed.
func (s *BreakerSync) local() bool {
	return s.closed.Load() || s.store.Degraded() || s.store.closed.Load()
}

// now returns the time on s's own monotonic scale.
func (s *BreakerSync) now() int64 { return int64(time.Since(s.epoch)) }

// newID returns a fresh id for a fleet state that Redis does not hold yet.
func (s *BreakerSync) newID() string {
	return s.origin + "-" + strconv.FormatUint(s.newIDSeq.Add(1), 10)
}

// snapshot returns every link.
func (s *BreakerSync) snapshot() []*breakerLink {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*breakerLink
	for _, ls := range s.links {
		out = append(out, ls...)
	}
	return out
}

// The local transitions waiting to be published (breakerLink.pending).
const (
	pendNone uint32 = iota
	pendOpen
	pendClosed
)

// breakerLink is one breaker's core.BreakerLink.
type breakerLink struct {
	s             *BreakerSync
	b             *core.Breaker
	name          string
	key, leaseKey string

	pending atomic.Uint32 // the last own transition not yet published
	want    atomic.Bool   // a call asked for a probe lease
	maxP    atomic.Int32  // the breaker's HalfOpenProbes, as Probes was told
	lastRej uint64        // b's rejections at the last round (the store's goroutine only)
	// gen counts the changes that void a probe lease granted before them:
	// each own transition, each newer fleet state applied. A grant is
	// good only while gen is what it was when the lease was asked for (a
	// reply that comes back after the probe it would serve has failed is
	// not a lease for the next period).
	gen atomic.Uint64

	gmu        sync.Mutex // guards the grant
	grant      int64      // probe leases held and not yet used
	grantGen   uint64     // gen the grant is good for
	grantUntil int64      // end of the leases on s.now's scale

	mu  sync.Mutex // serialises applying the fleet's state; guards id and seq
	id  string     // the fleet state's id and version last seen
	seq int64
}

// Transitioned queues the breaker's own change for publication.
func (l *breakerLink) Transitioned(t core.BreakerTransition) {
	l.gen.Add(1)
	switch t.To {
	case core.StateOpen:
		l.pending.Store(pendOpen)
	case core.StateClosed:
		l.pending.Store(pendClosed)
	default:
		return // half-open is each replica's own
	}
	l.s.store.kick()
}

// setGrant records n probe leases granted for gen g.
func (l *breakerLink) setGrant(n int64, g uint64) {
	l.gmu.Lock()
	l.grant, l.grantGen = n, g
	l.grantUntil = l.s.now() + int64(l.s.lease-l.s.lease/10) // stop using it before Redis frees it
	l.gmu.Unlock()
}

// takeGrant returns the probe leases held, if they are still good, and
// forgets them.
func (l *breakerLink) takeGrant() int64 {
	l.gmu.Lock()
	defer l.gmu.Unlock()
	n := l.grant
	l.grant = 0
	if n > 0 && l.grantGen == l.gen.Load() && l.s.now() < l.grantUntil {
		return n
	}
	return 0
}

// hasGrant reports whether good probe leases are held.
func (l *breakerLink) hasGrant() bool {
	l.gmu.Lock()
	defer l.gmu.Unlock()
	return l.grant > 0 && l.grantGen == l.gen.Load() && l.s.now() < l.grantUntil
}

// Probes answers from the leases the store's goroutine took: a lease
// held lets this replica probe; none asks for one and keeps the breaker
// open until the next round.
func (l *breakerLink) Probes(max int) (int, time.Duration) {
	l.maxP.Store(int32(min(max, 1<<30)))
	if l.s.local() {
		return max, 0
	}
	if n := l.takeGrant(); n > 0 {
		return int(n), 0
	}
	l.want.Store(true)
	l.s.store.kick()
	return 0, l.s.store.interval
}

// slots returns the fleet's probe slots for l's breaker.
func (l *breakerLink) slots(max int) int {
	if l.s.probes > 0 {
		return l.s.probes
	}
	return max
}

// fleetState is a breaker's state in Redis, as every script returns it.
type fleetState struct {
	id      string
	seq     int64
	state   string // "open", "closed", or "" (none)
	left    time.Duration
	granted int64
}

// apply adopts st, the fleet's state, in l's breaker: when it is newer
// than what l saw, or as new and fresh (read just now, not replayed), and
// no own change of l's breaker waits to be published (that change is
// newer, and is published next round). It reports whether st was newer
// (gen was advanced: a lease granted before it is void).
func (l *breakerLink) apply(st fleetState, fresh bool) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	newer := st.id != "" && (st.id != l.id || st.seq > l.seq)
	if !newer && !(fresh && st.id != "" && st.id == l.id && st.seq == l.seq) {
		return false
	}
	if newer {
		l.gen.Add(1)
	}
	l.id, l.seq = st.id, st.seq
	if l.pending.Load() != pendNone {
		return newer
	}
	switch st.state {
	case "open":
		l.b.Adopt(core.StateOpen, st.left)
	case "closed":
		l.b.Adopt(core.StateClosed, 0)
	}
	return newer
}

// base returns the fleet state l's breaker last saw.
func (l *breakerLink) base() (string, int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.id, l.seq
}

// sync is the store's round: each breaker publishes its own change, or
// asks for probe leases, or reads the fleet's state; one pipeline in all.
func (s *BreakerSync) sync(ctx context.Context, restored bool) error {
	links := s.snapshot()
	if len(links) == 0 {
		return nil
	}
	if restored {
		// Redis may have lost everything (a restart): whatever it holds
		// now is the fleet's state.
		for _, l := range links {
			l.mu.Lock()
			l.id, l.seq = "", 0
			l.mu.Unlock()
		}
	}
	ops := make([]uint32, len(links))
	gens := make([]uint64, len(links))
	for i, l := range links {
		gens[i] = l.gen.Load() // before the pending change is taken: a change after it voids a grant
		ops[i] = l.pending.Swap(pendNone)
	}
	cmds, err := s.round(ctx, links, ops)
	if isNoScript(err) {
		// Redis restarted between two rounds: load the scripts again.
		if err = loadScripts(ctx, s.store.Client()); err == nil {
			cmds, err = s.round(ctx, links, ops)
		}
	}
	if err != nil && !errors.Is(err, redis.Nil) {
		for i, l := range links {
			if ops[i] != pendNone {
				l.pending.CompareAndSwap(pendNone, ops[i]) // published next time
			}
		}
		return err
	}
	for i, l := range links {
		st, err := parseState(cmds[i])
		if err != nil {
			return err
		}
		g := gens[i]
		if l.apply(st, true) {
			g++ // this reply's own state: the grant is for it
		}
		if st.granted > 0 {
			l.setGrant(st.granted, g)
		}
	}
	return nil
}

// round sends one command per link in a pipeline: ops[i] is the own change
// of links[i] to publish.
func (s *BreakerSync) round(ctx context.Context, links []*breakerLink, ops []uint32) ([]*redis.Cmd, error) {
	pipe := s.store.Client().Pipeline()
	cmds := make([]*redis.Cmd, len(links))
	leaseMs := s.lease.Milliseconds()
	for i, l := range links {
		keys := []string{l.key, l.leaseKey}
		switch left := l.b.OpenFor(); {
		case ops[i] == pendOpen && left > 0:
			openMs := max(left.Milliseconds(), 1)
			ttl := max(s.ttl.Milliseconds(), openMs+2*leaseMs)
			cmds[i] = openScript.EvalSha(ctx, pipe, keys, openMs, ttl, s.origin, s.channel, l.name, s.newID())
		case ops[i] == pendClosed:
			id, seq := l.base()
			cmds[i] = closeScript.EvalSha(ctx, pipe, keys, id, seq, s.ttl.Milliseconds(), s.origin, s.channel, l.name, s.newID())
		case l.wantsProbe():
			n := l.slots(l.maxProbes())
			cmds[i] = acquireScript.EvalSha(ctx, pipe, keys, n, leaseMs, s.origin, n)
		default:
			// An open that has already run its course is not worth
			// publishing: the fleet's state is read instead.
			cmds[i] = readScript.EvalSha(ctx, pipe, keys)
		}
	}
	_, err := pipe.Exec(ctx)
	return cmds, err
}

// maxProbes returns the breaker's HalfOpenProbes, as its last Probes call
// told it (1 before any).
func (l *breakerLink) maxProbes() int { return max(int(l.maxP.Load()), 1) }

// wantsProbe reports whether l's breaker needs a probe lease: a call asked
// for one, or the breaker's recovery timeout has passed while calls were
// refused (a lease taken before the next call asks for it). It runs on the
// store's goroutine.
func (l *breakerLink) wantsProbe() bool {
	rej := l.b.Rejections()
	busy := rej != l.lastRej
	l.lastRej = rej
	if l.want.Swap(false) {
		return true
	}
	return busy && l.b.State() == core.StateOpen && l.b.OpenFor() == 0 && !l.hasGrant()
}

// subscriber applies the changes other replicas publish, until Close.
func (s *BreakerSync) subscriber() {
	defer close(s.done)
	ctx := s.ctx
	subscribed := false
	for !s.closed.Load() {
		if !subscribed {
			if err := s.ps.Subscribe(ctx, s.channel); err != nil {
				if s.pause() {
					return
				}
				continue
			}
			subscribed = true
		}
		msg, err := s.ps.ReceiveTimeout(ctx, 5*time.Second)
		if err != nil {
			if s.closed.Load() {
				return
			}
			var ne interface{ Timeout() bool }
			if errors.As(err, &ne) && ne.Timeout() {
				continue // quiet channel
			}
			// The connection broke: go-redis reconnects and subscribes
			// again on the next receive; the store's rounds cover the gap.
			if s.pause() {
				return
			}
			continue
		}
		if m, ok := msg.(*redis.Message); ok {
			s.handle(m.Payload)
		}
	}
}

// pause waits a sync interval before the subscriber tries again; it
// reports whether s was closed meanwhile.
func (s *BreakerSync) pause() bool {
	t := time.NewTimer(s.store.interval)
	defer t.Stop()
	select {
	case <-t.C:
	case <-s.ctx.Done():
	case <-s.store.ctx.Done():
	}
	return s.closed.Load() || s.store.closed.Load()
}

// handle applies one message of the channel:
// "<id> <seq> <state> <left ms> <origin> <name>".
func (s *BreakerSync) handle(payload string) {
	f := strings.SplitN(payload, " ", 6)
	if len(f) != 6 || f[4] == s.origin {
		return
	}
	seq, err1 := strconv.ParseInt(f[1], 10, 64)
	left, err2 := strconv.ParseInt(f[3], 10, 64)
	if err1 != nil || err2 != nil {
		return
	}
	s.mu.Lock()
	ls := s.links[f[5]]
	s.mu.Unlock()
	st := fleetState{id: f[0], seq: seq, state: f[2], left: time.Duration(left) * time.Millisecond}
	for _, l := range ls {
		l.apply(st, false)
	}
}

// parseState reads a script's reply: {id, seq, state, left ms, granted}.
func parseState(c *redis.Cmd) (fleetState, error) {
	v, err := c.Slice()
	if err != nil {
		return fleetState{}, err
	}
	if len(v) != 5 {
		return fleetState{}, errors.New("redressredis: unexpected breaker script reply")
	}
	var st fleetState
	st.id, _ = v[0].(string)
	st.seq, _ = v[1].(int64)
	st.state, _ = v[2].(string)
	left, _ := v[3].(int64)
	st.left = time.Duration(left) * time.Millisecond
	st.granted, _ = v[4].(int64)
	return st, nil
}

func isNoScript(err error) bool {
	return err != nil && redis.HasErrorPrefix(err, "NOSCRIPT")
}

func loadScripts(ctx context.Context, c redis.UniversalClient) error {
	for _, sc := range []*redis.Script{openScript, closeScript, acquireScript, readScript} {
		if err := sc.Load(ctx, c).Err(); err != nil {
			return err
		}
	}
	return nil
}

// The scripts. KEYS[1] is the state hash, KEYS[2] the lease set. Each
// replies {id, seq, state, left ms, granted}, times in Redis's clock.
const scriptHead = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local cur = redis.call('HMGET', KEYS[1], 'id', 'seq', 'state', 'until')
local id, seq, state, untl = cur[1], tonumber(cur[2]) or 0, cur[3], tonumber(cur[4]) or 0
local function reply(granted)
  local left = 0
  if state == 'open' then left = math.max(untl - now, 0) end
  return {id or '', seq, state or '', left, granted}
end
local function write(newstate, newuntil, ttl, origin, channel, name, newid)
  if not id then
    id = newid
    redis.call('HSET', KEYS[1], 'id', id)
  end
  seq = seq + 1
  state, untl = newstate, newuntil
  redis.call('HSET', KEYS[1], 'seq', seq, 'state', state, 'until', untl)
  redis.call('PEXPIRE', KEYS[1], ttl)
  redis.call('DEL', KEYS[2])
  redis.call('PUBLISH', channel, id .. ' ' .. seq .. ' ' .. state .. ' ' .. math.max(untl - now, 0) .. ' ' .. origin .. ' ' .. name)
end
`

var (
	// openScript: ARGV open ms, ttl ms, origin, channel, name, new id. An
	// open always wins; the fleet stays open until the latest end. It ends
	// the probe leases (a probe's failure reopened the breaker).
	openScript = redis.NewScript(scriptHead + `
local u = now + tonumber(ARGV[1])
if state == 'open' and untl >= u then return reply(0) end
write('open', u, ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6])
return reply(0)
`)
	// closeScript: ARGV base id, base seq, ttl ms, origin, channel, name,
	// new id. A close made on a stale view of an open still in force (the
	// fleet reopened since) is refused: the reply tells the closer.
	closeScript = redis.NewScript(scriptHead + `
if state == 'closed' then return reply(0) end
if state == 'open' and untl > now and (id ~= ARGV[1] or seq > tonumber(ARGV[2])) then return reply(0) end
write('closed', 0, ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7])
return reply(0)
`)
	// acquireScript: ARGV slots, lease ms, origin, wanted. Leases are
	// granted only while the fleet's breaker is recovering (open, its
	// period over) or unknown; the caller's own leases are renewed.
	acquireScript = redis.NewScript(scriptHead + `
if state == 'closed' or (state == 'open' and untl > now) then return reply(0) end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local pre = ARGV[3] .. ':'
local others = 0
for _, m in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
  if string.sub(m, 1, #pre) == pre then redis.call('ZREM', KEYS[2], m) else others = others + 1 end
end
local n = math.min(tonumber(ARGV[4]), tonumber(ARGV[1]) - others)
if n <= 0 then return reply(0) end
for i = 1, n do redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), pre .. i) end
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return reply(n)
`)
	// readScript: no ARGV.
	readScript = redis.NewScript(scriptHead + `
return reply(0)
`)
)
