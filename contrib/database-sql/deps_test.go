package redresssql_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// foreignDrivers are the import paths of database drivers that no package
// under contrib/database-sql may link: a program links the drivers it
// imports itself, and nothing else.
var foreignDrivers = []string{
	"github.com/jackc/pgx",
	"github.com/go-sql-driver/mysql",
	"github.com/lib/pq",
	"modernc.org/sqlite",
	"github.com/mattn/go-sqlite3",
}

// goTool runs the go command with args in the package directory and returns
// its standard output.
func goTool(t *testing.T, args ...string) string {
	t.Helper()
	bin, err := exec.LookPath("go") // go test puts GOROOT/bin first in PATH
	if err != nil {
		t.Skipf("skipping: no go command: %v", err)
	}
	out, err := exec.Command(bin, args...).Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, msg)
	}
	return string(out)
}

// TestNoDriverLinked: importing redresssql, or any package
// under it, links no database driver and registers none (its non-test
// files import the standard library and this module only, with core's
// golang.org/x/time/rate); a SQLite-only
// program links pgx, the MySQL driver and every other driver not at all,
// and sql.Drivers() in it lists "sqlite" alone.
func TestNoDriverLinked(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a program")
	}
	deps := strings.Fields(goTool(t, "list", "-deps", "./..."))
	for _, d := range deps {
		for _, f := range foreignDrivers {
			if d == f || strings.HasPrefix(d, f+"/") {
				t.Errorf("a package under contrib/database-sql links %s", d)
			}
		}
	}
	// Nothing outside the standard library and this module (and core's
	// golang.org/x/time/rate), so that no driver (known to the list above
	// or not) can be linked.
	for _, d := range strings.Fields(goTool(t, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", "./...")) {
		if !strings.HasPrefix(d, "github.com/redress-go/redress/") && d != "golang.org/x/time/rate" { // core's token bucket
			t.Errorf("a package under contrib/database-sql links %s, outside the standard library and this module", d)
		}
	}
	progDeps := strings.Fields(goTool(t, "list", "-deps", "./testdata/sqliteonly"))
	if !slices.Contains(progDeps, "modernc.org/sqlite") {
		t.Fatalf("the SQLite-only program does not link modernc.org/sqlite: %v", progDeps)
	}
	for _, d := range progDeps {
		for _, f := range foreignDrivers[:3] {
			if d == f || strings.HasPrefix(d, f+"/") {
				t.Errorf("the SQLite-only program links %s", d)
			}
		}
	}
	drivers := strings.Fields(goTool(t, "run", "./testdata/sqliteonly"))
	if !slices.Equal(drivers, []string{"sqlite"}) {
		t.Errorf("sql.Drivers() in the SQLite-only program = %v, want [sqlite]", drivers)
	}
}
