package redressredis_test

import (
	"log"
	"net/http"

	"github.com/redis/go-redis/v9"

	redresshttp "github.com/redress-go/redress/contrib/nethttp"
	redressredis "github.com/redress-go/redress/contrib/redis"
	"github.com/redress-go/redress/core"
)

// Every replica of a service runs this: the per-host breakers of its HTTP
// client are shared with the other replicas through Redis. A host that
// fails opens its breaker in every replica at once, and once the recovery
// timeout has passed the fleet sends it HalfOpenProbes probes, not one set
// per replica.
func ExampleBreakerSync() {
	bus := core.NewBus() // add subscribers: shared_state_degraded tells when Redis is away
	store, err := redressredis.NewStore(redressredis.StoreConfig{
		Client: redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", ContextTimeoutEnabled: true}),
		Prefix: "checkout-prod",
		Bus:    bus,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	breakers, err := redressredis.NewBreakerSync(store, redressredis.BreakerSyncConfig{})
	if err != nil {
		log.Fatal(err)
	}
	defer breakers.Close() // before the store

	tmpl := redresshttp.DefaultBreakerConfig()
	tmpl.Sync = breakers // each host's breaker is shared under its name
	tr, err := redresshttp.NewTransport(nil, redresshttp.Config{Breaker: &tmpl, Bus: bus})
	if err != nil {
		log.Fatal(err)
	}
	client := &http.Client{Transport: tr}
	_ = client // calls never wait for Redis
}
