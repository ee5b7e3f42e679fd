package redresssql

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"

	"github.com/redress-go/redress/core"
)

// conn is the wrapped connection. database/sql never uses a driver
// connection from two goroutines at once, so its fields need no lock. The
// fields every statement reads come first, to share few cache lines.
type conn struct {
	w      *wrapper
	policy *core.Policy // the wrapper's, shared by all its connections
	inner  driver.Conn
	// inner's optional interfaces, asserted once per driver connection
	// rather than on every statement: execer and queryer are its context
	// forms, else its legacy forms (legacyExecer), else nil.
	execer  driver.ExecerContext
	queryer driver.QueryerContext
	// legacyExec, legacyQuery: execer, queryer are legacyExecer.
	legacyExec, legacyQuery bool
	check                   func() error // liveness check before sending, or nil
	closed                  func() bool  // the driver closed its connection (pgx), or nil

	// An attempt whose failure would be unsafe to retry returns it marked
	// with core.NotResendable (see noRetry): the policy stops
	// (StopNotResendable) and the breaker and the events still see the
	// failure's real class. Inside a transaction every failure is so
	// marked (attemptErr).
	inTx bool
	// scope is the RunInTx transaction the connection is in, or nil.
	scope *txScope
	// session is set by a statement that may open a transaction or change
	// the session (BEGIN, SET, LOCK, ...), until the pool resets the
	// connection: statements are then never retried.
	session bool
	broken  bool

	skipExecArgs, skipQueryArgs bool // the driver answers ErrSkip to calls with arguments

	// used counts statements sent since the connection was opened or reset.
	// A dead connection is replaced in place only when none was: otherwise
	// a session the caller relies on (a pinned *sql.Conn) would silently
	// become a fresh one.
	used int
	gen  uint64 // bumped on every reconnection; statements check it

	// discard is set when database/sql would have discarded the connection
	// after rolling back its transaction (see wtx.Rollback): IsValid then
	// reports false, so that database/sql closes it.
	discard bool

	pinger    driver.Pinger
	preparer  driver.ConnPrepareContext
	beginner  driver.ConnBeginTx
	resetter  driver.SessionResetter
	validator driver.Validator
	checker   driver.NamedValueChecker
	connect   func(context.Context) (driver.Conn, error)

	stmts stmtCache // what the connection's recent statement texts need
}

func (c *conn) setInner(inner driver.Conn) {
	c.inner = inner
	c.check, c.closed = liveness(inner)
	c.execer, c.queryer, c.legacyExec, c.legacyQuery = nil, nil, false, false
	if e, ok := inner.(driver.ExecerContext); ok {
		c.execer = e
	} else if e, ok := inner.(driver.Execer); ok { //nolint:staticcheck // legacy drivers
		c.execer, c.legacyExec = legacyExecer{e: e}, true
	}
	if q, ok := inner.(driver.QueryerContext); ok {
		c.queryer = q
	} else if q, ok := inner.(driver.Queryer); ok { //nolint:staticcheck // legacy drivers
		c.queryer, c.legacyQuery = legacyExecer{q: q}, true
	}
	c.pinger, _ = inner.(driver.Pinger)
	c.preparer, _ = inner.(driver.ConnPrepareContext)
	c.beginner, _ = inner.(driver.ConnBeginTx)
	c.resetter, _ = inner.(driver.SessionResetter)
	c.validator, _ = inner.(driver.Validator)
	c.checker, _ = inner.(driver.NamedValueChecker)
}

// Unwrap returns the driver's own connection, for sql.Conn.Raw users:
//
//	conn.Raw(func(dc any) error { pg := redresssql.Unwrap(dc).(*stdlib.Conn); ... })
func (c *conn) Unwrap() driver.Conn { return c.inner }

// Unwrap returns the driver's connection under a connection opened by this
// package, or dc itself.
func Unwrap(dc any) any {
	if u, ok := dc.(interface{ Unwrap() driver.Conn }); ok {
		return u.Unwrap()
	}
	return dc
}

