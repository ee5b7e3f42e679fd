package redresssql_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	redresssql "github.com/redress-go/redress/contrib/database-sql"
	"github.com/redress-go/redress/core"
)

// TestMariaDBDeadlockRunInTx: a real InnoDB deadlock (1213) is resolved by
// RunInTx re-running the victim; every increment is applied once.
func TestMariaDBDeadlockRunInTx(t *testing.T) {
	pc, rec := testPolicy(10)
	tn := newTurns(2) // the victim re-runs once the winner has finished
	pc.Sleeper = tn
	db := openMySQL(t, withPolicy(t, pc))
	tbl := table("mdl")
	mustExec(t, db, "CREATE TABLE "+tbl+" (id int PRIMARY KEY, v int NOT NULL) ENGINE=InnoDB")
	t.Cleanup(func() { mustExec(t, db, "DROP TABLE IF EXISTS "+tbl) })
	mustExec(t, db, "INSERT INTO "+tbl+" VALUES (1, 0), (2, 0)")

	b := newBarrier(2)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer tn.done()
			first, second := 1, 2
			if i == 1 {
				first, second = 2, 1
			}
			errs[i] = redresssql.RunInTx(context.Background(), db, nil, func(ctx context.Context, tx *sql.Tx) error {
				if _, err := tx.ExecContext(ctx, "UPDATE "+tbl+" SET v = v + 1 WHERE id = ?", first); err != nil {
					return err
				}
				b.wait(i)
				_, err := tx.ExecContext(ctx, "UPDATE "+tbl+" SET v = v + 10 WHERE id = ?", second)
				return err
			})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("transaction %d: %v", i, err)
		}
	}
	var v1, v2 int
	if err := db.QueryRow("SELECT (SELECT v FROM "+tbl+" WHERE id=1), (SELECT v FROM "+tbl+" WHERE id=2)").Scan(&v1, &v2); err != nil {
		t.Fatal(err)
	}
	if v1 != 11 || v2 != 11 {
		t.Fatalf("v1, v2 = %d, %d; want 11, 11", v1, v2)
	}
	if rs := retryReasons(rec); !slices.Contains(rs, "mysql_1213") {
		t.Fatalf("retry reasons = %v, want mysql_1213", rs)
	}
	for _, e := range rec.All() {
		if e.Labels.DBSystem != "mysql" {
			t.Fatalf("db.system.name = %q, want mysql", e.Labels.DBSystem)
		}
	}
}

// sleeperFunc is a core.Sleeper that runs f instead of sleeping.
type sleeperFunc func()

func (f sleeperFunc) Sleep(ctx context.Context, _ time.Duration) error { f(); return ctx.Err() }

// TestSQLiteBusyAutocommitRetried: a second connection holds the write lock;
// an autocommit INSERT gets a real SQLITE_BUSY, which SQLite documents as
// safe to retry outside an explicit transaction. The lock is released while
// the policy sleeps, the retry succeeds and the row is written once. With a
// subscriber (full engine) and without (first attempt inline).
func TestSQLiteBusyAutocommitRetried(t *testing.T) {
	for _, observed := range []bool{true, false} {
		t.Run(fmt.Sprint("observed=", observed), func(t *testing.T) {
			dsn, tbl, lock := heldSQLite(t, "busy")

			pc, rec := testPolicy(3)
			if !observed {
				pc.Bus = nil
			}
			sleeps := 0
			pc.Sleeper = sleeperFunc(func() {
				if sleeps++; sleeps == 1 {
					mustExec(t, lock, "COMMIT")
				}
			})
			db := openSQLite(t, dsn, withPolicy(t, pc))
			if _, err := db.Exec("INSERT INTO " + tbl + " (id) VALUES (1)"); err != nil {
				t.Fatalf("insert: %v", err)
			}
			var n int
			if err := db.QueryRow("SELECT count(*) FROM " + tbl).Scan(&n); err != nil || n != 1 {
				t.Fatalf("count = %d, %v; want 1", n, err)
			}
			if sleeps != 1 {
				t.Fatalf("the policy slept %d times, want 1 (one retry)", sleeps)
			}
			if rs := retryReasons(rec); observed && !slices.Equal(rs, []string{"sqlite_busy"}) {
				t.Fatalf("retry reasons = %v, want [sqlite_busy]", rs)
			}
		})
	}
}

