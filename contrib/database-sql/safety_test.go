package redresssql_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	redresssql "github.com/redress-go/redress/contrib/database-sql"
	"github.com/redress-go/redress/core"
)

// The fault injector sits between the wrapper and the real pgx driver. On
// every path (statement, prepared statement, query, begin, commit) it may:
//
//   - fail before sending: driver.ErrBadConn, the connection dies, nothing
//     reaches the database;
//   - fail after the database applied the statement: the reply is "lost"
//     (io.ErrUnexpectedEOF) and the connection dies;
//   - answer a serialization failure (40001) without running the statement,
//     as a database that rolled it back does.
type fault uint8

const (
	faultNone fault = iota
	faultBefore
	faultAfter
	faultRolledBack
)

type injector struct {
	mu      sync.Mutex
	r       *rand.Rand
	counts  map[string]int   // path/fault -> count
	seen    map[string]int   // path -> calls
	afterOn map[int64]string // logical id -> path hit by faultAfter
}

func newInjector(seed uint64) *injector {
	return &injector{r: rand.New(rand.NewPCG(seed, 7)), counts: map[string]int{}, seen: map[string]int{}, afterOn: map[int64]string{}}
}

func (in *injector) pick(path string, allowRolledBack bool) fault {
	in.mu.Lock()
	defer in.mu.Unlock()
	// The first calls of each path get every fault once, so that each
	// fault is sure to happen on each path; then they are random.
	in.seen[path]++
	x := in.r.Float64()
	f := faultNone
	switch n := in.seen[path]; {
	case n <= 3 && (n < 3 || allowRolledBack):
		f = fault(n)
	case x < 0.12:
		f = faultBefore
	case x < 0.18:
		f = faultAfter
	case x < 0.30 && allowRolledBack:
		f = faultRolledBack
	}
	if f != faultNone {
		in.counts[fmt.Sprintf("%s/%d", path, f)]++
	}
	return f
}

func (in *injector) noteAfter(args []driver.NamedValue, path string) {
	if len(args) == 0 {
		return
	}
	if id, ok := args[0].Value.(int64); ok {
		in.mu.Lock()
		in.afterOn[id] = path
		in.mu.Unlock()
	}
}

var errLostReply = fmt.Errorf("injected: reply lost after the database applied the statement: %w", io.ErrUnexpectedEOF)

func serializationFailure() error {
	return &pgconn.PgError{Severity: "ERROR", Code: "40001", Message: "injected serialization failure"}
}

type faultConnector struct {
	inner driver.Connector
	in    *injector
}

func (c *faultConnector) Connect(ctx context.Context) (driver.Conn, error) {
	ic, err := c.inner.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &faultConn{inner: ic, in: c.in}, nil
}
func (c *faultConnector) Driver() driver.Driver { return c.inner.Driver() }

type faultConn struct {
	inner driver.Conn
	in    *injector
	dead  bool
	inTx  bool
}

func (c *faultConn) kill() { c.dead = true; _ = c.inner.Close() }

func (c *faultConn) Prepare(q string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), q)
}
func (c *faultConn) Close() error {
	if c.dead {
		return nil
	}
	return c.inner.Close()
}
func (c *faultConn) Begin() (driver.Tx, error) { return nil, errors.New("legacy Begin not used") }
func (c *faultConn) IsValid() bool             { return !c.dead }
func (c *faultConn) ResetSession(ctx context.Context) error {
	if c.dead {
		return driver.ErrBadConn
	}
	return c.inner.(driver.SessionResetter).ResetSession(ctx)
}
func (c *faultConn) Ping(ctx context.Context) error {
	if c.dead {
		return driver.ErrBadConn
	}
	return c.inner.(driver.Pinger).Ping(ctx)
}
func (c *faultConn) CheckNamedValue(nv *driver.NamedValue) error {
	return c.inner.(driver.NamedValueChecker).CheckNamedValue(nv)
}