// noRetry marks err, the failure of an attempt that must not be sent
// again, with core.NotResendable: the policy stops (StopNotResendable)
// while the breaker and the events see the failure's real class. Inside a
// transaction it leaves err as it is: attemptErr marks every failure there.
func (c *conn) noRetry(err error) error {
	if c.inTx {
		return err
	}
	return core.NotResendable(err)
}

// attemptErr is the failure of an attempt as the policy sees it: marked
// with the wrapper's classification and, inside a transaction, where no
// statement is ever sent twice, with core.NotResendable (stop
// StopNotResendable). txErr takes that mark off the error the call
// returns, so that it does not stop an outer policy (RunInTx's) from
// running the whole transaction again.
func (c *conn) attemptErr(err error) error {
	if err == nil || core.IsAbort(err) {
		return err
	}
	err = c.w.mark(err)
	if c.inTx {
		err = core.NotResendable(err)
	}
	return err
}

// canReconnect reports whether a dead connection may be replaced in place.
func (c *conn) canReconnect() bool {
	return c.connect != nil && !c.inTx && !c.session && c.used == 0
}

// stmt returns what the statement text query needs, its operation name
// (Config.Operation) filled in.
func (c *conn) stmt(query string) *cachedStmt {
	e := c.stmts.lookup(query)
	if e.name == "" {
		e.name = c.w.name(query, e.op)
	}
	return e
}

// call fills the zero *call with the per-call options (filled in place: a
// core.Call is large enough for its copy to show on a fast statement): op
// is the db.query.summary, name the redress.operation name unless the
// context or the transaction gives one.
func (c *conn) call(ctx context.Context, call *core.Call, op, name string) {
	call.Operation = core.OperationFromContext(ctx)
	s := c.scope
	if s == nil {
		s = scopeFrom(ctx) // BEGIN, or a statement of fn sent outside tx
	}
	if s != nil && s.stmtOp != "" && (call.Operation == "" || call.Operation == s.op) {
		call.Operation = s.stmtOp // the transaction's label is the transaction's
	}
	if call.Operation == "" {
		call.Operation = name
	}
	call.Labels.DBSystem, call.Labels.DBOperation = c.w.system, op
	call.Breaker = c.w.breaker
}

// ready returns the connection to send on: it replaces a dead connection when
// that is safe and checks liveness before sending outside a transaction.
func (c *conn) ready(ctx context.Context, reconnect bool) (driver.Conn, error) {
	if c.broken {
		if !reconnect || !c.canReconnect() {
			// Nothing sent; database/sql moves to another connection or
			// reports, but this connection must not try again.
			return nil, c.noRetry(driver.ErrBadConn)
		}
		nc, err := c.connect(ctx)
		if err != nil {
			return nil, err // nothing was sent: retryable by class
		}
		_ = c.inner.Close()
		c.setInner(nc)
		c.broken = false
		c.gen++
	}
	if !c.inTx && c.check != nil {
		if err := c.check(); err != nil {
			c.broken = true
			if !reconnect || !c.canReconnect() {
				return nil, c.noRetry(driver.ErrBadConn)
			}
			return nil, fmt.Errorf("%w: %w", errConnDead, err)
		}
	}
	return c.inner, nil
}

// after records what a failed or successful attempt means for the retry and
// returns the attempt's error, marked with core.NotResendable when a retry
// would be unsafe. single reports whether the statement can be retried when the
// database says it rolled it back (a single statement, outside any
// transaction, on a connection whose session was not changed).
func (c *conn) after(err error, single bool, reconnect bool) error {
	if err == nil {
		c.used++
		return nil
	}
	return c.failed(err, single, reconnect)
}

// failed is after for a failed attempt.
func (c *conn) failed(err error, single bool, reconnect bool) error {
	sent := !notSent(err)
	if sent {
		c.used++
	}
	err = c.broke(err)
	switch {
	case !sent:
		if c.broken && (!reconnect || !c.canReconnect()) {
			return c.noRetry(err)
		}
		return err
	case single && !c.broken && rolledBack(err):
		return err // the database rolled the autocommit statement back: safe
	default:
		return c.noRetry(err) // it may have been applied
	}
}

