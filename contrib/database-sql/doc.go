// Package redresssql puts redress under database/sql: it wraps a driver or a
// connector once, and every statement, query, prepare, begin, commit and
// ping of the *sql.DB is classified, guarded by the database's circuit
// breaker, labelled (operation, db.system.name, db.query.summary) and
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
// marked with core.NotResendable: the policy stops with StopNotResendable
// (event "permanent_fail"), as redresshttp and redressgrpc do, while the
// breaker and the events see the failure's real class (a lost reply stays
// transient). The mark travels with the returned error, so an outer redress
// policy will not retry it either. Inside a transaction every failure is so
// marked (one attempt), but the mark is scoped to the statement: its error
// carries a copy of the policy's *core.RetryError without it, so that
// RunInTx, or a policy of the caller's around the whole transaction, can
// still run the transaction again (a COMMIT of unknown outcome keeps it).
// Its error says so ("redresssql: not retried inside a transaction: " and
// the database's error) rather than claiming a retry stop; inside RunInTx
// it reads as the database's error alone, so that RunInTx's error states
// one stop ("redress: stopped (max_attempts) after 3 attempts: ERROR: could
// not serialize access ..."). core.StopReasonOf, errors.Is and errors.As
// reach the policy's error and the driver's under it.
//
// # Configuration
//
// Config has the fields every redress wrapper has, with the same names and
// meanings as redresshttp.Config and redressgrpc.Config: Policy (nil: one
// built from DefaultPolicyConfig on Bus), Bus, Classifier (nil: Classify;
// every failed attempt is classified by it and marked with the result, so
// that it wins over the policy's classifier), Breaker (the template of the
// database's breaker; nil: DefaultBreakerConfig), DisableBreakers and
// Operation (names a statement from its text; nil: DeriveOperation). There
// is no BreakerKey: the breaker is per database, one per wrapped driver or
// connector, named after the policy, shared by every connection and by
// RunInTx (Breaker reads it). Contradictory fields are a *core.ConfigError
// naming the field, from Open, Wrap, WrapConnector or Register.
//
// RunInTx re-runs a whole transaction function in a new transaction when it
// fails with a concurrency-class error, and commits once. It is one
// operation: with core.ContextWithOperation(ctx, "Transfer") the bus records one
// "Transfer" call per RunInTx, and the calls inside it (BEGIN, the
// statements, COMMIT, ROLLBACK) are "Transfer/stmt", each with its own
// db.query.summary ("UPDATE accounts"), so that a dashboard's call rate
// and success ratio for Transfer count transactions only. A statement given
// its own name with core.ContextWithOperation inside the function keeps it.
//
// The wrapped driver, connector, connection and statement implement every
// optional driver interface database/sql looks for, and each method does
// what database/sql does when the driver lacks the interface (driver.ErrSkip
// from ExecContext so that database/sql prepares, Begin for default
// transaction options, nil from Ping, ...); rows are the driver's own.
// Reach the driver's connection from sql.Conn.Raw with Unwrap.
//
// # Wiring
//
//	pc := redresssql.DefaultPolicyConfig()
//	pc.Name, pc.Bus = "users-db", bus
//	policy, err := core.NewPolicy(pc)
//	if err != nil {
//		return err
//	}
//	db, err := redresssql.Open("pgx", dsn, redresssql.Config{Policy: policy}) // and the breaker "users-db"
//	if err != nil {
//		return err
//	}
//	ctx = core.ContextWithOperation(ctx, "GetUser")
//	err = db.QueryRowContext(ctx, "SELECT name FROM users WHERE id = $1", id).Scan(&name)
//
//	err = redresssql.RunInTx(ctx, db, &sql.TxOptions{Isolation: sql.LevelSerializable},
//		func(ctx context.Context, tx *sql.Tx) error { return nil /* all work through tx */ })
//
// # Drivers
//
// The package imports no database driver and registers none: a program
// links the drivers it imports itself (a SQLite-only program links no pgx
// and no MySQL driver; TestNoDriverLinked checks it). What the wrapper knows
// of a driver it reads without importing it, so that nothing needs plugging
// in:
//
//   - SQLSTATE codes through a SQLState() string method (pgx's
//     *pgconn.PgError, lib/pq's *pq.Error), pgx's "nothing was sent"
//     through SafeToRetry() bool, SQLite result codes through Code() int on
//     an error type of a SQLite package (modernc.org/sqlite);
//   - go-sql-driver/mysql's *MySQLError, which has no such method, by
//     reflection on its exported Number and SQLState fields, only for the
//     type of that name declared in the driver's own package;
//   - pgx's stdlib connection (for the liveness check before sending and
//     whether pgx closed its connection) through the exported Conn() and
//     PgConn() methods, found by reflection once per connection, only for a
//     type declared in a pgx package;
//   - a connection that broke under a call through driver.Validator (or
//     pgx closing it): the failure is then transient ("invalid_conn", as
//     go-sql-driver/mysql's "invalid connection") unless the classifier
//     knows it, and a COMMIT that failed so has an unknown outcome
//     (ErrCommitUnknown).
//
// This was chosen over one subpackage per driver with a classifier to plug
// in: with plug-ins, a program that forgot one would lose the retry safety
// rules (which failures mean "rolled back") without any sign. The fields
// and methods read are the drivers' exported API.
//
// # Concurrency
//
// Wrapped drivers and connectors are safe for concurrent use, as database/sql
// requires; a wrapped connection, like a driver's, is used by one goroutine
// at a time. RunInTx is safe for concurrent use.
package redresssql
