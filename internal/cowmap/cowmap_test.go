package cowmap

import (
	"sync"
	"testing"
)

func TestLoadOrStoreIsOncePerKey(t *testing.T) {
	var m Map[int, *int]
	if _, ok := m.Load(1); ok || m.Len() != 0 || m.Snapshot() != nil {
		t.Fatal("zero value is not empty")
	}
	var made sync.Map
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range 50 {
				v := m.LoadOrStore(k, func() *int { n := k*100 + g; made.Store(k, true); return &n })
				if got, ok := m.Load(k); !ok || got != v {
					t.Errorf("Load(%d) = %v, %v; LoadOrStore gave %v", k, got, ok, v)
				}
			}
		}()
	}
	wg.Wait()
	if m.Len() != 50 {
		t.Errorf("Len = %d, want 50", m.Len())
	}
	allocs := testing.AllocsPerRun(100, func() { _, _ = m.Load(7) })
	if allocs != 0 {
		t.Errorf("Load allocates %v", allocs)
	}
}
