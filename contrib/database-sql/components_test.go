package redresssql_test

import (
	"errors"
	"testing"

	"github.com/redress-go/redress/core"
)

// TestComponentsOnSQLite: the policy components work under the driver
// wrapper on embedded SQLite: an injected transient error is retried on
// every attempt and the statement never runs; a rate limiter refuses the
// statement beyond its burst, with its typed error.
func TestComponentsOnSQLite(t *testing.T) {
	faults, err := core.NewFaultInjector(core.FaultConfig{Rules: []core.FaultRule{{Rate: 1, Err: core.InjectedError(core.ClassTransient)}}})
	if err != nil {
		t.Fatal(err)
	}
	pc, rec := testPolicy(3)
	pc.Faults = faults
	db := openSQLite(t, sqliteFile(t), withPolicy(t, pc))
	mustExec(t, db, "CREATE TABLE comp (id INTEGER PRIMARY KEY)")
	faults.Enable()
	_, err = db.Exec("INSERT INTO comp (id) VALUES (1)")
	var ie *core.InjectedFaultError
	if !errors.As(err, &ie) || ie.Class != core.ClassTransient {
		t.Fatalf("Exec: %v, want the injected transient error", err)
	}
	if n := kinds(rec)["fault_injected"]; n != 3 {
		t.Errorf("%d faults injected, want 3 (every attempt)", n)
	}
	faults.Disable()
	var n int
	if err := db.QueryRow("SELECT count(*) FROM comp").Scan(&n); err != nil || n != 0 {
		t.Fatalf("count = %d, %v: want 0, the injected statement never ran", n, err)
	}

	// A burst of 2: the connect (under the policy too) and the CREATE.
	rl, err := core.NewRateLimiter(core.RateLimiterConfig{Name: "db", Rate: 0.01, Burst: 2})
	if err != nil {
		t.Fatal(err)
	}
	pc2, _ := testPolicy(1)
	pc2.Limiter = rl
	db2 := openSQLite(t, sqliteFile(t), withPolicy(t, pc2))
	if _, err := db2.Exec("CREATE TABLE comp (id INTEGER PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	_, err = db2.Exec("INSERT INTO comp (id) VALUES (1)")
	var le *core.LimitedError
	if !errors.As(err, &le) || le.Limiter != "db" {
		t.Errorf("second statement: %v, want a *LimitedError of db", err)
	}
}
