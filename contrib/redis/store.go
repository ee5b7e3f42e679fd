package redressredis

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redress-go/redress/core"
)

// StoreConfig configures NewStore. Only Client is required.
type StoreConfig struct {
	// Client is the Redis client the store talks to: a *redis.Client, a
	// *redis.ClusterClient or a *redis.Ring. The store never closes it.
	// Required.
	Client redis.UniversalClient
	// Prefix starts every key the store and its components write, so
	// that several tenants or environments can share one Redis: keys are
	// "<Prefix>:<kind>:{<name>}" (see the package documentation for the
	// kinds). It must not contain '{', '}' or white space. Default
	// "redress".
	Prefix string
	// Name names the store in its events (the Operation of
	// shared_state_degraded and shared_state_restored). Default Prefix.
	Name string
	// Timeout bounds every Redis command the store sends. A command that
	// takes longer counts as a failure and puts the store in degraded mode.
	// No call through a policy ever waits for Redis: the commands run on
	// the store's own goroutine. Default 50ms.
	Timeout time.Duration
	// SyncInterval is the period of the store's loop, which exchanges each
	// component's state with Redis (flushes deposits, refills leases,
	// reads holds) and, while degraded, probes Redis with a PING. A
	// component that runs low on its lease wakes the loop before the
	// period ends. Default 100ms.
	SyncInterval time.Duration
	// ManualSync starts no loop: the owner calls Sync. Tests and tools
	// that must decide when Redis is spoken to use it.
	ManualSync bool
	// Bus receives shared_state_degraded and shared_state_restored. nil
	// publishes nothing.
	Bus *core.Bus
	// OnError, when set, receives each error of a Redis command (the first
	// of a degraded spell and each failed probe). It is called on the
	// store's goroutine and must be quick.
	OnError func(error)
}

// Store is the connection of a process to the fleet-wide state in Redis:
// its key prefix, its command timeout, the loop that syncs its components
// (shared budgets, limiters, hold gates, breakers) and its degraded mode.
//
// A store is healthy while Redis answers within Timeout. The first command
// that fails or times out makes it degraded: it publishes
// shared_state_degraded, stops syncing its components, which carry on with
// their local state, and probes Redis every SyncInterval. The first probe
// that succeeds makes it healthy again: it publishes shared_state_restored
// and resynchronises every component before the loop resumes. A flapping
// Redis therefore costs at most one degraded/restored pair per
// SyncInterval.
//
// A Store is safe for concurrent use. Close stops its loop.
type Store struct {
	client   redis.UniversalClient
	prefix   string
	name     string
	timeout  time.Duration
	interval time.Duration
	bus      *core.Bus
	onError  func(error)

	degraded     atomic.Bool
	degradations atomic.Uint64
	restorations atomic.Uint64
	lastErr      atomic.Pointer[error]

	mu    sync.Mutex // guards comps
	comps []*compEntry
	next  uint64

	syncMu  sync.Mutex // serialises Sync rounds
	wake    chan struct{}
	ctx     context.Context // canceled by Close
	cancel  context.CancelFunc
	stopped chan struct{}
	closed  atomic.Bool
}

// component is a user of the store whose state the loop exchanges with
// Redis.
type component interface {
	// sync exchanges the component's state with Redis; ctx carries the
	// store's timeout. restored is true on the first sync after the store
	// left degraded mode (and on the first sync of all): the component
	// then pushes what it kept locally and reloads the shared state. An
	// error makes the store degraded.
	sync(ctx context.Context, restored bool) error
}

type compEntry struct {
	id    uint64
	c     component
	fresh bool // not synced since it was attached or the store was restored
}

// Defaults of StoreConfig.
const (
	DefaultPrefix       = "redress"
	DefaultTimeout      = 50 * time.Millisecond
	DefaultSyncInterval = 100 * time.Millisecond
)

// ErrClosed is returned by Sync on a closed store.
var ErrClosed = errors.New("redressredis: store closed")

// ErrTimeout is the error of a store that a Redis command kept waiting
// longer than its Timeout.
var ErrTimeout = errors.New("redressredis: Redis did not answer within the store's timeout")

// bounded runs fn with the store's timeout. The store is degraded as soon
// as the timeout passes, whether or not fn has returned: a client without
// ContextTimeoutEnabled ignores the context's deadline and waits up to its
// ReadTimeout, but the components decide locally from then on. An answer
// that comes after the timeout is ErrTimeout.
func (s *Store) bounded(ctx context.Context, fn func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	var late atomic.Bool
	w := time.AfterFunc(s.timeout, func() { late.Store(true); s.markDegraded(ErrTimeout) })
	err := fn(ctx)
	w.Stop()
	if err == nil && late.Load() {
		err = ErrTimeout // answered, but too late to count as healthy
	}
	return err
}