// valid reports whether the driver holds its connection usable: its
// driver.Validator, else whether it closed it (pgx), else true.
func (c *conn) valid() bool {
	switch {
	case c.validator != nil:
		return c.validator.IsValid()
	case c.closed != nil:
		return !c.closed()
	}
	return true
}

// answered reports whether the driver affirms that its connection is still
// usable after a failure, so that the failure was the database's answer
// and not a connection that broke under the call.
func (c *conn) answered() bool {
	return !c.broken && (c.validator != nil || c.closed != nil) && c.valid()
}

// invalidated returns the error of a failure after which the driver
// reported its connection unusable (driver.Validator, or pgx closing it):
// classified transient ("invalid_conn") when the classifier knows nothing
// of it (go-sql-driver/mysql's "invalid connection", a driver's own "bad
// connection" text), so that the breaker counts a connection that broke
// under a call. Any other classification is kept.
func (c *conn) invalidated(err error) error {
	if c.w.classify(err).Class != core.ClassUnknown {
		return err
	}
	return core.Classify(err, core.Classification{Class: core.ClassTransient, Reason: "invalid_conn"})
}

// broke records a failure of the driver: the connection is broken when the
// driver said so (driver.ErrBadConn) or holds its connection unusable. It
// returns err, classified by invalidated in the second case.
func (c *conn) broke(err error) error {
	if errors.Is(err, driver.ErrBadConn) {
		c.broken = true
		return err
	}
	if !c.valid() {
		c.broken = true
		return c.invalidated(err)
	}
	return err
}

// single reports whether a statement may be retried after the database
// rolled it back; session is the statement's stmtInfo.session.
func (c *conn) single(session bool) bool {
	return !c.inTx && !c.session && !session
}

// noteSession records that the connection ran a statement that may open a
// transaction or change the session (stmtInfo.session).
func (c *conn) noteSession(session bool) {
	if session {
		c.session = true
	}
}

// result turns the policy's error into what database/sql expects.
func result(err error) error {
	if err == nil {
		return nil
	}
	return skipped(err)
}

func skipped(err error) error {
	if errors.Is(err, driver.ErrSkip) && core.IsAbort(err) {
		return driver.ErrSkip
	}
	return err
}

// opName is the operation name of a statement read by scan (see
// DeriveOperation).
func opName(info stmtInfo) string {
	if info.verb == "" {
		return "QUERY"
	}
	if info.table == "" {
		return info.verb
	}
	return info.verb + " " + info.table
}

// ExecContext implements driver.ExecerContext. Without the driver's
// ExecerContext or Execer it returns driver.ErrSkip before anything runs,
// and database/sql prepares the statement, as it does for such a driver.
func (c *conn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if c.execer == nil || c.skipExecArgs && len(args) > 0 {
		return nil, driver.ErrSkip
	}
	if c.legacyExec {
		if err := legacyCheck(ctx, args); err != nil {
			return nil, err
		}
	}
	st := c.stmt(query)
	single := c.single(st.session)
	// The statement drives the policy's Step in this frame: no function
	// value and no frame of the policy between database/sql and the driver.
	var s core.Step
	c.start(&s, ctx, st.op, st.name)
	defer s.Close() // a panicking driver
	var res driver.Result
	for s.Next() {
		var err error
		res, err = c.execOnce(s.Context(), query, args, single)
		s.EndValue(res, c.attemptErr(err))
		if c.inTx && s.Retrying() {
			s.Close() // see do
			break
		}
	}
	c.noteSession(st.session)
	res, err := fellBack(&s, res, s.Err())
	return res, c.txErr(result(err))
}

// start begins the call of a statement whose db.query.summary is op and
// redress.operation name is name. The labels and the operation name are
// built only when something reads them (Policy.Observed): otherwise the
// call carries the database's breaker alone, from options built once.
func (c *conn) start(s *core.Step, ctx context.Context, op, name string) {
	if !c.policy.Observed() {
		s.Begin(ctx, c.policy, &c.w.bare)
		return
	}
	var call core.Call
	c.call(ctx, &call, op, name)
	s.Begin(ctx, c.policy, &call)
}

