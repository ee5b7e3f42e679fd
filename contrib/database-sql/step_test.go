package redresssql_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	redresssql "github.com/redress-go/redress/contrib/database-sql"
	"github.com/redress-go/redress/core"
	"github.com/redress-go/redress/core/coretest"
)

// Statements drive a core.Step in the wrapper's own frame: every attempt
// runs there, with no policy frame between database/sql and the driver,
// observed or not. The tests here check that, the breaker's probe given
// back when the driver panics, the session and transaction rules.

// stackConn is a driver connection (a unit stand-in: no database behind
// it) that records the functions on the stack of its last ExecContext and
// may panic there.
type stackConn struct {
	frames    []string
	panicNext bool
}

func (c *stackConn) Prepare(string) (driver.Stmt, error) { return nil, errors.New("not used") }
func (c *stackConn) Close() error                        { return nil }
func (c *stackConn) Begin() (driver.Tx, error)           { return nil, errors.New("not used") }
func (c *stackConn) ExecContext(context.Context, string, []driver.NamedValue) (driver.Result, error) {
	pcs := make([]uintptr, 64)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(1, pcs)])
	c.frames = c.frames[:0]
	for {
		f, more := frames.Next()
		c.frames = append(c.frames, f.Function)
		if !more {
			break
		}
	}
	if c.panicNext {
		c.panicNext = false
		panic("driver bug")
	}
	return driver.RowsAffected(1), nil
}

type stackDriver struct{ c *stackConn }

func (d stackDriver) Open(string) (driver.Conn, error) { return d.c, nil }

func openStack(t *testing.T, pc core.PolicyConfig) (*sql.DB, *stackConn) {
	t.Helper()
	sc := &stackConn{}
	d, err := redresssql.Wrap(stackDriver{sc}, withPolicy(t, pc))
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(connectorFor(d, ""))
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db, sc
}

func TestInlineFirstAttemptHasNoPolicyFrames(t *testing.T) {
	for _, observed := range []bool{false, true} {
		t.Run(fmt.Sprint("observed=", observed), func(t *testing.T) {
			pc, _ := testPolicy(3)
			if !observed {
				pc.Bus = nil
			}
			db, sc := openStack(t, pc)
			if _, err := db.Exec("UPDATE t SET v = 1"); err != nil {
				t.Fatal(err)
			}
			var engine []string
			for _, f := range sc.frames {
				if strings.Contains(f, "redress/core.") {
					engine = append(engine, f)
				}
			}
			if len(engine) > 0 {
				t.Fatalf("policy frames under the driver: %v; want none (the wrapper drives a core.Step)", engine)
			}
		})
	}
}

// A driver that panics during a half-open probe made inline gives the probe
// back: the next statement is admitted at once and closes the breaker.
func TestInlinePanicGivesTheProbeBack(t *testing.T) {
	clk := coretest.NewFakeClock(time.Unix(1000, 0))
	br, err := core.NewBreaker(core.BreakerConfig{FailureThreshold: 1, RecoveryTimeout: time.Minute, HalfOpenProbes: 1, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	db, sc := openStack(t, core.PolicyConfig{Name: "test", Breaker: br})
	if _, err := db.Exec("UPDATE t SET v = 1"); err != nil { // the connection is opened
		t.Fatal(err)
	}
	p, err := br.Allow()
	if err != nil {
		t.Fatal(err)
	}
	p.Failure(core.ClassServerError)
	clk.Advance(time.Minute)
	sc.panicNext = true
	func() {
		defer func() {
			if recover() == nil {
				t.Error("the driver's panic did not reach the caller")
			}
		}()
		_, _ = db.Exec("UPDATE t SET v = 1")
	}()
	if br.State() != core.StateHalfOpen {
		t.Fatalf("after the panicking probe: %s, want half-open", br.State())
	}
	if _, err := db.Exec("UPDATE t SET v = 1"); err != nil {
		t.Fatalf("statement after the panic: %v (the panicking probe kept its slot)", err)
	}
	if br.State() != core.StateClosed {
		t.Fatalf("after a successful probe: %s, want closed", br.State())
	}
}

// busySQLite returns a database file whose write lock another connection
// holds (BEGIN IMMEDIATE), a table in it, and a wrapped *sql.DB on it whose
// policy (3 attempts, no subscriber) counts its sleeps.
func busySQLite(t *testing.T) (db *sql.DB, tbl string, sleeps *int) {
	t.Helper()
	dsn, tbl, lock := heldSQLite(t, "inline")
	t.Cleanup(func() { mustExec(t, lock, "ROLLBACK") })
	pc, _ := testPolicy(3)
	pc.Bus = nil
	sleeps = new(int)
	pc.Sleeper = sleeperFunc(func() { *sleeps++ })
	return openSQLite(t, dsn, withPolicy(t, pc)), tbl, sleeps
}

// Inside a transaction a statement made inline is never retried: a real
// SQLITE_BUSY ends it after one attempt, not resendable (the mark is put on
// the failure of every attempt inside a transaction).
func TestInlineNoRetryInsideATransaction(t *testing.T) {
	db, tbl, sleeps := busySQLite(t)
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	_, err = tx.Exec("INSERT INTO " + tbl + " (id) VALUES (1)")
	if r, ok := core.StopReasonOf(err); err == nil || !ok || r != core.StopNotResendable || *sleeps != 0 {
		t.Fatalf("insert in a transaction under a held lock: %v (stop %v), %d sleeps; want one attempt, not_resendable", err, r, *sleeps)
	}
}

// A statement made inline that may change the session (here BEGIN on a
// pinned connection) is noted: a busy error on that connection afterwards
// is not retried, since the database rolled back only that statement, not
// what the session did before it.
func TestInlineSessionChangeIsNoted(t *testing.T) {
	db, tbl, sleeps := busySQLite(t)
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	mustExec(t, conn, "BEGIN")
	defer conn.ExecContext(context.Background(), "ROLLBACK")
	_, err = conn.ExecContext(context.Background(), "INSERT INTO "+tbl+" (id) VALUES (1)")
	if err == nil || *sleeps != 0 {
		t.Fatalf("insert after BEGIN under a held lock: %v, %d sleeps; want a failure and no retry", err, *sleeps)
	}
}
