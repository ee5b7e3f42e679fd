package redresssql_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"

	redresssql "github.com/redress-go/redress/contrib/database-sql"
	"github.com/redress-go/redress/core"
)

// conflictDB is a database with an accounts table (rows 1 and 2) on which a
// transaction that has read row 1 can be made to fail its write with the
// database's concurrency error, deterministically: conflict, called inside
// the transaction after the read, makes another connection take what the
// write needs; release undoes it (the policy's sleeper calls it before a
// retry).
type conflictDB struct {
	db       *sql.DB
	tbl      string
	opts     *sql.TxOptions
	conflict func(t *testing.T)
	release  func(t *testing.T)
	dbErr    func(err error) (string, bool) // the driver's error text in err's chain
}

// conflictDBs open one conflictDB each, wrapped with cfg: PostgreSQL (a
// committed update of the row a REPEATABLE READ transaction read: 40001)
// and SQLite (another connection holding the write lock: SQLITE_BUSY).
var conflictDBs = []struct {
	name string
	open func(t *testing.T, cfg redresssql.Config) *conflictDB
}{
	{"postgresql", func(t *testing.T, cfg redresssql.Config) *conflictDB {
		db := openPG(t, cfg)
		raw := rawPG(t)
		tbl := table("acc")
		mustExec(t, raw, "CREATE TABLE "+tbl+" (id int PRIMARY KEY, balance int NOT NULL)")
		t.Cleanup(func() { mustExec(t, raw, "DROP TABLE IF EXISTS "+tbl) })
		mustExec(t, raw, "INSERT INTO "+tbl+" VALUES (1, 1000), (2, 0)")
		return &conflictDB{
			db: db, tbl: tbl,
			opts:     &sql.TxOptions{Isolation: sql.LevelRepeatableRead},
			conflict: func(t *testing.T) { mustExec(t, raw, "UPDATE "+tbl+" SET balance = balance WHERE id = 1") },
			release:  func(*testing.T) {},
			dbErr: func(err error) (string, bool) {
				var pe *pgconn.PgError
				if errors.As(err, &pe) && pe.Code == "40001" {
					return pe.Error(), true
				}
				return "", false
			},
		}
	}},
	{"sqlite", func(t *testing.T, cfg redresssql.Config) *conflictDB {
		dsn, tbl, lock := heldSQLite(t, "acc")
		mustExec(t, lock, "ROLLBACK")
		mustExec(t, lock, "ALTER TABLE "+tbl+" ADD COLUMN balance INTEGER NOT NULL DEFAULT 0")
		mustExec(t, lock, "INSERT INTO "+tbl+" VALUES (1, 1000), (2, 0)")
		held := false
		t.Cleanup(func() {
			if held {
				mustExec(t, lock, "ROLLBACK")
			}
		})
		return &conflictDB{
			db: openSQLite(t, dsn, cfg), tbl: tbl,
			conflict: func(t *testing.T) { mustExec(t, lock, "BEGIN IMMEDIATE"); held = true },
			release: func(t *testing.T) {
				if held {
					mustExec(t, lock, "COMMIT")
					held = false
				}
			},
			dbErr: func(err error) (string, bool) {
				var se *sqlite.Error
				if errors.As(err, &se) && se.Code()&0xff == 5 {
					return se.Error(), true
				}
				return "", false
			},
		}
	}},
}

// transfer is the transaction of the tests: it reads row 1, meets a
// conflict when conflict says so, then moves 1 from row 1 to row 2, the
// credit under an operation of its own.
func (cd *conflictDB) transfer(t *testing.T, conflict func() bool) func(ctx context.Context, tx *sql.Tx) error {
	return func(ctx context.Context, tx *sql.Tx) error {
		var b int
		if err := tx.QueryRowContext(ctx, "SELECT balance FROM "+cd.tbl+" WHERE id = 1").Scan(&b); err != nil {
			return err
		}
		if conflict() {
			cd.conflict(t)
		}
		if _, err := tx.ExecContext(ctx, "UPDATE "+cd.tbl+" SET balance = balance - 1 WHERE id = 1"); err != nil {
			return err
		}
		_, err := tx.ExecContext(core.ContextWithOperation(ctx, "Credit"), "UPDATE "+cd.tbl+" SET balance = balance + 1 WHERE id = 2")
		return err
	}
}