// execOnce is one attempt of exec; single: see after.
func (c *conn) execOnce(ctx context.Context, query string, args []driver.NamedValue, single bool) (driver.Result, error) {
	if c.broken || !c.inTx && c.check != nil { // else nothing to replace or check
		if _, err := c.ready(ctx, true); err != nil {
			return nil, err
		}
	}
	var res driver.Result
	var err error
	if c.execer != nil { // inner's
		res, err = c.execer.ExecContext(ctx, query, args)
	} else {
		err = driver.ErrSkip // a reconnection without it
	}
	if err == driver.ErrSkip {
		c.skipExecArgs = len(args) > 0
		return nil, core.Abort(driver.ErrSkip)
	}
	return res, c.after(err, single, true)
}

// QueryContext implements driver.QueryerContext, with the fallback of
// ExecContext.
func (c *conn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if c.queryer == nil || c.skipQueryArgs && len(args) > 0 {
		return nil, driver.ErrSkip
	}
	if c.legacyQuery {
		if err := legacyCheck(ctx, args); err != nil {
			return nil, err
		}
	}
	st := c.stmt(query)
	single := c.single(st.session)
	// The retry happens only until the driver returns rows: once they are
	// handed to the caller, an error while reading them is returned as is.
	var s core.Step
	c.start(&s, ctx, st.op, st.name) // as in exec
	defer s.Close()
	var rows driver.Rows
	hedge := c.hedgeable(st, single)
	for s.Next() {
		var err error
		if hedge {
			rows, err = c.hedgedQuery(&s, ctx, query, args, single)
		} else {
			rows, err = c.queryOnce(ctx, s.Context(), query, args, single)
		}
		s.EndValue(rows, c.attemptErr(err))
		if c.inTx && s.Retrying() {
			s.Close() // see do
			break
		}
	}
	c.noteSession(st.session)
	rows, err := fellBack(&s, rows, s.Err())
	return rows, c.txErr(result(err))
}

// queryOnce is one attempt of query, on the attempt context actx; ctx is
// the caller's.
func (c *conn) queryOnce(ctx, actx context.Context, query string, args []driver.NamedValue, single bool) (driver.Rows, error) {
	if c.broken || !c.inTx && c.check != nil { // as in execOnce
		if _, err := c.ready(actx, true); err != nil {
			return nil, err
		}
	}
	var rows driver.Rows
	var err error
	switch q := c.queryer; { // inner's
	case q == nil:
		err = driver.ErrSkip // a reconnection without it
	case actx.Done() == ctx.Done():
		rows, err = q.QueryContext(actx, query, args) // see queryDetached
	default:
		rows, err = queryDetached(ctx, actx, func(ctx context.Context) (driver.Rows, error) {
			return q.QueryContext(ctx, query, args)
		})
	}
	if err == driver.ErrSkip {
		c.skipQueryArgs = len(args) > 0
		return nil, core.Abort(driver.ErrSkip)
	}
	return rows, c.after(err, single, true)
}

// fellBack returns v and err, the call's result, or what the policy's
// Fallback supplied in its place: a value of the driver type the call
// returns (a driver.Rows for a query, a driver.Result for an exec), or nil
// for a call that returns nothing. Anything else is an error that says so.
func fellBack[T any](s *core.Step, v T, err error) (T, error) {
	fv, ok := s.Fallback()
	if !ok {
		return v, err
	}
	var zero T
	if t, ok := fv.(T); ok {
		return t, nil
	}
	if fv == nil && any(zero) != nil { // T is struct{}: nothing to return
		return zero, nil
	}
	return zero, fmt.Errorf("redresssql: the policy's Fallback supplied %T, not a %T", fv, (*T)(nil))
}