// TestSQLiteBusyInsideTxNotRetried: the same busy error inside a transaction
// is classified (concurrency) and returned after one attempt.
func TestSQLiteBusyInsideTxNotRetried(t *testing.T) {
	dsn, tbl, lock := heldSQLite(t, "busytx")
	defer mustExec(t, lock, "ROLLBACK")

	pc, rec := testPolicy(3)
	db := openSQLite(t, dsn, withPolicy(t, pc))
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	rec.Reset()
	if _, err := tx.Exec("INSERT INTO " + tbl + " (id) VALUES (1)"); err == nil {
		t.Fatal("insert under a held write lock succeeded")
	}
	if rs := retryReasons(rec); len(rs) != 0 {
		t.Fatalf("retried inside a transaction: %v", rs)
	}
	if k := kinds(rec); k["permanent_fail"] != 1 || k["aborted"] != 0 {
		t.Fatalf("events = %v, want permanent_fail (not_resendable in a transaction)", k)
	}
	var found bool
	for _, e := range rec.All() {
		if e.Kind == core.EventAttemptEnd {
			found = true
			if e.Class != core.ClassConcurrency || e.Reason != "sqlite_busy" {
				t.Fatalf("attempt_end = %v/%q, want concurrency/sqlite_busy", e.Class, e.Reason)
			}
		}
	}
	if !found {
		t.Fatal("no attempt_end published")
	}
	// Regression: the failed statement must not stop the ROLLBACK that
	// follows it (the wrapper's safety stop is per call).
	rec.Reset()
	if err := tx.Rollback(); err != nil {
		t.Fatalf("rollback after a failed statement: %v", err)
	}
	if k := kinds(rec); k["success"] != 1 {
		t.Fatalf("rollback events = %v, want one success", k)
	}
}

// TestRunInTxStopReasons: RunInTx re-runs fn only after a concurrency-class
// failure; any other failure of fn stops it after one run with
// StopNonRetryableClass (event permanent_fail) and the failure's real class,
// and fn can refuse a re-run itself with core.NoRetry.
func TestRunInTxStopReasons(t *testing.T) {
	errBoom := errors.New("boom")
	conflict := core.Classify(errors.New("conflict"), core.Classification{Class: core.ClassConcurrency, Reason: "test_conflict"})
	cases := []struct {
		name  string
		fail  error // returned by fn's first run
		runs  int
		stop  core.StopReason
		class core.Class
	}{
		{"unknown error is not re-run", errBoom, 1, core.StopNonRetryableClass, core.ClassUnknown},
		{"concurrency error is re-run", conflict, 2, core.StopNone, core.ClassConcurrency},
		{"NoRetry from fn is honoured", core.NoRetry(conflict), 1, core.StopNonRetryableClass, core.ClassConcurrency},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pc, rec := testPolicy(3)
			db := openSQLite(t, sqliteFile(t), withPolicy(t, pc))
			tbl := table("txstop")
			mustExec(t, db, "CREATE TABLE "+tbl+" (id INTEGER PRIMARY KEY)")
			rec.Reset()
			runs := 0
			err := redresssql.RunInTx(context.Background(), db, nil, func(ctx context.Context, tx *sql.Tx) error {
				runs++
				if _, err := tx.ExecContext(ctx, "INSERT INTO "+tbl+" (id) VALUES (1)"); err != nil {
					return err
				}
				if runs == 1 {
					return tc.fail
				}
				return nil
			})
			if runs != tc.runs {
				t.Fatalf("fn ran %d times, want %d", runs, tc.runs)
			}
			var n int
			if qerr := db.QueryRow("SELECT count(*) FROM " + tbl).Scan(&n); qerr != nil {
				t.Fatal(qerr)
			}
			if tc.stop == core.StopNone {
				if err != nil || n != 1 {
					t.Fatalf("RunInTx = %v, rows = %d; want nil and 1", err, n)
				}
				return
			}
			if !errors.Is(err, tc.fail) || n != 0 {
				t.Fatalf("RunInTx = %v, rows = %d; want %v and 0 (rolled back)", err, n, tc.fail)
			}
			if r, ok := core.StopReasonOf(err); !ok || r != tc.stop {
				t.Fatalf("stop reason = %v (%v), want %v", r, ok, tc.stop)
			}
			var found bool
			for _, e := range rec.All() {
				if e.Kind == core.EventAborted {
					t.Fatalf("aborted event for %s", e.Operation)
				}
				if e.Kind == core.EventPermanentFail && e.Operation == "transaction" {
					found = true
					if e.Class != tc.class {
						t.Fatalf("permanent_fail class = %v, want %v", e.Class, tc.class)
					}
				}
			}
			if !found {
				t.Fatal("no permanent_fail event for the transaction")
			}
		})
	}
}

