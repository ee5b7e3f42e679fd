package telemetry

import (
	"strings"
	"sync"
	"testing"

	"github.com/redress-go/redress/internal/cowmap"
)

// A pair's entry is made once: the same strings, equal strings at other
// addresses (which miss the front) and concurrent first lookups all get
// it, and its Key has the operation without its query.
func TestCacheOneEntryPerPair(t *testing.T) {
	var c Cache[int]
	en := c.Get("api", "GET /users?id=1")
	if want := (Key{"api", "GET /users"}); en.Key != want {
		t.Fatalf("Key = %+v, want %+v", en.Key, want)
	}
	// Built at run time, so the strings are at other addresses.
	pol, op := strings.Repeat("api", 1), strings.Join([]string{"GET /users", "id=1"}, "?")
	if got := c.Get(pol, op); got != en {
		t.Fatal("equal strings at other addresses got another entry")
	}
	if got := c.Get("api", "GET /users"); got == en {
		t.Fatal("another operation got the same entry")
	}
	var wg sync.WaitGroup
	got := make([]*Entry[int], 8)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i] = c.Get("db", "SELECT")
		}()
	}
	wg.Wait()
	for i := range got {
		if got[i] != got[0] {
			t.Fatalf("concurrent first lookups got distinct entries (%d)", i)
		}
	}
}

// Get allocates nothing once the pair is known, also when the pairs
// alternate more than the front has slots (each lookup may miss the front).
func TestCacheGetAllocatesNothing(t *testing.T) {
	var c Cache[[4]int]
	ops := make([]string, 2*FrontSize)
	for i := range ops {
		ops[i] = strings.Repeat("o", i+1)
		c.Get("p", ops[i])
	}
	allocs := testing.AllocsPerRun(100, func() {
		for _, op := range ops {
			c.Get("p", op)
		}
	})
	if allocs != 0 {
		t.Fatalf("Get allocated %.1f times per round, want 0", allocs)
	}
}

// LoadWrapperSet stores at most MaxWrapperSets label sets, then reports
// false and stores nothing more.
func TestLoadWrapperSetBound(t *testing.T) {
	var m cowmap.Map[int, int]
	for i := range MaxWrapperSets {
		if _, ok := LoadWrapperSet(&m, i, func() int { return i }); !ok {
			t.Fatalf("set %d refused, want stored", i)
		}
	}
	if v, ok := LoadWrapperSet(&m, 7, func() int { return -1 }); !ok || v != 7 {
		t.Fatalf("known set: got %d, %v; want 7, true", v, ok)
	}
	if _, ok := LoadWrapperSet(&m, MaxWrapperSets, func() int { return 0 }); ok {
		t.Fatal("set beyond MaxWrapperSets stored")
	}
	if n := m.Len(); n != MaxWrapperSets {
		t.Fatalf("Len = %d, want %d", n, MaxWrapperSets)
	}
}
