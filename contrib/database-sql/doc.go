// Package redresssql puts redress under database/sql: it wraps a driver or a
// connector once, and every statement, query, prepare, begin, commit and
// ping of the *sql.DB is classified, guarded by the policy's circuit
// breaker, labelled (operation, db.system.name, db.operation.name) and
// published on the policy's bus. A retry happens only when the database did
// not apply the statement:
//
//   - outside a transaction, after a failure that says nothing was sent
//     (driver.ErrBadConn, pgx's SafeToRetry, a connection the wrapper found
//     closed before sending), or after the database reports that the
//     single autocommit statement was undone or refused because of
//     concurrent work (serialization failure, deadlock victim, lock wait
//     timeout, SQLite busy);
//   - never inside a transaction: the error is classified, published and
//     returned after one attempt;
//   - never once rows have been handed to the caller;
//   - never for a text holding several statements, nor on a connection whose
//     session was changed by BEGIN, SET, LOCK and the like, until the pool
//     resets it.
//
// When a retry would be unsafe outside a transaction, the attempt's error is
// marked with core.NoRetry: the policy stops with StopNonRetryableClass
// (event "permanent_fail") while the breaker and the events see the
// failure's real class (a lost reply stays transient). The mark travels with
// the returned error, so an outer redress policy will not retry it either.
// Inside a transaction the statement runs with Call.MaxAttempts = 1 (stop
// max_attempts_exceeded) and is not marked, so that RunInTx can still re-run
// the whole transaction.
//
// One policy, built from Config.Policy, serves every connection of a wrapped
// driver or connector and RunInTx.
//
// RunInTx re-runs a whole transaction function in a new transaction when it
// fails with a concurrency-class error, and commits once.
//
// The wrapped connection has exactly the optional driver interfaces of the
// driver's own (database/sql changes behaviour on each of them); reach the
// driver's connection from sql.Conn.Raw with Unwrap.
//
// # Wiring
//
//	db, err := redresssql.Open("pgx", dsn, redresssql.Config{Policy: core.PolicyConfig{
//		Name: "users-db", Breaker: breaker, Bus: bus,
//	}})
//	...
//	ctx = redresssql.WithOperation(ctx, "GetUser")
//	err = db.QueryRowContext(ctx, "SELECT name FROM users WHERE id = $1", id).Scan(&name)
//
//	err = redresssql.RunInTx(ctx, db, &sql.TxOptions{Isolation: sql.LevelSerializable},
//		func(ctx context.Context, tx *sql.Tx) error { ... })
//
// # Concurrency
//
// Wrapped drivers and connectors are safe for concurrent use, as database/sql
// requires; a wrapped connection, like a driver's, is used by one goroutine
// at a time. RunInTx is safe for concurrent use.
package redresssql
