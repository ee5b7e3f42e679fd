package redresshttp

import (
	"sync"

	"github.com/redress-go/redress/core"
)

// breakers holds one circuit breaker per key, created on first use from a
// template. Keys are never forgotten: a client that talks to an unbounded
// set of hosts should supply a BreakerKey that groups them.
type breakers struct {
	tmpl core.BreakerConfig
	m    sync.Map // string -> *core.Breaker
}

func newBreakers(tmpl core.BreakerConfig) (*breakers, error) {
	tmpl.Bus = nil // the policy publishes on its own bus
	probe := tmpl
	if _, err := core.NewBreaker(probe); err != nil {
		if ce, ok := err.(*core.ConfigError); ok {
			return nil, &core.ConfigError{Field: "Config.Breaker (" + ce.Field + ")", Reason: ce.Reason}
		}
		return nil, err
	}
	return &breakers{tmpl: tmpl}, nil
}

// get returns the breaker of key, creating it if needed.
func (bs *breakers) get(key string) *core.Breaker {
	if b, ok := bs.m.Load(key); ok {
		return b.(*core.Breaker)
	}
	cfg := bs.tmpl
	if cfg.Name == "" {
		cfg.Name = key
	} else {
		cfg.Name += ":" + key
	}
	b, err := core.NewBreaker(cfg)
	if err != nil {
		return nil // unreachable: the template was validated by newBreakers
	}
	actual, _ := bs.m.LoadOrStore(key, b)
	return actual.(*core.Breaker)
}

// lookup returns the breaker of key, if it exists.
func (bs *breakers) lookup(key string) *core.Breaker {
	if b, ok := bs.m.Load(key); ok {
		return b.(*core.Breaker)
	}
	return nil
}