// do runs attempt under the connection's policy, driving a core.Step in
// this frame; a policy's Retry.ResultClassifier sees each attempt's value.
func do[T any](ctx context.Context, c *conn, call *core.Call, attempt func(context.Context) (T, error)) (T, error) {
	var s core.Step
	s.Begin(ctx, c.policy, call)
	defer s.Close() // a panicking driver
	var v T
	for s.Next() {
		var err error
		v, err = attempt(s.Context())
		s.EndValue(v, c.attemptErr(err)) // T is an interface or struct{}: boxing it allocates nothing
		if c.inTx && s.Retrying() {
			// Only a policy's Retry.ResultClassifier, rejecting a value,
			// gets here: nothing is sent twice inside a transaction, the
			// call ends as aborted.
			s.Close()
			break
		}
	}
	return fellBack(&s, v, s.Err())
}

// runErr is do for an attempt without a value.
func runErr(ctx context.Context, c *conn, call *core.Call, attempt func(context.Context) error) error {
	_, err := do(ctx, c, call, func(ctx context.Context) (struct{}, error) { return struct{}{}, attempt(ctx) })
	return err
}

// queryDetached runs q, which sends a query and returns the driver's rows,
// on a context that outlives the attempt context actx. The policy cancels
// actx as soon as the attempt returns (Timeout.Attempt, Timeout.Call), which for
// a query is when the driver hands back its rows; drivers that watch the
// query's context while the rows are read (pgx, go-sql-driver/mysql) would
// then cut them short. So q gets a context that carries actx's values and
// obeys actx's cancellation only until q returns; after that, the rows obey
// only the caller's context, through database/sql, which closes them when
// the caller's context ends. The rows stay the driver's own, unwrapped.
//
// When actx is cancelled exactly when the caller's context is (no attempt
// timeout, no deadline), q runs on actx itself, at no cost.
func queryDetached(caller, actx context.Context, q func(context.Context) (driver.Rows, error)) (driver.Rows, error) {
	if actx.Done() == caller.Done() {
		return q(actx)
	}
	// dctx has no cancellable parent, so it holds nothing once q returns
	// and needs no release: cancel only serves the link below.
	dctx, cancel := context.WithCancelCause(context.WithoutCancel(actx))
	stop := context.AfterFunc(actx, func() { cancel(context.Cause(actx)) })
	rows, err := q(dctx)
	if stop() {
		return rows, err // the link is gone; dctx is never cancelled
	}
	// The attempt ended (timeout, deadline or the caller) while the query
	// ran or as it returned: the rows, if any, are cut; report the cause.
	if rows != nil {
		_ = rows.Close()
	}
	cause := context.Cause(actx)
	switch {
	case err == nil:
		err = cause
	case !errors.Is(err, cause):
		// The driver saw dctx's context.Canceled: keep the attempt's own
		// cause (a timeout is classified as one) and the driver's error.
		err = fmt.Errorf("%w: %w", cause, err)
	}
	return nil, err
}

// Prepare implements driver.Conn.
func (c *conn) Prepare(query string) (driver.Stmt, error) {
	return c.prepare(context.Background(), query)
}

// PrepareContext implements driver.ConnPrepareContext. Without the
// driver's, it calls Prepare and then returns the context's error, if any,
// as database/sql does.
func (c *conn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	return c.prepare(ctx, query)
}

func (c *conn) prepare(ctx context.Context, query string) (driver.Stmt, error) {
	cs := c.stmt(query)
	op, name, session := cs.op, cs.name, cs.session
	var call core.Call
	c.call(ctx, &call, op, name)
	// Preparing changes no data: any failure before the statement exists is
	// as safe to retry as its connection allows.
	st, err := do(ctx, c, &call, func(ctx context.Context) (driver.Stmt, error) {
		inner, err := c.ready(ctx, true)
		if err != nil {
			return nil, err
		}
		var st driver.Stmt
		if c.preparer != nil { // inner's
			st, err = c.preparer.PrepareContext(ctx, query)
		} else { // database/sql's ctxDriverPrepare
			st, err = inner.Prepare(query)
			if err == nil {
				if cerr := ctx.Err(); cerr != nil {
					_ = st.Close()
					st, err = nil, cerr
				}
			}
		}
		if err != nil {
			if sent := !notSent(err); sent {
				c.used++
			}
			err = c.broke(err)
			// Preparing changes no data: the failure's class decides, as
			// long as a dead connection can be replaced.
			if c.broken && !c.canReconnect() {
				return nil, c.noRetry(err)
			}
			return nil, err
		}
		return st, nil
	})
	if err != nil {
		return nil, c.txErr(err)
	}
	return newStmt(c, st, op, name, session), nil
}

