package redresssql

import (
	"context"
	"database/sql"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/redress-go/redress/core"
)

// ErrCommitUnknown is matched (errors.Is) by the error of RunInTx when the
// COMMIT failed without an answer from the database (the connection broke):
// the transaction may or may not have been committed, so it was not retried.
var ErrCommitUnknown = errors.New("redresssql: commit outcome unknown")

// RunInTx runs fn in a transaction begun with opts (nil for the defaults)
// and commits it. When fn or the commit fails with a concurrency-class error
// (serialization failure 40001, deadlock 40P01, MySQL 1213 / 1205, SQLite
// busy / locked), RunInTx rolls the transaction back itself, waits as the
// policy says (backoff, budget, breaker, attempt limits) and runs fn again
// in a new transaction. It does not rely on the database having rolled the
// transaction back: PostgreSQL aborts it on 40001 / 40P01 and InnoDB rolls
// it back on a deadlock (1213), but a lock wait timeout (1205) rolls back
// only the statement and SQLite busy leaves the transaction open; the
// ROLLBACK ends them all the same, and no work of the failed run survives. Any other failure is
// returned after one attempt, marked with core.NoRetry (stop reason
// StopNonRetryableClass, event permanent_fail, the failure's real class):
// fn's errors, failures to begin (already retried by the wrapped connection
// when that was safe) and a commit whose outcome is unknown
// (ErrCommitUnknown). fn may return core.NoRetry(err) itself to refuse a
// re-run of a concurrency failure.
//
// fn must do all its database work through tx, and must be safe to run more
// than once: effects outside the database (sending mail, charging a card)
// belong after RunInTx returns. fn may return errors wrapping the driver's
// (fmt.Errorf with %w): the class is read through the chain.
//
// The policy is the one db was wrapped with (Open, Wrap, WrapConnector,
// Register); for a database not opened through this package it is
// Config{}'s. The operation label is the context's (WithOperation), else
// "transaction". RunInTx returns nil or the policy's error, which wraps the
// last failure.
func RunInTx(ctx context.Context, db *sql.DB, opts *sql.TxOptions, fn func(ctx context.Context, tx *sql.Tx) error) error {
	w := wrapperOf(db)
	call := core.Call{Operation: OperationFrom(ctx), Labels: core.Labels{DBSystem: w.system, DBOperation: "transaction"}}
	if call.Operation == "" {
		call.Operation = "transaction"
	}
	// Every failure that must not be retried is marked with core.NoRetry:
	// the policy stops (StopNonRetryableClass) and the breaker and the
	// events see the failure's real class.
	return w.policy.RunCall(ctx, &call, func(ctx context.Context) error {
		tx, err := db.BeginTx(ctx, opts)
		if err != nil {
			return core.NoRetry(err) // the connection already retried what was safe
		}
		if err := fn(ctx, tx); err != nil {
			_ = tx.Rollback()
			if txRetryable(w, err) {
				return err
			}
			return core.NoRetry(err)
		}
		if err := tx.Commit(); err != nil {
			if txRetryable(w, err) {
				// The database refused the commit: PostgreSQL has rolled
				// back, and database/sql ends the transaction after Commit
				// either way.
				return err
			}
			// A database that answered (an SQL error, pgx's "commit
			// unexpectedly resulted in rollback") rolled back; anything else
			// leaves the outcome unknown.
			if _, ok := classifySQL(err); (!ok || errors.Is(err, errConnDead)) && !errors.Is(err, pgx.ErrTxCommitRollback) {
				return core.NoRetry(&commitError{err: err})
			}
			return core.NoRetry(err)
		}
		return nil
	})
}

// txRetryable reports whether a failure inside a transaction came from
// concurrent work (serialization failure, deadlock, lock wait timeout, busy)
// so that the transaction, once rolled back, is worth running again.
func txRetryable(w *wrapper, err error) bool {
	if errors.Is(err, sql.ErrTxDone) {
		return false
	}
	if rolledBack(err) {
		return true
	}
	return w.cfg.Retry.Classifier(err).Class == core.ClassConcurrency
}

// commitError marks a commit whose outcome is unknown.
type commitError struct{ err error }

func (e *commitError) Error() string        { return ErrCommitUnknown.Error() + ": " + e.err.Error() }
func (e *commitError) Unwrap() error        { return e.err }
func (e *commitError) Is(target error) bool { return target == ErrCommitUnknown }

var defaultWrapper = func() *wrapper {
	w, err := newWrapper(Config{}, nil)
	if err != nil {
		panic(err) // unreachable: the zero Config is valid
	}
	return w
}()

// wrapperOf returns the configuration db was wrapped with.
func wrapperOf(db *sql.DB) *wrapper {
	switch d := db.Driver().(type) {
	case *wdriver:
		return d.w
	case *wdriverCtx:
		return d.w
	}
	return defaultWrapper
}
