// Package cowmap is a copy-on-write map for label caches: reads are lock-free
// and allocation-free, writes copy the map under a mutex. It is internal:
// the OTel and Prometheus subscribers share it.
package cowmap

import (
	"sync"
	"sync/atomic"
)

// Map is a copy-on-write map: reads are lock-free and allocation-free,
// writes copy the map under a mutex. It suits label children, whose set is
// small (low cardinality) and stops growing after warm-up. The zero value is
// an empty map, ready to use and safe for concurrent use.
type Map[K comparable, V any] struct {
	m  atomic.Pointer[map[K]V]
	mu sync.Mutex
}

// Load returns the value stored for k.
func (c *Map[K, V]) Load(k K) (V, bool) {
	if m := c.m.Load(); m != nil {
		v, ok := (*m)[k]
		return v, ok
	}
	var zero V
	return zero, false
}

// LoadOrStore returns the value for k, storing mk() first if there is none.
func (c *Map[K, V]) LoadOrStore(k K, mk func() V) V {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.m.Load()
	if old != nil {
		if v, ok := (*old)[k]; ok {
			return v
		}
	}
	n := make(map[K]V, 1+lenOf(old))
	if old != nil {
		for k2, v2 := range *old {
			n[k2] = v2
		}
	}
	v := mk()
	n[k] = v
	c.m.Store(&n)
	return v
}

// Len returns the number of entries.
func (c *Map[K, V]) Len() int { return lenOf(c.m.Load()) }

// Snapshot returns the current map; it must not be modified.
func (c *Map[K, V]) Snapshot() map[K]V {
	if m := c.m.Load(); m != nil {
		return *m
	}
	return nil
}

func lenOf[K comparable, V any](m *map[K]V) int {
	if m == nil {
		return 0
	}
	return len(*m)
}