// TestRunInTxOperationIsTheTransaction: 80 RunInTx
// transactions labelled "Transfer", every other one meeting a real
// concurrency failure in its first run, all succeed: the bus records 80
// successful Transfer operations and no failed one. The calls inside
// (BEGIN, the statements, COMMIT, ROLLBACK) are "Transfer/stmt", with their
// own db.query.summary; a statement named inside fn keeps its name.
func TestRunInTxOperationIsTheTransaction(t *testing.T) {
	for _, tc := range conflictDBs {
		t.Run(tc.name, func(t *testing.T) {
			pc, rec := testPolicy(3)
			var cd *conflictDB
			pc.Sleeper = sleeperFunc(func() { cd.release(t) })
			cd = tc.open(t, withPolicy(t, pc))
			rec.Reset()
			ctx := core.ContextWithOperation(context.Background(), "Transfer")
			for i := range 80 {
				first := true
				err := redresssql.RunInTx(ctx, cd.db, cd.opts, cd.transfer(t, func() bool {
					c := first && i%2 == 0
					first = false
					return c
				}))
				if err != nil {
					t.Fatalf("transfer %d: %v", i, err)
				}
			}
			var b1, b2 int
			if err := cd.db.QueryRow("SELECT (SELECT balance FROM "+cd.tbl+" WHERE id = 1), (SELECT balance FROM "+cd.tbl+" WHERE id = 2)").Scan(&b1, &b2); err != nil || b1 != 920 || b2 != 80 {
				t.Fatalf("balances = %d, %d (%v); want 920, 80", b1, b2, err)
			}

			type key struct {
				op   string
				kind core.EventKind
			}
			n := map[key]int{}
			stmtFailures, mislabelled, failed := 0, map[string]int{}, map[core.EventKind]int{}
			for _, e := range rec.All() {
				n[key{e.Operation, e.Kind}]++
				if e.Operation == "Transfer" && e.Labels.DBOperation != "transaction" {
					mislabelled[e.Labels.DBOperation]++
				}
				if e.Operation == "Transfer/stmt" && e.Kind == core.EventAttemptEnd && e.Class == core.ClassConcurrency {
					stmtFailures++
				}
				if e.Kind.Terminal() && e.Operation == "Transfer" && e.Kind != core.EventSuccess {
					failed[e.Kind]++
				}
			}
			if len(mislabelled) != 0 {
				t.Errorf("events of calls inside the transaction labelled Transfer, by db.query.summary: %v", mislabelled)
			}
			if len(failed) != 0 {
				t.Errorf("failed Transfer operations: %v, want none", failed)
			}
			if got := n[key{"Transfer", core.EventSuccess}]; got != 80 {
				t.Errorf("successful Transfer operations = %d, want 80", got)
			}
			if got := n[key{"Transfer", core.EventRetry}]; got != 40 {
				t.Errorf("Transfer retries = %d, want 40 (one per conflicted transaction)", got)
			}
			if stmtFailures != 40 {
				t.Errorf("failed statements under Transfer/stmt = %d, want 40", stmtFailures)
			}
			if got := n[key{"Credit", core.EventSuccess}]; got != 80 {
				t.Errorf("Credit successes = %d, want 80 (a statement named inside fn keeps its name)", got)
			}
			for _, op := range []string{"BEGIN", "COMMIT", "ROLLBACK"} {
				labels := map[string]int{}
				for _, e := range rec.All() {
					if e.Kind == core.EventSuccess && e.Labels.DBOperation == op {
						labels[e.Operation]++
					}
				}
				if len(labels) != 1 || labels["Transfer/stmt"] == 0 {
					t.Errorf("%s labels = %v, want Transfer/stmt only", op, labels)
				}
			}
		})
	}
}

// TestTxErrorText: the error of a RunInTx that gave up states
// one stop, then the database's error; a statement inside a transaction
// begun with db.BeginTx, never retried, says so instead of claiming a
// not_resendable stop. errors.As still reaches the driver's error, and
// core.StopReasonOf reads the call's stop. RunInTx's three runs show that
// the statements' not_resendable marks do not reach its policy.
func TestTxErrorText(t *testing.T) {
	for _, tc := range conflictDBs {
		t.Run(tc.name, func(t *testing.T) {
			pc, _ := testPolicy(3)
			var cd *conflictDB
			pc.Sleeper = sleeperFunc(func() { cd.release(t) })
			cd = tc.open(t, withPolicy(t, pc))
			ctx := core.ContextWithOperation(context.Background(), "Transfer")

			runs := 0
			err := redresssql.RunInTx(ctx, cd.db, cd.opts, cd.transfer(t, func() bool { runs++; return true }))
			cd.release(t)
			dbText, ok := cd.dbErr(err)
			if !ok {
				t.Fatalf("RunInTx = %v; want the database's concurrency error in the chain", err)
			}
			if want := "redress: stopped (max_attempts) after 3 attempts: " + dbText; err.Error() != want || runs != 3 {
				t.Errorf("RunInTx error (%d runs) =\n  %s\nwant\n  %s", runs, err, want)
			}
			if r, ok := core.StopReasonOf(err); !ok || r != core.StopMaxAttempts {
				t.Errorf("StopReasonOf = %v, %v; want max_attempts", r, ok)
			}

			tx, err := cd.db.BeginTx(context.Background(), cd.opts)
			if err != nil {
				t.Fatal(err)
			}
			err = cd.transfer(t, func() bool { return true })(context.Background(), tx)
			_ = tx.Rollback()
			cd.release(t)
			dbText, ok = cd.dbErr(err)
			if !ok {
				t.Fatalf("statement = %v; want the database's concurrency error in the chain", err)
			}
			if want := "redresssql: not retried inside a transaction: " + dbText; err.Error() != want {
				t.Errorf("statement error =\n  %s\nwant\n  %s", err, want)
			}
			if strings.Contains(err.Error(), "stopped") {
				t.Errorf("a statement that was never retryable reports a stop: %v", err)
			}
			if r, ok := core.StopReasonOf(err); !ok || r != core.StopNotResendable || core.IsNotResendable(err) {
				t.Errorf("StopReasonOf = %v, %v, marked %v; want not_resendable (its one attempt), the mark taken off", r, ok, core.IsNotResendable(err))
			}
		})
	}
}