// TestOpenBreakerNeverStrandsATransaction is the regression test for a
// ROLLBACK (or COMMIT) refused by an open breaker: the connection went back
// to the pool still inside its transaction, and every later BEGIN on it
// failed with "cannot start a transaction within a transaction".
func TestOpenBreakerNeverStrandsATransaction(t *testing.T) {
	for _, end := range []string{"rollback", "commit"} {
		t.Run(end, func(t *testing.T) {
			br, err := core.NewBreaker(core.BreakerConfig{FailureThreshold: 1, RecoveryTimeout: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			pc, _ := testPolicy(1)
			pc.Breaker = br
			db := openSQLite(t, sqliteFile(t), withPolicy(t, pc))
			db.SetMaxOpenConns(1) // the next transaction gets the same connection
			tbl := table("strand")
			mustExec(t, db, "CREATE TABLE "+tbl+" (id INTEGER PRIMARY KEY)")

			tx, err := db.Begin()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tx.Exec("INSERT INTO " + tbl + " (id) VALUES (1)"); err != nil {
				t.Fatal(err)
			}
			p, _ := br.Allow() // the downstream looks unhealthy: the breaker opens
			p.Failure(core.ClassTransient)
			if br.State() != core.StateOpen {
				t.Fatal("breaker did not open")
			}
			if end == "rollback" {
				err = tx.Rollback()
			} else {
				err = tx.Commit()
			}
			if err != nil {
				t.Fatalf("%s with an open breaker: %v", end, err)
			}
			br.Reset()
			tx2, err := db.Begin()
			if err != nil {
				t.Fatalf("BEGIN after a %s under an open breaker: %v", end, err)
			}
			var n int
			if err := tx2.QueryRow("SELECT count(*) FROM " + tbl).Scan(&n); err != nil {
				t.Fatal(err)
			}
			_ = tx2.Rollback()
			want := map[string]int{"rollback": 0, "commit": 1}[end]
			if n != want {
				t.Fatalf("rows after %s = %d, want %d", end, n, want)
			}
		})
	}
}

// killMySQL kills the MariaDB/MySQL connection id from another connection
// and waits until the server has dropped it.
func killMySQL(t *testing.T, raw *sql.DB, id int) {
	t.Helper()
	mustExec(t, raw, fmt.Sprintf("KILL CONNECTION %d", id))
	for range 1000 {
		var n int
		if err := raw.QueryRow("SELECT count(*) FROM information_schema.processlist WHERE id = ?", id).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
	t.Fatalf("connection %d still alive", id)
}

// TestMariaDBCommitOnKilledConnUnknown: the server drops the connection
// inside a RunInTx transaction; go-sql-driver/mysql writes the COMMIT and
// finds no answer ("invalid connection"), so the outcome is unknown
// (ErrCommitUnknown), not retried, and the attempt is a transient
// connection failure ("invalid_conn") for the breaker. The wrapper learns it
// from the driver's driver.Validator, without importing the driver.
func TestMariaDBCommitOnKilledConnUnknown(t *testing.T) {
	pc, rec := testPolicy(3)
	db := openMySQL(t, withPolicy(t, pc))
	raw := openMySQL(t, redresssql.Config{})
	tbl := table("mkill")
	mustExec(t, db, "CREATE TABLE "+tbl+" (id int PRIMARY KEY) ENGINE=InnoDB")
	t.Cleanup(func() { mustExec(t, raw, "DROP TABLE IF EXISTS "+tbl) })

	runs := 0
	err := redresssql.RunInTx(context.Background(), db, nil, func(ctx context.Context, tx *sql.Tx) error {
		runs++
		if _, err := tx.ExecContext(ctx, "INSERT INTO "+tbl+" VALUES (1)"); err != nil {
			return err
		}
		var id int
		if err := tx.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&id); err != nil {
			return err
		}
		rec.Reset()
		killMySQL(t, raw, id)
		return nil
	})
	if !errors.Is(err, redresssql.ErrCommitUnknown) {
		t.Fatalf("RunInTx = %v, want ErrCommitUnknown", err)
	}
	if r, ok := core.StopReasonOf(err); !ok || r != core.StopNotResendable || !core.IsNotResendable(err) || runs != 1 {
		t.Fatalf("stop = %v (%v), NotResendable %v, runs %d: want one run, not_resendable, NotResendable", r, ok, core.IsNotResendable(err), runs)
	}
	var found bool
	for _, e := range rec.All() {
		if e.Kind == core.EventAttemptEnd && e.Labels.DBOperation == "COMMIT" {
			found = true
			if e.Class != core.ClassTransient || e.Reason != "invalid_conn" {
				t.Fatalf("COMMIT attempt_end = %v/%q, want transient/invalid_conn", e.Class, e.Reason)
			}
		}
	}
	if !found {
		t.Fatal("no attempt_end for COMMIT")
	}
}

// TestRunInTxRetriesBusyBegin: with BEGIN IMMEDIATE (_txlock=immediate) a
// second connection's write lock makes the BEGIN itself fail with
// SQLITE_BUSY. fn has not run, so RunInTx re-runs the transaction like any
// concurrency failure; held throughout, its error states one stop.
func TestRunInTxRetriesBusyBegin(t *testing.T) {
	for _, release := range []bool{true, false} {
		t.Run(fmt.Sprintf("released=%v", release), func(t *testing.T) {
			dsn, tbl, lock := heldSQLite(t, "busybegin")
			if !release {
				defer mustExec(t, lock, "ROLLBACK")
			}
			pc, rec := testPolicy(3)
			sleeps := 0
			pc.Sleeper = sleeperFunc(func() {
				if sleeps++; sleeps == 1 && release {
					mustExec(t, lock, "COMMIT")
				}
			})
			db := openSQLite(t, dsn+"?_txlock=immediate", withPolicy(t, pc))
			runs := 0
			err := redresssql.RunInTx(core.ContextWithOperation(context.Background(), "Place"), db, nil, func(ctx context.Context, tx *sql.Tx) error {
				runs++
				_, err := tx.ExecContext(ctx, "INSERT INTO "+tbl+" (id) VALUES (1)")
				return err
			})
			if release {
				if err != nil || runs != 1 || sleeps != 1 {
					t.Fatalf("RunInTx = %v after %d runs of fn, %d sleeps; want nil, 1, 1", err, runs, sleeps)
				}
				return
			}
			if err == nil || runs != 0 {
				t.Fatalf("RunInTx = %v after %d runs of fn; want an error, no run", err, runs)
			}
			if reason, _ := core.StopReasonOf(err); reason != core.StopMaxAttempts {
				t.Errorf("stop reason %v, want max_attempts (every BEGIN was busy)", reason)
			}
			if n := strings.Count(err.Error(), "stopped"); n != 1 {
				t.Errorf("error states %d stops, want 1: %v", n, err)
			}
			var retries int
			for _, e := range rec.All() {
				if e.Kind == core.EventRetry && e.Operation == "Place" {
					retries++
				}
			}
			if retries != 2 {
				t.Errorf("%d retries of Place, want 2", retries)
			}
		})
	}
}
