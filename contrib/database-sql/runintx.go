package redresssql

import (
	"context"
	"database/sql"
	"errors"

	"github.com/redress-go/redress/core"
)

// ErrCommitUnknown is matched (errors.Is) by the error of a COMMIT (tx.Commit
// or RunInTx) that failed without an answer from the database (the
// connection broke): the transaction may or may not have been committed, so
// it was not retried. The wrapper knows the database answered when the
// error carries a database code or the driver still holds its connection
// usable (driver.Validator, pgx); for a database not opened through this
// package, RunInTx knows it only from a database code.
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
// ROLLBACK ends them all the same, and no work of the failed run survives.
// Any other failure is returned after one attempt, keeping its real class
// for the breaker and the events: fn's errors and failures to begin
// (already retried by the wrapped connection when that was safe) marked
// with core.NoRetry (stop reason StopNonRetryableClass, event
// permanent_fail), a commit whose outcome is unknown (ErrCommitUnknown)
// with core.NotResendable (StopNotResendable, permanent_fail). fn may
// return core.NoRetry(err) itself to refuse a re-run of a concurrency
// failure. A statement inside fn is never sent twice (it stops with
// StopNotResendable), but that mark stays with the statement: it does not
// stop RunInTx from running the transaction again.
//
// fn must do all its database work through tx, and must be safe to run more
// than once: effects outside the database (sending mail, charging a card)
// belong after RunInTx returns. fn may return errors wrapping the driver's
// (fmt.Errorf with %w): the class is read through the chain.
//
// The policy is the one db was wrapped with (Open, Wrap, WrapConnector,
// Register); for a database not opened through this package it is
// Config{}'s, without a breaker. The operation label is the context's (core.ContextWithOperation), else
// "transaction"; the calls inside are labelled with it and "/stmt" (see
// core.ContextWithOperation). RunInTx returns nil or the policy's error, which wraps the
// last failure; a failed statement's error inside fn reads as the
// database's own, so that this error states one stop.
func RunInTx(ctx context.Context, db *sql.DB, opts *sql.TxOptions, fn func(ctx context.Context, tx *sql.Tx) error) error {
	w := wrapperOf(db)
	call := core.Call{Operation: core.OperationFromContext(ctx), Labels: core.Labels{DBSystem: w.system, DBOperation: "transaction"}, Breaker: w.breaker}
	// The calls inside (BEGIN, fn's statements, COMMIT) are labelled
	// Operation + "/stmt", and their errors read as the database's: the
	// transaction is the call (see core.ContextWithOperation, txErr).
	ctx = context.WithValue(ctx, txScopeKey{}, newTxScope(call.Operation))
	if call.Operation == "" {
		call.Operation = "transaction"
	}
	wrapped := w != defaultWrapper
	// Every failure that must not be retried is marked with core.NoRetry
	// (or core.NotResendable for a commit that may have been applied): the
	// policy stops and the breaker and the events see the failure's real
	// class.
	return w.run(ctx, &call, func(ctx context.Context) error {
		tx, err := db.BeginTx(ctx, opts)
		if err != nil {
			// fn has not run: a BEGIN the database refused for concurrent
			// work (SQLite busy under BEGIN IMMEDIATE, a lock wait) is
			// worth a new transaction like a failure of fn; any other
			// failure the connection already retried where that was safe.
			err = beginCause(err)
			if txRetryable(w, err) {
				return err
			}
			return core.NoRetry(err)
		}
		if err := fn(ctx, tx); err != nil {
			_ = tx.Rollback()
			if txRetryable(w, err) {
				return err
			}
			return core.NoRetry(err)
		}
		if err := tx.Commit(); err != nil {
			if errors.Is(err, ErrCommitUnknown) {
				return core.NotResendable(err) // the wrapped connection found no answer
			}
			if !wrapped {
				// A database not opened through this package: without its
				// connection, only an SQL error is known to be an answer.
				if _, ok := classifySQL(err); !ok {
					return core.NotResendable(&commitError{err: err})
				}
			}
			if txRetryable(w, err) {
				// The database refused the commit: PostgreSQL has rolled
				// back, and database/sql ends the transaction after Commit
				// either way.
				return err
			}
			return core.NoRetry(err) // the database answered: rolled back
		}
		return nil
	})
}

// run runs attempt under the wrapper's policy, driving a core.Step.
func (w *wrapper) run(ctx context.Context, call *core.Call, attempt func(context.Context) error) error {
	var s core.Step
	s.Begin(ctx, w.policy, call)
	defer s.Close()
	for s.Next() {
		s.End(w.mark(attempt(s.Context())))
	}
	return s.Err()
}

