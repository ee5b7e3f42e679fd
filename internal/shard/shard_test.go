package shard

import (
	"sync"
	"testing"
)

// Index stays in range, is stable for a goroutine, and spreads goroutines
// over more than one shard.
func TestIndex(t *testing.T) {
	seen := map[uint64]bool{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			i := Index()
			if i >= N {
				t.Errorf("Index %d, want < %d", i, N)
			}
			if j := Index(); j != i {
				t.Errorf("Index moved from %d to %d within one goroutine", i, j)
			}
			mu.Lock()
			seen[i] = true
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(seen) < 2 {
		t.Errorf("64 goroutines all on shard %v", seen)
	}
}

func BenchmarkIndex(b *testing.B) {
	var s uint64
	for b.Loop() {
		s += Index()
	}
	_ = s
}
