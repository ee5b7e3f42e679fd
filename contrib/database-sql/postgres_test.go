package redresssql_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	redresssql "github.com/redress-go/redress/contrib/database-sql"
	"github.com/redress-go/redress/core"
)

// barrier makes the first attempt of n goroutines meet at one point.
type barrier struct {
	wg   sync.WaitGroup
	once []sync.Once
}

func newBarrier(n int) *barrier {
	b := &barrier{once: make([]sync.Once, n)}
	b.wg.Add(n)
	return b
}

func (b *barrier) wait(i int) {
	first := false
	b.once[i].Do(func() { first = true; b.wg.Done() })
	if first {
		b.wg.Wait()
	}
}

// turns is a core.Sleeper for concurrent transactions that makes a retry
// wait for its turn instead of for a time: Sleep returns once another
// participant finished (done) or every participant still running is
// waiting too. A loser thus re-runs after the winner committed, however
// slow the machine, and the test's outcome depends on no timing.
type turns struct {
	mu      sync.Mutex
	cond    sync.Cond
	running int // participants that have not finished
	waiting int
	epoch   int // bumped when one finishes or all are waiting
}

func newTurns(n int) *turns {
	s := &turns{running: n}
	s.cond.L = &s.mu
	return s
}

func (s *turns) Sleep(ctx context.Context, _ time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.epoch
	if s.waiting++; s.waiting >= s.running {
		s.epoch++
		s.cond.Broadcast()
	}
	for s.epoch == e {
		s.cond.Wait()
	}
	s.waiting--
	return ctx.Err()
}

// done records that a participant finished.
func (s *turns) done() {
	s.mu.Lock()
	s.running--
	s.epoch++
	s.mu.Unlock()
	s.cond.Broadcast()
}

// TestPostgresSerializationFailureRunInTx: two concurrent SERIALIZABLE
// transactions each read the total and insert total+1. One gets a real
// 40001; RunInTx runs it again and both complete with serial results.
func TestPostgresSerializationFailureRunInTx(t *testing.T) {
	pc, rec := testPolicy(10)
	tn := newTurns(2) // a loser re-runs once the winner has finished
	pc.Sleeper = tn
	db := openPG(t, withPolicy(t, pc))
	tbl := table("ser")
	mustExec(t, db, "CREATE TABLE "+tbl+" (n int NOT NULL)")
	t.Cleanup(func() { mustExec(t, rawPG(t), "DROP TABLE IF EXISTS "+tbl) })

	b := newBarrier(2)
	var runs atomic.Int32
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer tn.done()
			errs[i] = redresssql.RunInTx(context.Background(), db, &sql.TxOptions{Isolation: sql.LevelSerializable},
				func(ctx context.Context, tx *sql.Tx) error {
					runs.Add(1)
					var total int
					if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM "+tbl).Scan(&total); err != nil {
						return err
					}
					b.wait(i) // both have read before either writes
					_, err := tx.ExecContext(ctx, "INSERT INTO "+tbl+" (n) VALUES ($1)", total+1)
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
	var ns []int
	rows, err := db.Query("SELECT n FROM " + tbl + " ORDER BY n")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var n int
		_ = rows.Scan(&n)
		ns = append(ns, n)
	}
	rows.Close()
	if !slices.Equal(ns, []int{1, 2}) {
		t.Fatalf("rows = %v, want [1 2] (serial order)", ns)
	}
	if runs.Load() < 3 {
		t.Fatalf("fn ran %d times, want at least 3 (one re-run)", runs.Load())
	}
	if rs := retryReasons(rec); !slices.Contains(rs, "sqlstate_40001") {
		t.Fatalf("retry reasons = %v, want sqlstate_40001", rs)
	}
}

