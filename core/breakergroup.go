package core

import "sync"

// BreakerGroup holds one Breaker per key (a host, a gRPC target, a
// database), each created on first use from one template. Wrappers use it
// for their per-host and per-target breakers. Keys are never forgotten:
// choose keys from a bounded set. A BreakerGroup is safe for concurrent use.
//
// With the template's Sync set, each breaker is joined to it when the group
// creates it (once per key), and shares its state under its name: a group
// per downstream kind (hosts, targets) gives each downstream its own shared
// breaker.
type BreakerGroup struct {
	tmpl BreakerConfig
	m    sync.Map   // string -> *Breaker
	mu   sync.Mutex // serialises creation: no breaker is built, or joined, twice
}

// NewBreakerGroup validates the template and returns an empty group. Each
// breaker is named after its key, or "Name:key" when the template has a
// name.
func NewBreakerGroup(tmpl BreakerConfig) (*BreakerGroup, error) {
	if _, err := newBreaker(tmpl); err != nil { // validation only: not joined
		return nil, err
	}
	return &BreakerGroup{tmpl: tmpl}, nil
}

// Get returns the breaker of key, creating it if needed.
func (g *BreakerGroup) Get(key string) *Breaker {
	if b, ok := g.m.Load(key); ok {
		return b.(*Breaker)
	}
	return g.create(key)
}

// create is Get's slow path: it builds the breaker of key, unless another
// call just did.
func (g *BreakerGroup) create(key string) *Breaker {
	g.mu.Lock()
	defer g.mu.Unlock()
	if b, ok := g.m.Load(key); ok {
		return b.(*Breaker)
	}
	cfg := g.tmpl
	if cfg.Name == "" {
		cfg.Name = key
	} else {
		cfg.Name += ":" + key
	}
	b, err := NewBreaker(cfg)
	if err != nil {
		panic(err) // unreachable: NewBreakerGroup validated the template, the name cannot make it invalid
	}
	g.m.Store(key, b)
	return b
}

// Lookup returns the breaker of key, or nil if Get was never called for it.
func (g *BreakerGroup) Lookup(key string) *Breaker {
	if b, ok := g.m.Load(key); ok {
		return b.(*Breaker)
	}
	return nil
}