// beginCause returns the database's error under the stop of a BEGIN call
// (its *core.RetryError and any core.NoRetry or core.NotResendable mark),
// so that RunInTx's error states one stop and its classifier sees the
// failure itself.
func beginCause(err error) error {
	if re, ok := err.(*core.RetryError); ok && re.Err != nil {
		err = re.Err
	}
	for core.IsNoRetry(err) || core.IsNotResendable(err) {
		u := errors.Unwrap(err)
		if u == nil {
			break
		}
		err = u
	}
	return err
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
	return w.classify(err).Class == core.ClassConcurrency
}

// txErr returns the error of a call made inside a transaction (a
// statement, PREPARE, COMMIT, ROLLBACK), which runs once (see attemptErr):
// a *core.RetryError becomes a *txStmtError, whose text does not claim a
// retry stop the call never had, and whose RetryError no longer carries
// the core.NotResendable mark of the statement's attempt: that mark says
// the statement cannot be sent again inside its transaction, not that the
// transaction cannot be run again, so it must not stop an outer policy
// (RunInTx's, or the caller's own around a transaction). A COMMIT whose
// outcome is unknown (ErrCommitUnknown) keeps it. Other errors are
// returned as they are.
func (c *conn) txErr(err error) error {
	if !c.inTx || err == nil {
		return err
	}
	return c.txStmtErr(err)
}

// txStmtErr is txErr for the failure of a statement inside a transaction.
func (c *conn) txStmtErr(err error) error {
	re, ok := err.(*core.RetryError)
	if !ok || re.Err == nil {
		return err
	}
	if !errors.Is(re.Err, ErrCommitUnknown) {
		cp := *re // the stop, its class, attempts and cause, unchanged
		cp.Err = resendable(re.Err)
		re = &cp
	}
	return &txStmtError{re: re, inRunInTx: c.scope != nil}
}

// resendable returns err without the core.NotResendable mark attemptErr
// put on top of it.
func resendable(err error) error {
	if core.IsNotResendable(err) {
		if u := errors.Unwrap(err); u != nil && !core.IsNotResendable(u) {
			return u
		}
	}
	return err
}

// txStmtError is the error of a call inside a transaction. It wraps the
// policy's *core.RetryError, its NotResendable mark taken off (see txErr):
// core.StopReasonOf, errors.Is and errors.As reach it and the driver's
// error under it. Its text:
//
//   - inside RunInTx, the failure's own text: the transaction is the call
//     that is retried, and RunInTx's error states the one stop;
//   - in a transaction begun with db.BeginTx, "redresssql: not retried
//     inside a transaction: " and the failure, for a call that ran its one
//     attempt; the policy's text when the call stopped for another reason
//     (a class never retried, the caller's context, a deadline).
type txStmtError struct {
	re        *core.RetryError
	inRunInTx bool
}

func (e *txStmtError) Error() string {
	switch {
	case e.inRunInTx:
		return e.re.Err.Error()
	case (e.re.Reason == core.StopNotResendable || e.re.Reason == core.StopMaxAttempts) && e.re.Attempts == 1:
		return "redresssql: not retried inside a transaction: " + e.re.Err.Error()
	}
	return e.re.Error()
}

func (e *txStmtError) Unwrap() error { return e.re }

// commitError marks a commit whose outcome is unknown.
type commitError struct{ err error }

func (e *commitError) Error() string        { return ErrCommitUnknown.Error() + ": " + e.err.Error() }
func (e *commitError) Unwrap() error        { return e.err }
func (e *commitError) Is(target error) bool { return target == ErrCommitUnknown }

// defaultWrapper serves RunInTx for a database not opened through this
// package: Config{}'s policy, without a breaker (it would be shared by
// every such database).
var defaultWrapper = func() *wrapper {
	w, err := newWrapper(Config{DisableBreakers: true}, nil)
	if err != nil {
		panic(err) // unreachable: the zero Config is valid
	}
	return w
}()

// Breaker returns the circuit breaker of db, a database opened through
// this package (Open, Wrap, WrapConnector, Register), or nil when its
// breaker is disabled (Config.DisableBreakers) or db was not opened so. Use
// it for health checks and dashboards; do not record outcomes on it.
func Breaker(db *sql.DB) *core.Breaker {
	if d, ok := db.Driver().(*wdriver); ok {
		return d.w.breaker
	}
	return nil
}

// wrapperOf returns the configuration db was wrapped with.
func wrapperOf(db *sql.DB) *wrapper {
	if d, ok := db.Driver().(*wdriver); ok {
		return d.w
	}
	return defaultWrapper
}