// Close implements driver.Conn.
func (c *conn) Close() error { return c.inner.Close() }

// Begin implements driver.Conn.
func (c *conn) Begin() (driver.Tx, error) {
	return c.begin(context.Background(), driver.TxOptions{}, false)
}

// Errors of database/sql's for a driver without driver.ConnBeginTx, word
// for word.
var (
	errIsolation = errors.New("sql: driver does not support non-default isolation level")
	errReadOnly  = errors.New("sql: driver does not support read-only transactions")
)

// BeginTx implements driver.ConnBeginTx. Without the driver's, it refuses
// a non-default isolation level or a read-only transaction with
// database/sql's errors, before anything runs, and otherwise calls Begin and
// rolls the transaction back when the context ended meanwhile, as
// database/sql does.
func (c *conn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if c.beginner == nil {
		if opts.Isolation != 0 { // sql.LevelDefault
			return nil, errIsolation
		}
		if opts.ReadOnly {
			return nil, errReadOnly
		}
	}
	return c.begin(ctx, opts, true)
}

func (c *conn) begin(ctx context.Context, opts driver.TxOptions, withOpts bool) (driver.Tx, error) {
	scope := scopeFrom(ctx)
	var call core.Call
	c.call(ctx, &call, "BEGIN", "BEGIN")
	tx, err := do(ctx, c, &call, func(ctx context.Context) (driver.Tx, error) {
		inner, err := c.ready(ctx, true)
		if err != nil {
			return nil, err
		}
		var tx driver.Tx
		if withOpts && c.beginner != nil { // inner's
			tx, err = c.beginner.BeginTx(ctx, opts)
		} else {
			tx, err = inner.Begin() //nolint:staticcheck // the driver's own legacy path
		}
		return tx, c.after(err, false, true)
	})
	if err != nil {
		return nil, err
	}
	if withOpts && c.beginner == nil && ctx.Err() != nil {
		_ = tx.Rollback() // database/sql's ctxDriverBegin
		return nil, ctx.Err()
	}
	c.inTx, c.scope = true, scope
	return &wtx{c: c, inner: tx, done: ctx.Done()}, nil
}

// Ping implements driver.Pinger. Without the driver's, it returns nil
// without a call, as database/sql does.
func (c *conn) Ping(ctx context.Context) error {
	if c.pinger == nil {
		return nil
	}
	return c.ping(ctx)
}

func (c *conn) ping(ctx context.Context) error {
	var call core.Call
	c.call(ctx, &call, "PING", "PING")
	return c.txErr(runErr(ctx, c, &call, func(ctx context.Context) error {
		if _, err := c.ready(ctx, true); err != nil {
			return err
		}
		if c.pinger == nil {
			return nil // a reconnection without it
		}
		err := c.pinger.Ping(ctx)
		if err != nil {
			if err = c.broke(err); c.broken && !c.canReconnect() {
				return c.noRetry(err)
			}
		}
		return err
	}))
}

// ResetSession implements driver.SessionResetter: driver.ErrBadConn for a
// connection the wrapper found broken, else the driver's ResetSession,
// after which the statements on the connection may be retried again.
// Without the driver's it returns nil, as database/sql does, and the
// session stays marked as changed (nothing reset it).
func (c *conn) ResetSession(ctx context.Context) error {
	if c.resetter == nil {
		return nil
	}
	if c.broken {
		return driver.ErrBadConn
	}
	if err := c.resetter.ResetSession(ctx); err != nil {
		return err
	}
	c.used, c.session = 0, false
	return nil
}

// IsValid implements driver.Validator: false for a connection the wrapper
// found broken or database/sql would discard (see wtx.Rollback), else the
// driver's IsValid. Without the driver's it is true, as database/sql
// assumes.
func (c *conn) IsValid() bool {
	switch {
	case c.discard:
		return false
	case c.validator == nil:
		return true
	}
	return !c.broken && c.validator.IsValid()
}

