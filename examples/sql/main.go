// Command sql shows redresssql on an embedded SQLite database: two
// connections contend for the write lock, the autocommit INSERT that meets
// SQLITE_BUSY is retried (the database rolled it back), the same contention
// inside a transaction is reported and not retried, and RunInTx re-runs a
// whole transaction. Every decision is printed from the bus.
//
//	$ go run ./examples/sql
package main

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"modernc.org/sqlite"

	redresssql "github.com/redress-go/redress/contrib/database-sql"
	"github.com/redress-go/redress/core"
)

func main() {
	dir, err := os.MkdirTemp("", "redress-sql-example")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer os.RemoveAll(dir)
	if err := run(context.Background(), filepath.Join(dir, "app.db"), 50*time.Millisecond, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// printer prints the retry and terminal events; onRetry, if set, runs
// after a retry event is printed.
type printer struct {
	w       io.Writer
	onRetry func()
}

func (p printer) Events() core.EventSet { return core.TerminalEvents | core.EventsOf(core.EventRetry) }
func (p printer) Handle(_ context.Context, e core.Event) {
	switch e.Kind {
	case core.EventRetry:
		fmt.Fprintf(p.w, "  %-18s retry  class=%s reason=%s\n", e.Operation, e.Class, e.Reason)
		if p.onRetry != nil {
			p.onRetry()
		}
	case core.EventSuccess:
		if e.Outcome == core.OutcomeSuccessAfterRetry {
			fmt.Fprintf(p.w, "  %-18s %s after %d attempts\n", e.Operation, e.Outcome, e.Attempt)
		}
	default:
		fmt.Fprintf(p.w, "  %-18s %s class=%s reason=%s\n", e.Operation, e.Kind, e.Class, e.Reason)
	}
}

type connector struct {
	d   driver.Driver
	dsn string
}

func (c connector) Connect(context.Context) (driver.Conn, error) { return c.d.Open(c.dsn) }
func (c connector) Driver() driver.Driver                        { return c.d }

// run runs the demonstration on the SQLite file path; hold is how long the
// other connection keeps the write lock. With hold 0 (the test) the other
// connection commits at the first retry instead, so the run does not depend
// on timing: the retried statement then finds the lock free.
func run(ctx context.Context, path string, hold time.Duration, w io.Writer) error {
	var (
		mu     sync.Mutex
		commit func() // commits the current lock holder's transaction, once
	)
	commitNow := func() {
		mu.Lock()
		f := commit
		commit = nil
		mu.Unlock()
		if f != nil {
			f()
		}
	}
	pr := printer{w: w}
	backoff := hold / 4
	if hold == 0 {
		pr.onRetry = commitNow
		backoff = time.Millisecond
	}
	pc := redresssql.DefaultPolicyConfig()
	pc.Name, pc.Bus = "example", core.NewBus(pr)
	pc.Retry.MaxAttempts, pc.Retry.Strategy = 10, core.Constant(backoff)
	policy, err := core.NewPolicy(pc)
	if err != nil {
		return err
	}
	d, err := redresssql.Wrap(&sqlite.Driver{}, redresssql.Config{Policy: policy})
	if err != nil {
		return err
	}
	db := sql.OpenDB(connector{d, "file:" + path + "?_pragma=journal_mode(WAL)"})
	defer db.Close()
	if _, err := db.ExecContext(ctx, "CREATE TABLE visits (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)"); err != nil {
		return err
	}
	if _, err := db.ExecContext(ctx, "INSERT INTO visits VALUES (1, 0)"); err != nil {
		return err
	}

	lock := func() (release func(), err error) {
		c, err := db.Conn(ctx)
		if err != nil {
			return nil, err
		}
		if _, err := c.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
			c.Close()
			return nil, err
		}
		done := make(chan error, 1)
		mu.Lock()
		commit = func() {
			_, err := c.ExecContext(ctx, "COMMIT")
			c.Close()
			done <- err
		}
		mu.Unlock()
		if hold > 0 {
			go func() {
				time.Sleep(hold)
				commitNow()
			}()
		}
		return func() {
			commitNow() // if neither the timer nor a retry did
			if err := <-done; err != nil {
				fmt.Fprintf(w, "  lock holder: %v\n", err)
			}
		}, nil
	}

	fmt.Fprintln(w, "1. autocommit UPDATE while another connection holds the write lock:")
	release, err := lock()
	if err != nil {
		return err
	}
	_, err = db.ExecContext(core.ContextWithOperation(ctx, "CountVisit"), "UPDATE visits SET n = n + 1 WHERE id = 1")
	release()
	if err != nil {
		return err
	}

	fmt.Fprintln(w, "2. the same UPDATE inside a transaction (never retried):")
	release, err = lock()
	if err != nil {
		return err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	_, txErr := tx.ExecContext(core.ContextWithOperation(ctx, "CountVisitInTx"), "UPDATE visits SET n = n + 1 WHERE id = 1")
	_ = tx.Rollback()
	release()
	fmt.Fprintf(w, "  error returned to the caller: %v\n", txErr != nil)

	fmt.Fprintln(w, "3. RunInTx re-runs the whole transaction:")
	release, err = lock()
	if err != nil {
		return err
	}
	err = redresssql.RunInTx(core.ContextWithOperation(ctx, "CountTwice"), db, nil, func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "UPDATE visits SET n = n + 1 WHERE id = 1"); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, "UPDATE visits SET n = n + 1 WHERE id = 1")
		return err
	})
	release()
	if err != nil {
		return err
	}
	var n int
	if err := db.QueryRowContext(ctx, "SELECT n FROM visits WHERE id = 1").Scan(&n); err != nil {
		return err
	}
	fmt.Fprintf(w, "visits = %d (1 + 0 + 2: every write applied exactly once)\n", n)
	return nil
}