// TestPostgresDeadlockRunInTx: two transactions lock two rows in opposite
// orders; PostgreSQL picks a victim (40P01), RunInTx re-runs it, and each
// transaction's increments are applied once.
func TestPostgresDeadlockRunInTx(t *testing.T) {
	pc, rec := testPolicy(10)
	tn := newTurns(2) // a loser re-runs once the winner has finished
	pc.Sleeper = tn
	db := openPG(t, withPolicy(t, pc))
	tbl := table("dl")
	mustExec(t, db, "CREATE TABLE "+tbl+" (id int PRIMARY KEY, v int NOT NULL)")
	t.Cleanup(func() { mustExec(t, rawPG(t), "DROP TABLE IF EXISTS "+tbl) })
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
				if _, err := tx.ExecContext(ctx, "UPDATE "+tbl+" SET v = v + 1 WHERE id = $1", first); err != nil {
					return err
				}
				b.wait(i)
				_, err := tx.ExecContext(ctx, "UPDATE "+tbl+" SET v = v + 10 WHERE id = $1", second)
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
		t.Fatalf("v1, v2 = %d, %d; want 11, 11 (each increment once)", v1, v2)
	}
	if rs := retryReasons(rec); !slices.Contains(rs, "sqlstate_40P01") {
		t.Fatalf("retry reasons = %v, want sqlstate_40P01", rs)
	}
}

func backendPID(t *testing.T, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}) int {
	t.Helper()
	var pid int
	if err := q.QueryRowContext(context.Background(), "SELECT pg_backend_pid()").Scan(&pid); err != nil {
		t.Fatal(err)
	}
	return pid
}

func terminate(t *testing.T, pid int) {
	t.Helper()
	var ok bool
	if err := rawPG(t).QueryRow("SELECT pg_terminate_backend($1)", pid).Scan(&ok); err != nil || !ok {
		t.Fatalf("pg_terminate_backend(%d) = %v, %v", pid, ok, err)
	}
	// Wait until the backend is gone, so the test is deterministic.
	for range 200 {
		var n int
		_ = rawPG(t).QueryRow("SELECT count(*) FROM pg_stat_activity WHERE pid = $1", pid).Scan(&n)
		if n == 0 {
			return
		}
	}
	t.Fatalf("backend %d still alive", pid)
}

// TestPostgresTerminatedOutsideTxRetried: the server kills the pooled
// connection between two statements; the next INSERT is found to have a dead
// connection before it is sent, so it is retried on a new connection and
// applied once.
func TestPostgresTerminatedOutsideTxRetried(t *testing.T) {
	pc, rec := testPolicy(3)
	db := openPG(t, withPolicy(t, pc))
	db.SetMaxOpenConns(1)
	tbl := table("term")
	mustExec(t, db, "CREATE TABLE "+tbl+" (id int PRIMARY KEY)")
	t.Cleanup(func() { mustExec(t, rawPG(t), "DROP TABLE IF EXISTS "+tbl) })

	terminate(t, backendPID(t, db))
	rec.Reset()
	if _, err := db.Exec("INSERT INTO " + tbl + " (id) VALUES (1)"); err != nil {
		t.Fatalf("insert after terminate: %v", err)
	}
	var n int
	if err := db.QueryRow("SELECT count(*) FROM " + tbl).Scan(&n); err != nil || n != 1 {
		t.Fatalf("count = %d, %v; want 1", n, err)
	}
	if rs := retryReasons(rec); !slices.Equal(rs, []string{"conn_closed"}) {
		t.Fatalf("retry reasons = %v, want [conn_closed]", rs)
	}
	for _, e := range rec.All() {
		if e.Kind == core.EventSuccess && e.Labels.DBOperation == "INSERT "+tbl && e.Outcome != core.OutcomeSuccessAfterRetry {
			t.Fatalf("insert outcome = %v, want success_after_retry", e.Outcome)
		}
	}
}