func (c *faultConn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	if c.dead {
		return nil, driver.ErrBadConn
	}
	switch c.in.pick("exec", true) {
	case faultBefore:
		c.kill()
		return nil, driver.ErrBadConn
	case faultRolledBack:
		return nil, serializationFailure()
	case faultAfter:
		_, err := c.inner.(driver.ExecerContext).ExecContext(ctx, q, args)
		c.kill()
		if err == nil && !c.inTx {
			c.in.noteAfter(args, "exec")
		}
		return nil, errLostReply
	}
	return c.inner.(driver.ExecerContext).ExecContext(ctx, q, args)
}

func (c *faultConn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	if c.dead {
		return nil, driver.ErrBadConn
	}
	switch c.in.pick("query", true) {
	case faultBefore:
		c.kill()
		return nil, driver.ErrBadConn
	case faultRolledBack:
		return nil, serializationFailure()
	case faultAfter:
		rows, err := c.inner.(driver.QueryerContext).QueryContext(ctx, q, args)
		if err == nil {
			_ = rows.Close()
			if !c.inTx {
				c.in.noteAfter(args, "query")
			}
		}
		c.kill()
		return nil, errLostReply
	}
	return c.inner.(driver.QueryerContext).QueryContext(ctx, q, args)
}

func (c *faultConn) PrepareContext(ctx context.Context, q string) (driver.Stmt, error) {
	if c.dead {
		return nil, driver.ErrBadConn
	}
	st, err := c.inner.(driver.ConnPrepareContext).PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	return &faultStmt{inner: st, c: c}, nil
}

func (c *faultConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if c.dead {
		return nil, driver.ErrBadConn
	}
	if c.in.pick("begin", false) == faultBefore {
		c.kill()
		return nil, driver.ErrBadConn
	}
	tx, err := c.inner.(driver.ConnBeginTx).BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	c.inTx = true
	return &faultTx{inner: tx, c: c}, nil
}

type faultTx struct {
	inner driver.Tx
	c     *faultConn
	ids   []int64
}

func (t *faultTx) Commit() error {
	t.c.inTx = false
	if t.c.dead {
		return driver.ErrBadConn
	}
	switch t.c.in.pick("commit", true) {
	case faultBefore:
		t.c.kill() // the server rolls the open transaction back
		return driver.ErrBadConn
	case faultRolledBack:
		_ = t.inner.Rollback()
		return serializationFailure()
	case faultAfter:
		err := t.inner.Commit()
		t.c.kill()
		if err == nil {
			t.c.in.mu.Lock()
			t.c.in.counts["commit/applied"]++
			t.c.in.mu.Unlock()
		}
		return errLostReply
	}
	return t.inner.Commit()
}

func (t *faultTx) Rollback() error {
	t.c.inTx = false
	if t.c.dead {
		return driver.ErrBadConn
	}
	return t.inner.Rollback()
}

type faultStmt struct {
	inner driver.Stmt
	c     *faultConn
}

func (s *faultStmt) Close() error {
	if s.c.dead {
		return nil
	}
	return s.inner.Close()
}
func (s *faultStmt) NumInput() int                              { return s.inner.NumInput() }
func (s *faultStmt) Exec([]driver.Value) (driver.Result, error) { return nil, errors.New("legacy") }
func (s *faultStmt) Query([]driver.Value) (driver.Rows, error)  { return nil, errors.New("legacy") }
func (s *faultStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	if s.c.dead {
		return nil, driver.ErrBadConn
	}
	switch s.c.in.pick("stmt", true) {
	case faultBefore:
		s.c.kill()
		return nil, driver.ErrBadConn
	case faultRolledBack:
		return nil, serializationFailure()
	case faultAfter:
		_, err := s.inner.(driver.StmtExecContext).ExecContext(ctx, args)
		s.c.kill()
		if err == nil && !s.c.inTx {
			s.c.in.noteAfter(args, "stmt")
		}
		return nil, errLostReply
	}
	return s.inner.(driver.StmtExecContext).ExecContext(ctx, args)
}