// CheckNamedValue implements driver.NamedValueChecker: the driver's, else
// database/sql's default conversion (driver.DefaultParameterConverter),
// which is what database/sql itself would apply after a driver.ErrSkip
// here: this method serves only statements run on the connection, never a
// prepared one (the wrapped statement is a NamedValueChecker of its own),
// so no ColumnConverter can come between; answering ErrSkip would cost
// database/sql's slower checking path on every argument.
//
// database/sql checks the arguments of a statement run on the connection
// (not prepared) only when the connection has ExecerContext or Execer
// (QueryerContext or Queryer for a query); otherwise it prepares the
// statement and checks them for it (stmt.CheckNamedValue). For a driver
// connection with neither pair, the wrapped connection's ExecContext and
// QueryContext answer driver.ErrSkip, and this method accepts every
// argument as it is, so that only the statement's checks run, as without
// the wrapper. A driver connection with exactly one of the pairs has its
// arguments checked for the other too, once, before the ErrSkip: the one
// case where the wrapped connection cannot tell which statement the check
// is for.
func (c *conn) CheckNamedValue(nv *driver.NamedValue) error {
	if c.execer == nil && c.queryer == nil {
		return nil
	}
	if c.checker == nil {
		var err error
		nv.Value, err = driver.DefaultParameterConverter.ConvertValue(nv.Value)
		return err
	}
	return c.checker.CheckNamedValue(nv)
}

// wtx is the wrapped transaction. Commit and Rollback are published and
// breaker-guarded but never retried (inside the transaction, see
// attemptErr; the mark is taken off their errors, so that RunInTx can
// re-run the transaction after a COMMIT refused with a serialization
// failure, but for a COMMIT whose outcome is unknown). A COMMIT that failed
// without an answer from the database returns an error matching
// ErrCommitUnknown.
type wtx struct {
	c     *conn
	inner driver.Tx
	done  <-chan struct{} // the Done channel of BeginTx's context
}

func (t *wtx) Commit() error { return t.end("COMMIT", t.inner.Commit) }

// Rollback rolls the transaction back. When the transaction's context has
// ended, database/sql rolls it back itself and then discards the
// connection, unless the driver's connection has both SessionResetter and
// Validator (which the wrapped connection always has): for a driver
// without both, the connection is then marked for IsValid to report it
// invalid, and database/sql closes it. This differs from database/sql in
// one race only: a caller's own Rollback that runs after the context ended
// but before database/sql's discards a connection that database/sql would
// have kept.
func (t *wtx) Rollback() error {
	c := t.c
	if (c.resetter == nil || c.validator == nil) && t.done != nil {
		select {
		case <-t.done:
			c.discard = true
		default:
		}
	}
	return t.end("ROLLBACK", t.inner.Rollback)
}

func (t *wtx) end(op string, fn func() error) error {
	c := t.c
	var call core.Call
	c.call(context.Background(), &call, op, op)
	ran := false
	run := func() error {
		ran = true
		err := fn()
		if err == nil {
			return nil
		}
		_, sqlErr := classifySQL(err) // the database's answer, or driver.ErrBadConn (nothing sent)
		err = c.broke(err)
		if op == "COMMIT" && !sqlErr && !c.answered() {
			// No answer, and the driver does not affirm that its connection
			// survived: the COMMIT may or may not have been applied. (An
			// error on a connection the driver still holds usable is the
			// database's answer, as pgx's "commit unexpectedly resulted in
			// rollback".)
			err = &commitError{err: err}
		}
		return err
	}
	err := runErr(context.Background(), c, &call, func(context.Context) error { return run() })
	if !ran && errors.Is(err, core.ErrCircuitOpen) {
		// COMMIT and ROLLBACK finish what the breaker already let start: a
		// refused ROLLBACK would return the connection to the pool still
		// inside its transaction. Send it anyway.
		err = run()
	}
	err = c.txErr(err)
	c.inTx, c.scope = false, nil
	return err
}