// TestPostgresTerminatedPinnedConnNotRetried: on a pinned *sql.Conn that
// already ran a statement (its session may matter to the caller), a
// server-killed connection is not replaced in place: the wrapper answers
// driver.ErrBadConn without sending, and the policy stops with
// StopNotResendable (event permanent_fail) while the attempt keeps its
// real class (transient).
func TestPostgresTerminatedPinnedConnNotRetried(t *testing.T) {
	pc, rec := testPolicy(3)
	db := openPG(t, withPolicy(t, pc))
	tbl := table("pinned")
	mustExec(t, db, "CREATE TABLE "+tbl+" (id int PRIMARY KEY)")
	t.Cleanup(func() { mustExec(t, rawPG(t), "DROP TABLE IF EXISTS "+tbl) })

	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	terminate(t, backendPID(t, conn))
	rec.Reset()
	_, err = conn.ExecContext(ctx, "INSERT INTO "+tbl+" (id) VALUES (1)")
	if !errors.Is(err, driver.ErrBadConn) {
		t.Fatalf("insert on a killed pinned connection = %v, want driver.ErrBadConn", err)
	}
	if r, ok := core.StopReasonOf(err); !ok || r != core.StopNotResendable {
		t.Fatalf("stop reason = %v (%v), want not_resendable", r, ok)
	}
	if !core.IsNotResendable(err) {
		t.Fatal("error not marked NotResendable")
	}
	k := kinds(rec)
	if k["attempt_start"] != 1 || k["retry"] != 0 || k["permanent_fail"] != 1 || k["aborted"] != 0 {
		t.Fatalf("events = %v, want one attempt, no retry, one permanent_fail, no aborted", k)
	}
	for _, e := range rec.All() {
		if e.Kind == core.EventAttemptEnd && (e.Class != core.ClassTransient || e.Reason != "bad_conn") {
			t.Fatalf("attempt_end = %v/%q, want transient/bad_conn", e.Class, e.Reason)
		}
	}
	var n int
	if err := db.QueryRow("SELECT count(*) FROM " + tbl).Scan(&n); err != nil || n != 0 {
		t.Fatalf("count = %d, %v; want 0 (nothing sent)", n, err)
	}
}

// TestPostgresTerminatedInsideTxReported: the same kill inside a transaction
// is classified and published, never retried.
func TestPostgresTerminatedInsideTxReported(t *testing.T) {
	pc, rec := testPolicy(3)
	db := openPG(t, withPolicy(t, pc))
	tbl := table("termtx")
	mustExec(t, db, "CREATE TABLE "+tbl+" (id int PRIMARY KEY)")
	t.Cleanup(func() { mustExec(t, rawPG(t), "DROP TABLE IF EXISTS "+tbl) })

	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, tx, "INSERT INTO "+tbl+" (id) VALUES (1)")
	terminate(t, backendPID(t, tx))
	rec.Reset()
	_, err = tx.Exec("INSERT INTO " + tbl + " (id) VALUES (2)")
	if err == nil {
		t.Fatal("insert inside a killed transaction succeeded")
	}
	defer tx.Rollback()
	if rs := retryReasons(rec); len(rs) != 0 {
		t.Fatalf("retried inside a transaction: %v", rs)
	}
	k := kinds(rec)
	if k["attempt_end"] != 1 || k["permanent_fail"] != 1 {
		t.Fatalf("events = %v, want one attempt_end and permanent_fail (not_resendable)", k)
	}
	if r, ok := core.StopReasonOf(err); !ok || r != core.StopNotResendable || core.IsNotResendable(err) {
		t.Fatalf("stop = %v (%v), marked %v: want not_resendable, the mark left with the statement", r, ok, core.IsNotResendable(err))
	}
	for _, e := range rec.All() {
		if e.Kind == core.EventAttemptEnd && e.Class != core.ClassTransient {
			t.Fatalf("class = %v, want transient (%v)", e.Class, e.Err)
		}
	}
	var n int
	if err := db.QueryRow("SELECT count(*) FROM " + tbl).Scan(&n); err != nil || n != 0 {
		t.Fatalf("count = %d, %v; want 0 (the transaction died)", n, err)
	}
	if errors.Is(err, redresssql.ErrCommitUnknown) {
		t.Fatal("statement error must not be a commit error")
	}
}

// TestPostgresNoRetryAfterRowsHandedOut: an error raised while the caller
// reads rows (division by zero at the 3rd row, after pgx returned the first)
// is returned by rows.Err and the query is not run again.
func TestPostgresNoRetryAfterRowsHandedOut(t *testing.T) {
	pc, rec := testPolicy(3)
	db := openPG(t, withPolicy(t, pc))
	rec.Reset()
	rows, err := db.Query("SELECT 1 / (n - 3) FROM generate_series(1, 100000) AS n")
	if err != nil {
		t.Fatalf("query failed before rows were handed out: %v", err)
	}
	read := 0
	for rows.Next() {
		read++
	}
	err = rows.Err()
	rows.Close()
	if err == nil || read == 0 {
		t.Fatalf("read %d rows, err %v; want rows then a division-by-zero error", read, err)
	}
	if rs := retryReasons(rec); len(rs) != 0 {
		t.Fatalf("retried after rows were handed out: %v", rs)
	}
	if n := rec.Count(core.EventAttemptStart); n != 1 {
		t.Fatalf("attempts = %d, want 1", n)
	}
}
