package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"time"

	_ "modernc.org/sqlite" // the embedded SQLite driver, registered as "sqlite"

	redresssql "github.com/redress-go/redress/contrib/database-sql"
	"github.com/redress-go/redress/core"
)

// The SQLite upstream is an embedded database file shared by the clients.
// Its failures are real ones, not injected. Transactions take the write lock
// when they begin (BEGIN IMMEDIATE) and wait up to busyTimeout for it, so
// concurrent orders queue instead of colliding: a deferred transaction that
// reads and then writes fails with SQLITE_BUSY as soon as another writer
// got in first, and at the demo's concurrency those collisions alone
// tripped the breaker in the healthy phase. Reads go through the wrapped
// connection as "SELECT orders", transactions as "PlaceOrder". During an
// outage phase a "migration" holds the database's write lock on an
// unwrapped connection: every write waits out the busy timeout and fails
// with SQLITE_BUSY (class concurrency; reads still succeed, WAL),
// redresssql.RunInTx gives up within the policy's attempts and budget, and
// the policy's breaker, which counts concurrency failures by ratio, opens.

// busyTimeout is how long a statement waits for a lock another connection
// holds before it fails with SQLITE_BUSY: far longer than a healthy
// transaction holds the write lock, short enough that an outage's writes
// fail within the call timeout.
const busyTimeout = 250 * time.Millisecond

// sqlPause is the extra pause of a SQL client between calls.
const sqlPause = 60 * time.Millisecond

type sqlClient struct {
	db *sql.DB
}

func (u *upstreams) startSQLite(cur *current, bus *core.Bus, s schedule) error {
	dir, err := os.MkdirTemp("", "redress-demo-")
	if err != nil {
		return err
	}
	u.closers = append(u.closers, func() { _ = os.RemoveAll(dir) })
	dsn := fmt.Sprintf("file:%s?_pragma=busy_timeout(%d)&_pragma=journal_mode(WAL)&_txlock=immediate",
		filepath.Join(dir, "orders.db"), busyTimeout.Milliseconds())
	budget, err := demoBudget(s)
	if err != nil {
		return err
	}
	// A healthy database fails no attempt (transactions queue for the write
	// lock), so a count of failures opens the breaker: SQLITE_BUSY
	// (concurrency) included, for the outage's migration. (A ratio would
	// open late: the reads keep succeeding, and each healthy transaction
	// counts six successful attempts, its statements and itself.)
	// The database's breaker is named after the policy: "orders-db".
	breaker := breakerTemplate("", core.BreakerConfig{
		TripOn:           core.SetOf(core.ClassTransient, core.ClassServerError, core.ClassConcurrency),
		FailureThreshold: 10, Window: 10 * time.Second, RecoveryTimeout: 5 * time.Second,
	}, s)
	policy, err := core.NewPolicy(core.PolicyConfig{
		Name:   "orders-db",
		Bus:    bus,
		Retry:  core.RetryConfig{MaxAttempts: 5, Strategy: core.FullJitter(2*time.Millisecond, 50*time.Millisecond), Classifier: redresssql.Classify},
		Budget: budget,
	})
	if err != nil {
		return err
	}
	db, err := redresssql.Open("sqlite", dsn, redresssql.Config{Policy: policy, Breaker: breaker})
	if err != nil {
		return err
	}
	u.closers = append(u.closers, func() { _ = db.Close() })
	db.SetMaxOpenConns(8)
	ctx := context.Background()
	for _, q := range []string{
		`CREATE TABLE IF NOT EXISTS orders (id INTEGER PRIMARY KEY, item INTEGER NOT NULL, qty INTEGER NOT NULL)`,
		`CREATE TABLE IF NOT EXISTS stock (item INTEGER PRIMARY KEY, qty INTEGER NOT NULL)`,
		`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 99) INSERT OR IGNORE INTO stock (item, qty) SELECT i, 1000000 FROM n`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	if err := u.startMigration(cur, dsn); err != nil {
		return err
	}
	u.names = append(u.names, "orders sqlite://"+filepath.Join(dir, "orders.db")+" (embedded)")
	u.clients = append(u.clients, &sqlClient{db: db})
	u.budgets = append(u.budgets, budgetRef{policy: "orders-db", b: budget})
	return nil
}

func (c *sqlClient) call(ctx context.Context, i int) {
	// A local database answers in microseconds: pace its clients so that
	// they do not drown the networked upstreams in the summary.
	defer sleepCtx(ctx, sqlPause)
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	item := i % 100
	if i%3 != 0 {
		var n int
		_ = c.db.QueryRowContext(ctx, `SELECT count(*) FROM orders WHERE item = ?`, item).Scan(&n)
		return
	}
	ctx = core.ContextWithOperation(ctx, "PlaceOrder")
	_ = redresssql.RunInTx(ctx, c.db, nil, func(ctx context.Context, tx *sql.Tx) error {
		var qty int
		if err := tx.QueryRowContext(ctx, `SELECT qty FROM stock WHERE item = ?`, item).Scan(&qty); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE stock SET qty = ? WHERE item = ?`, qty-1, item); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO orders (item, qty) VALUES (?, 1)`, item)
		return err
	})
}

// startMigration holds the database's write lock, on a plain (unwrapped)
// connection, while an outage phase is in force.
func (u *upstreams) startMigration(cur *current, dsn string) error {
	raw, err := sql.Open("sqlite", dsn)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	u.closers = append(u.closers, func() { cancel(); <-done; _ = raw.Close() })
	go func() {
		defer close(done)
		var conn *sql.Conn
		for ctx.Err() == nil {
			out := cur.phase().faults.locked
			switch {
			case out && conn == nil:
				c, err := raw.Conn(ctx)
				if err != nil {
					break
				}
				if _, err := c.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
					_ = c.Close()
					break
				}
				conn = c
			case !out && conn != nil:
				_, _ = conn.ExecContext(context.Background(), "ROLLBACK")
				_ = conn.Close()
				conn = nil
			}
			sleepCtx(ctx, 20*time.Millisecond)
		}
		if conn != nil {
			_, _ = conn.ExecContext(context.Background(), "ROLLBACK")
			_ = conn.Close()
		}
	}()
	return nil
}