// NewStore returns a store and, unless cfg.ManualSync, starts its loop; or
// a *core.ConfigError naming the first invalid field.
func NewStore(cfg StoreConfig) (*Store, error) {
	if cfg.Client == nil || isNilClient(cfg.Client) {
		return nil, &core.ConfigError{Field: "StoreConfig.Client", Reason: "is required"}
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	if strings.ContainsAny(cfg.Prefix, "{} \t\r\n") {
		return nil, &core.ConfigError{Field: "StoreConfig.Prefix", Reason: fmt.Sprintf("%q must not contain '{', '}' or white space", cfg.Prefix)}
	}
	if cfg.Name == "" {
		cfg.Name = cfg.Prefix
	}
	if cfg.Timeout < 0 {
		return nil, &core.ConfigError{Field: "StoreConfig.Timeout", Reason: "must not be negative"}
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.SyncInterval < 0 {
		return nil, &core.ConfigError{Field: "StoreConfig.SyncInterval", Reason: "must not be negative"}
	}
	if cfg.SyncInterval == 0 {
		cfg.SyncInterval = DefaultSyncInterval
	}
	if cfg.ManualSync && cfg.SyncInterval != DefaultSyncInterval {
		return nil, &core.ConfigError{Field: "StoreConfig.ManualSync", Reason: "cannot be combined with SyncInterval (there is no loop)"}
	}
	s := &Store{
		client:   cfg.Client,
		prefix:   cfg.Prefix,
		name:     cfg.Name,
		timeout:  cfg.Timeout,
		interval: cfg.SyncInterval,
		bus:      cfg.Bus,
		onError:  cfg.OnError,
		wake:     make(chan struct{}, 1),
		stopped:  make(chan struct{}),
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if cfg.ManualSync {
		close(s.stopped)
	} else {
		go s.loop()
	}
	return s, nil
}

// isNilClient reports whether c holds a nil pointer of a known client type.
func isNilClient(c redis.UniversalClient) bool {
	switch v := c.(type) {
	case *redis.Client:
		return v == nil
	case *redis.ClusterClient:
		return v == nil
	case *redis.Ring:
		return v == nil
	}
	return false
}

// Key returns the key of the named state of a kind ("budget", "rate",
// "hold", "breaker"): "<prefix>:<kind>:{<name>}". The braces make the name
// the Redis Cluster hash tag, so that every key of one name lives on one
// shard.
func (s *Store) Key(kind, name string) string {
	return s.prefix + ":" + kind + ":{" + name + "}"
}

// Prefix returns the store's key prefix.
func (s *Store) Prefix() string { return s.prefix }

// Client returns the store's Redis client.
func (s *Store) Client() redis.UniversalClient { return s.client }

// Timeout returns the bound of each Redis command.
func (s *Store) Timeout() time.Duration { return s.timeout }

// Degraded reports whether the store is in degraded mode: Redis did not
// answer its last command in time, and components decide on local state.
func (s *Store) Degraded() bool { return s.degraded.Load() }

// Degradations returns how many times the store entered degraded mode.
func (s *Store) Degradations() uint64 { return s.degradations.Load() }

// Restorations returns how many times the store left degraded mode.
func (s *Store) Restorations() uint64 { return s.restorations.Load() }

// LastError returns the error that last made the store degraded, or nil.
func (s *Store) LastError() error {
	if p := s.lastErr.Load(); p != nil {
		return *p
	}
	return nil
}

// attach adds a component to the loop and returns the function that
// removes it. The component's first sync has restored set.
func (s *Store) attach(c component) (detach func()) {
	s.mu.Lock()
	s.next++
	id := s.next
	s.comps = append(s.comps, &compEntry{id: id, c: c, fresh: true})
	s.mu.Unlock()
	s.kick()
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		for i, e := range s.comps {
			if e.id == id {
				s.comps = append(s.comps[:i:i], s.comps[i+1:]...)
				return
			}
		}
	}
}

// kick wakes the loop for a sync round before its period ends. It never
// blocks.
func (s *Store) kick() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// do runs one Redis command with the store's timeout; a failure other than
// redis.Nil makes the store degraded. It is for commands sent outside a
// sync round.
func (s *Store) do(ctx context.Context, fn func(ctx context.Context) error) error {
	err := s.bounded(ctx, fn)
	if err != nil && !errors.Is(err, redis.Nil) {
		s.markDegraded(err)
	}
	return err
}

// Sync runs one round of the loop now: while healthy, every component
// exchanges its state with Redis; while degraded, Redis is probed and, if
// it answers, the store is restored and every component resynchronised.
// It returns the error that made the store degraded in this round, if
// any. With ManualSync it is the only way the store speaks to Redis.
func (s *Store) Sync(ctx context.Context) error {
	if s.closed.Load() {
		return ErrClosed
	}
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	if s.degraded.Load() {
		err := s.bounded(ctx, func(ctx context.Context) error { return s.client.Ping(ctx).Err() })
		if err != nil {
			s.report(err)
			return err
		}
		s.mu.Lock()
		for _, e := range s.comps {
			e.fresh = true
		}
		s.mu.Unlock()
		if s.degraded.CompareAndSwap(true, false) {
			s.restorations.Add(1)
			s.bus.Publish(context.Background(), core.Event{Kind: core.EventSharedStateRestored, Operation: s.name})
		}
	}
	s.mu.Lock()
	comps := append([]*compEntry(nil), s.comps...)
	s.mu.Unlock()
	for _, e := range comps {
		err := s.bounded(ctx, func(ctx context.Context) error { return e.c.sync(ctx, e.fresh) })
		if err != nil && !errors.Is(err, redis.Nil) {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			s.markDegraded(err)
			return err
		}
		e.fresh = false
	}
	return nil
}

// markDegraded enters degraded mode, once per spell, for err.
func (s *Store) markDegraded(err error) {
	s.lastErr.Store(&err)
	if s.degraded.CompareAndSwap(false, true) {
		s.degradations.Add(1)
		s.report(err)
		s.bus.Publish(context.Background(), core.Event{Kind: core.EventSharedStateDegraded, Operation: s.name, Err: err})
	}
}

func (s *Store) report(err error) {
	if s.onError != nil {
		s.onError(err)
	}
}

// loop runs Sync every interval, or sooner when kicked, until Close.
func (s *Store) loop() {
	defer close(s.stopped)
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		case <-s.wake:
		}
		_ = s.Sync(s.ctx)
	}
}

// Close stops the store's loop and waits for it to end; it does not close
// the client. Components keep working on their local state. Close is
// idempotent.
func (s *Store) Close() error {
	if s.closed.CompareAndSwap(false, true) {
		s.cancel()
	}
	<-s.stopped
	return nil
}
