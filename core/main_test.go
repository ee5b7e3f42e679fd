package core_test

import (
	"os/exec"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestCoreImportsStandardLibraryOnly guards the rule that the engine never
// imports a third-party package (tests may): beside the standard library,
// only the module's own internal packages and golang.org/x/time/rate (the
// Go project's token bucket, behind RateLimiter; issue 18 asked for it).
func TestCoreImportsStandardLibraryOnly(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v: %s", err, out)
	}
	for _, p := range strings.Fields(string(out)) {
		if p != "github.com/redress-go/redress/core" && !strings.HasPrefix(p, "github.com/redress-go/redress/internal/") && p != "golang.org/x/time/rate" {
			t.Errorf("core depends on non-standard package %s", p)
		}
	}
}
