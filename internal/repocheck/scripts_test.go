package repocheck

import (
	"io/fs"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestScriptsKillNothingByName: CI and the scripts stop only the processes
// they started, by process id.
func TestScriptsKillNothingByName(t *testing.T) {
	dir := root(t)
	byName := regexp.MustCompile(`\b(pkill|killall|pgrep)\b`)
	scripts := []string{filepath.Join(dir, ".ci", "run")}
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".sh") {
			scripts = append(scripts, p)
		}
		return nil
	})
	for _, p := range scripts {
		for n, line := range strings.Split(read(t, p), "\n") {
			if byName.MatchString(line) {
				t.Errorf("%s:%d kills by name: %s", p, n+1, strings.TrimSpace(line))
			}
		}
	}
}
