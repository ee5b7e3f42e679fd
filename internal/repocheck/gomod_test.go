package repocheck

import (
	"go/version"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// codeFloor is the oldest Go the code itself needs: testing/synctest's
// final API (Go 1.25).
const codeFloor = "1.25.0"

// TestGoDirectiveIsTheFloor: each go.mod's go directive is the highest go
// directive among the modules it depends on (the go command requires at
// least that) or codeFloor, as a release ("1.N.0"), and there is no
// toolchain line: a higher, patch-level minimum would make users of the
// earlier releases of that Go download a toolchain.
func TestGoDirectiveIsTheFloor(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is not in PATH: %v", err)
	}
	for _, mod := range []string{".", "bench"} {
		t.Run(mod, func(t *testing.T) {
			dir := filepath.Join(root(t), mod)
			var directive string
			for _, line := range strings.Split(read(t, filepath.Join(dir, "go.mod")), "\n") {
				f := strings.Fields(line)
				if len(f) == 2 && f[0] == "go" {
					directive = f[1]
				}
				if len(f) > 0 && f[0] == "toolchain" {
					t.Errorf("go.mod has a toolchain line: %s", line)
				}
			}
			cmd := exec.Command(goBin, "list", "-m", "-f", "{{if not .Main}}{{.Path}} {{.GoVersion}}{{end}}", "all")
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "GOTOOLCHAIN=local", "GOFLAGS=-mod=readonly")
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("go list -m all: %v", err)
			}
			floor, by := codeFloor, "the code (testing/synctest)"
			for _, line := range strings.Split(string(out), "\n") {
				f := strings.Fields(line)
				if len(f) == 2 && version.Compare("go"+f[1], "go"+floor) > 0 {
					floor, by = f[1], f[0]
				}
			}
			if version.Lang("go"+floor) == "go"+floor { // "1.26" → the release "1.26.0"
				floor += ".0"
			}
			if directive != floor {
				t.Fatalf("%s/go.mod says go %s; the floor is go %s (set by %s)", mod, directive, floor, by)
			}
		})
	}
}
