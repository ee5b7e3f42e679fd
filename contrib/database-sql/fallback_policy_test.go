package redresssql_test

import (
	"context"
	"database/sql/driver"
	"strings"
	"testing"

	"github.com/redress-go/redress/core"
)

// TestPolicyFallback: on embedded SQLite whose write lock another
// connection holds, the insert fails with SQLITE_BUSY until the policy
// gives up, and database/sql returns the result the policy's Fallback
// supplied; a value of another type is an error that says so.
func TestPolicyFallback(t *testing.T) {
	dsn, tbl, _ := heldSQLite(t, "fallback")
	pc, rec := testPolicy(2)
	var reason core.StopReason
	pc.Fallback = func(_ context.Context, info core.FallbackInfo) (any, error) {
		reason = info.StopReason
		return driver.RowsAffected(7), nil
	}
	db := openSQLite(t, dsn, withPolicy(t, pc))
	res, err := db.Exec("INSERT INTO " + tbl + " (id) VALUES (1)")
	if err != nil {
		t.Fatalf("Exec: %v, want the fallback's result", err)
	}
	if n, _ := res.RowsAffected(); n != 7 {
		t.Errorf("RowsAffected = %d, want the fallback's 7", n)
	}
	if reason == core.StopNone || kinds(rec)["fallback"] != 1 || kinds(rec)["attempt_end"] < 2 {
		t.Errorf("stop reason %v, events %v: want a failed call after 2 attempts and one fallback", reason, kinds(rec))
	}

	pc2, _ := testPolicy(1)
	pc2.Fallback = core.FallbackValue("not a result")
	db2 := openSQLite(t, dsn, withPolicy(t, pc2))
	_, err = db2.Exec("INSERT INTO " + tbl + " (id) VALUES (2)")
	if err == nil || !strings.Contains(err.Error(), "string") || !strings.Contains(err.Error(), "driver.Result") {
		t.Errorf("err = %v, want one naming string and driver.Result", err)
	}
}
