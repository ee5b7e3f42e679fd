package redresssql_test

import (
	"context"
	"testing"
	"time"

	"github.com/redress-go/redress/core"
)

// TestHedgedReadOnPostgreSQL: on real PostgreSQL, a read whose first copy
// is slow (it sleeps on the caller's connection, found by its backend pid)
// is answered by a hedge sent on a connection of its own; the first copy
// is cancelled. A write, and a read inside a transaction, are never
// hedged.
func TestHedgedReadOnPostgreSQL(t *testing.T) {
	h, err := core.NewHedger(core.HedgeConfig{Delay: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	pc, rec := testPolicy(1)
	pc.Hedge = h
	db := openPG(t, withPolicy(t, pc))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var pid int
	if err := conn.QueryRowContext(ctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
		t.Fatal(err)
	}
	rec.Reset()
	start := time.Now()
	var got, answeredBy int
	// Only the caller's connection sleeps (10s); a hedge's answers at once.
	err = conn.QueryRowContext(ctx, "SELECT 42, pg_backend_pid() FROM (SELECT pg_sleep(CASE WHEN pg_backend_pid() = $1 THEN 10 ELSE 0 END)) AS s", pid).Scan(&got, &answeredBy)
	if err != nil {
		t.Fatalf("hedged read: %v", err)
	}
	if got != 42 || answeredBy == pid {
		t.Errorf("got %d from backend %d, want 42 from a backend other than the caller's %d", got, answeredBy, pid)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the read took %v: the hedge did not answer it", d)
	}
	if rec.Count(core.EventHedge) != 1 || rec.Count(core.EventHedgeWon) != 1 {
		t.Errorf("events %v, want one hedge and its hedge_won", rec.Names())
	}

	// pgx closes a connection whose query was cancelled: the caller's
	// pinned connection is gone (database/sql's pool replaces it for the
	// statements that follow, on db).
	_ = conn.Close()

	// An exec is not hedged, nor a read in a transaction.
	rec.Reset()
	if _, err := db.ExecContext(ctx, "SELECT 1"); err != nil { // Exec: not a query, never hedged
		t.Fatal(err)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var one int
	if err := tx.QueryRowContext(ctx, "SELECT 1 FROM (SELECT pg_sleep(0.1)) AS s").Scan(&one); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if n := rec.Count(core.EventHedge); n != 0 {
		t.Errorf("%d hedges for an exec and a read in a transaction, want 0", n)
	}
}
