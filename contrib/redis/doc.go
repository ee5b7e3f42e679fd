// Package redressredis shares resilience state across the replicas of a
// service through Redis (github.com/redis/go-redis/v9), without putting
// Redis on the path of a call: retry budgets drawn from one fleet-wide
// allowance, a GCRA rate limiter, Retry-After holds seen by every replica,
// and breakers opened for all by any of them.
//
// # The store
//
// Everything goes through a Store, one per process and Redis:
//
//	bus := core.NewBus()
//	store, err := redressredis.NewStore(redressredis.StoreConfig{
//		Client: redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"}),
//		Prefix: "checkout-prod",
//		Bus:    bus,
//	})
//	if err != nil {
//		return err
//	}
//	defer store.Close()
//
// The store owns the per-command timeout (StoreConfig.Timeout, 50ms by
// default), a loop that exchanges the components' state with Redis every
// SyncInterval (100ms by default), and the degraded mode. Calls through a
// policy read and write local state only; the loop is the one place that
// waits for Redis.
//
// # Degraded mode
//
// When a command fails or takes longer than Timeout (Redis slow, paused,
// down or flapping), the store becomes degraded: it publishes
// shared_state_degraded on StoreConfig.Bus (counted by every metrics
// subscriber as redress.events{redress.event="shared_state_degraded"}),
// Degraded reports true, and each component decides on its local state
// alone. The store then probes Redis with a PING every SyncInterval; the
// first answer restores it: shared_state_restored is published and every
// component resynchronises (pushes what it counted locally, reloads the
// shared state) before the loop resumes.
//
// # Keys
//
// Every key is "<Prefix>:<kind>:{<name>}"; the braces make the name the
// Redis Cluster hash tag. Every key is written with a TTL, so that the keys
// of a budget, limiter, host or breaker nobody uses any more expire on
// their own.
//
//   - <prefix>:budget:{<name>}: a hash, the shared retry budget's window
//     (TTL twice the Window);
//   - <prefix>:rate:{<name>}: a string, the limiter's theoretical arrival
//     time (TTL until it is past);
//   - <prefix>:hold:{<host>}: a string, the end of a Retry-After hold in
//     Unix ms (TTL the hold).
//   - <prefix>:breaker:{<name>} and <prefix>:breaker-probes:{<name>}: a
//     shared breaker's state and its probe leases (see BreakerSync), with
//     the pub/sub channel <prefix>:breaker-events.
//
// # Concurrency
//
// A Store and every component built on it are safe for concurrent use. The
// store starts one goroutine (none with ManualSync), which Close stops.
package redressredis
