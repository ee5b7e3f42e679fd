package repocheck

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestDemoSampleIsRecorded: the README's sample output of the demo is an
// excerpt of docs/demo-output.txt, the run that examples/demo/record.sh
// recorded ("…" marks what the excerpt leaves out of a line).
func TestDemoSampleIsRecorded(t *testing.T) {
	dir := root(t)
	recorded := read(t, filepath.Join(dir, "docs", "demo-output.txt"))
	if !strings.HasPrefix(recorded, "$ go run ./examples/demo\n") || !strings.Contains(recorded, "\n== summary after ") {
		t.Fatalf("docs/demo-output.txt is not a whole recorded run of go run ./examples/demo")
	}
	lines := strings.Split(recorded, "\n")
	readme := read(t, filepath.Join(dir, "README.md"))
	intro := "An excerpt of a recorded run of `go run ./examples/demo`"
	i := strings.Index(readme, intro)
	if i < 0 {
		t.Fatalf("README: no %q", intro)
	}
	rest := readme[i:]
	start := strings.Index(rest, "\n```\n")
	if start < 0 {
		t.Fatal("README: no sample block after the introduction")
	}
	block := rest[start+5:]
	block = block[:strings.Index(block, "\n```")]
	next := 0 // excerpt lines are in the recorded order
	for _, ex := range strings.Split(block, "\n") {
		if ex == "" {
			continue
		}
		found := false
		for j := next; j < len(lines); j++ {
			if containsInOrder(lines[j], strings.Split(ex, "…")) {
				found, next = true, j+1
				break
			}
		}
		if !found {
			t.Errorf("README sample line not in docs/demo-output.txt (in order): %s", ex)
		}
	}
}

func containsInOrder(s string, parts []string) bool {
	for _, p := range parts {
		k := strings.Index(s, p)
		if k < 0 {
			return false
		}
		s = s[k+len(p):]
	}
	return true
}
