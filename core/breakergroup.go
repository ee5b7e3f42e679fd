package core

import "sync"

// BreakerGroup holds one Breaker per key (a host, a gRPC target, a
// database), each created on first use from one template. Wrappers use it
// for their per-host and per-target breakers. Keys are never forgotten:
// choose keys from a bounded set. A BreakerGroup is safe for concurrent use.
type BreakerGroup struct {
	tmpl BreakerConfig
	m    sync.Map // string -> *Breaker
}

// NewBreakerGroup validates the template and returns an empty group. Each
// breaker is named after its key, or "Name:key" when the template has a
// name.
func NewBreakerGroup(tmpl BreakerConfig) (*BreakerGroup, error) {
	if _, err := NewBreaker(tmpl); err != nil {
		return nil, err
	}
	return &BreakerGroup{tmpl: tmpl}, nil
}

// Get returns the breaker of key, creating it if needed.
func (g *BreakerGroup) Get(key string) *Breaker {
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
	actual, _ := g.m.LoadOrStore(key, b)
	return actual.(*Breaker)
}

// Lookup returns the breaker of key, or nil if Get was never called for it.
func (g *BreakerGroup) Lookup(key string) *Breaker {
	if b, ok := g.m.Load(key); ok {
		return b.(*Breaker)
	}
	return nil
}
