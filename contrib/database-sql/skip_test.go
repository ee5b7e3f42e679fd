package redresssql_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestSkipsWithoutDatabases runs the database tests again, in a child
// process of this test binary, with both DSNs pointing at a closed port:
// every one of them must skip, promptly, instead of failing or hanging
// (the RunInTx tests' Sleeper waits for the other transaction, which never
// starts when the database is absent).
func TestSkipsWithoutDatabases(t *testing.T) {
	if os.Getenv("REDRESS_SQL_SKIP_CHILD") == "1" {
		t.Skip("in the child process")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^Test(Postgres|MariaDB|MySQL)", "-test.v", "-test.count=1", "-test.timeout=2m")
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "REDRESS_REQUIRE_SERVICES=") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env,
		"REDRESS_SQL_SKIP_CHILD=1",
		"REDRESS_PG_DSN=postgres://root@127.0.0.1:1/test?sslmode=disable",
		"REDRESS_MYSQL_DSN=root@tcp(127.0.0.1:1)/test",
	)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("database tests without databases: %v\n%s", err, out)
	}
	var ran, skipped int
	for _, l := range strings.Split(string(out), "\n") {
		if name, ok := strings.CutPrefix(l, "=== RUN   "); ok && !strings.Contains(name, "/") {
			ran++
		}
		if strings.HasPrefix(l, "--- SKIP: ") {
			skipped++
		}
	}
	if ran < 3 || skipped != ran {
		t.Fatalf("%d database tests ran, %d skipped; want all skipped:\n%s", ran, skipped, out)
	}
}
