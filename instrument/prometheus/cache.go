package redressprom

import (
	"sync"
	"sync/atomic"
)

// cowMap is a copy-on-write map: reads are lock-free and allocation-free,
// writes copy the map under a mutex. It suits label children, whose set is
// small (low cardinality) and stops growing after warm-up.
type cowMap[K comparable, V any] struct {
	m  atomic.Pointer[map[K]V]
	mu sync.Mutex
}

func (c *cowMap[K, V]) load(k K) (V, bool) {
	if m := c.m.Load(); m != nil {
		v, ok := (*m)[k]
		return v, ok
	}
	var zero V
	return zero, false
}

// loadOrStore returns the value for k, storing mk() first if there is none.
func (c *cowMap[K, V]) loadOrStore(k K, mk func() V) V {
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

// size returns the number of entries.
func (c *cowMap[K, V]) size() int { return lenOf(c.m.Load()) }

// snapshot returns the current map; it must not be modified.
func (c *cowMap[K, V]) snapshot() map[K]V {
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