// TestExactlyOnceUnderFaults is the data-safety proof: thousands of faults
// on every path, and every logical write is applied at most once; exactly
// once when the caller was told it succeeded; exactly once and reported as
// an error when the reply was lost after the database applied it. It runs
// with a subscriber on the bus (every statement through the full engine)
// and without one (a statement's first attempt made inline, core.Inline,
// and the engine taking over when it fails).
func TestExactlyOnceUnderFaults(t *testing.T) {
	t.Run("observed", func(t *testing.T) { exactlyOnceUnderFaults(t, true) })
	t.Run("inline", func(t *testing.T) { exactlyOnceUnderFaults(t, false) })
}

func exactlyOnceUnderFaults(t *testing.T, observed bool) {
	pc, rec := testPolicy(8)
	var sleeps atomic.Int64 // the policy sleeps before each of its retries
	if !observed {
		pc.Bus = nil
		pc.Sleeper = sleeperFunc(func() { sleeps.Add(1) })
	}
	in := newInjector(42)
	probe := openPG(t, redresssql.Config{}) // skips when PostgreSQL is absent
	_ = probe
	wc, err := redresssql.WrapConnector(&faultConnector{inner: pgConnector(t), in: in}, withPolicy(t, pc))
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(wc)
	t.Cleanup(func() { db.Close() })
	db.SetMaxOpenConns(4)

	tbl := table("once")
	audit := tbl + "_audit"
	raw := rawPG(t)
	mustExec(t, raw, "CREATE TABLE "+tbl+" (id bigint PRIMARY KEY, hits int NOT NULL)")
	mustExec(t, raw, "CREATE TABLE "+audit+" (id bigint PRIMARY KEY, hits int NOT NULL)")
	t.Cleanup(func() {
		mustExec(t, raw, "DROP TABLE IF EXISTS "+tbl)
		mustExec(t, raw, "DROP TABLE IF EXISTS "+audit)
	})
	upsert := "INSERT INTO " + tbl + " (id, hits) VALUES ($1, 1) ON CONFLICT (id) DO UPDATE SET hits = " + tbl + ".hits + 1"
	upsertAudit := "INSERT INTO " + audit + " (id, hits) VALUES ($1, 1) ON CONFLICT (id) DO UPDATE SET hits = " + audit + ".hits + 1"

	const workers, perWorker = 4, 100
	paths := []string{"exec", "stmt", "query", "tx"}
	type outcome struct {
		path string
		err  error
	}
	results := make(map[int64]outcome)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.Background()
			for k := range perWorker {
				id := int64(w*perWorker + k + 1)
				path := paths[int(id)%len(paths)]
				var err error
				switch path {
				case "exec":
					_, err = db.ExecContext(ctx, upsert, id)
				case "stmt":
					var st *sql.Stmt
					st, err = db.PrepareContext(ctx, upsert)
					if err == nil {
						_, err = st.ExecContext(ctx, id)
						st.Close()
					}
				case "query":
					var hits int
					err = db.QueryRowContext(ctx, upsert+" RETURNING hits", id).Scan(&hits)
					if err == nil && hits != 1 {
						err = fmt.Errorf("RETURNING hits = %d", hits)
					}
				case "tx":
					err = redresssql.RunInTx(ctx, db, nil, func(ctx context.Context, tx *sql.Tx) error {
						if _, err := tx.ExecContext(ctx, upsert, id); err != nil {
							return err
						}
						_, err := tx.ExecContext(ctx, upsertAudit, id)
						return err
					})
				}
				mu.Lock()
				results[id] = outcome{path, err}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()

	hits := map[int64]int{}
	auditHits := map[int64]int{}
	for name, m := range map[string]map[int64]int{tbl: hits, audit: auditHits} {
		rows, err := raw.Query("SELECT id, hits FROM " + name)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var id int64
			var h int
			if err := rows.Scan(&id, &h); err != nil {
				t.Fatal(err)
			}
			m[id] = h
		}
		rows.Close()
	}

	var ok, failed, lost, unknownCommits int
	for id, o := range results {
		h := hits[id]
		if h > 1 || auditHits[id] > 1 {
			t.Errorf("id %d (%s): applied %d times (audit %d): a retry wrote twice", id, o.path, h, auditHits[id])
		}
		if o.path == "tx" && h != auditHits[id] {
			t.Errorf("id %d: transaction half applied (%d vs %d)", id, h, auditHits[id])
		}
		if o.err == nil {
			ok++
			if h != 1 {
				t.Errorf("id %d (%s): reported success but applied %d times", id, o.path, h)
			}
			continue
		}
		failed++
		if p, hit := in.afterOn[id]; hit {
			lost++
			if h != 1 {
				t.Errorf("id %d (%s): reply lost after apply, applied %d times", id, p, h)
			}
			assertUnsafeStop(t, id, p, o.err)
		}
		if errors.Is(o.err, redresssql.ErrCommitUnknown) {
			unknownCommits++
			assertUnsafeStop(t, id, "commit", o.err)
		}
	}
	for id, p := range in.afterOn {
		if results[id].err == nil {
			t.Errorf("id %d (%s): the reply was lost after apply but the caller got success (retried?)", id, p)
		}
	}
	retries := int(sleeps.Load()) // without a subscriber
	if observed {
		retries = rec.Count(core.EventRetry)
	}
	t.Logf("writes: %d ok, %d failed (%d lost replies, %d unknown commits); faults: %v; retries: %d",
		ok, failed, lost, unknownCommits, in.counts, retries)

	// The test proves something only if every fault happened on every path
	// and retries happened.
	for _, p := range []string{"exec", "stmt", "query", "commit"} {
		for _, f := range []fault{faultBefore, faultAfter, faultRolledBack} {
			if in.counts[fmt.Sprintf("%s/%d", p, f)] == 0 {
				t.Errorf("fault %d never injected on %s", f, p)
			}
		}
	}
	if in.counts["begin/1"] == 0 {
		t.Error("no fault injected on begin")
	}
	if retries == 0 || ok < workers*perWorker/2 {
		t.Errorf("retries = %d, ok = %d: the wrapper did not recover", retries, ok)
	}
	if lost == 0 || unknownCommits == 0 {
		t.Errorf("lost replies = %d, unknown commits = %d: want both > 0", lost, unknownCommits)
	}
	if !observed {
		return // the rest reads the events
	}
	// The safety stop is a NotResendable mark, not an abort: no call ends as
	// aborted, and some end as permanent_fail with a retryable class (the
	// real class of a failure that was unsafe to retry).
	var unsafeStops int
	for _, e := range rec.All() {
		switch {
		case e.Kind == core.EventAborted:
			t.Errorf("aborted event (%s): the safety stop must be not_resendable", e.Operation)
		case e.Kind == core.EventPermanentFail && e.Class.Retryable():
			unsafeStops++
		}
	}
	if unsafeStops == 0 {
		t.Error("no permanent_fail with a retryable class: unsafe failures lost their class")
	}
}

// assertUnsafeStop checks that a write whose outcome was unknown stopped
// with StopNotResendable, marked core.NotResendable, keeping its retryable
// class.
func assertUnsafeStop(t *testing.T, id int64, path string, err error) {
	t.Helper()
	if r, ok := core.StopReasonOf(err); !ok || r != core.StopNotResendable {
		t.Errorf("id %d (%s): stop reason = %v (%v), want not_resendable: %v", id, path, r, ok, err)
	}
	if !core.IsNotResendable(err) {
		t.Errorf("id %d (%s): error not marked NotResendable: %v", id, path, err)
	}
	var re *core.RetryError
	if errors.As(err, &re) && !re.Class.Retryable() {
		t.Errorf("id %d (%s): class = %v, want the lost reply's retryable class", id, path, re.Class)
	}
}
