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
	// inner's optional interfaces (nil when it lacks one), asserted once
	// per driver connection rather than on every statement.
	execer  driver.ExecerContext
	queryer driver.QueryerContext
	check   func() error // liveness check before sending, or nil
	closed  func() bool  // the driver closed its connection (pgx), or nil

	// An attempt whose failure would be unsafe to retry returns it marked
	// with core.NoRetry (see noRetry): the policy stops
	// (StopNonRetryableClass) and the breaker and the events still see the
	// failure's real class. Inside a transaction Call.MaxAttempts is 1.
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

	resetter  driver.SessionResetter
	validator driver.Validator
	checker   driver.NamedValueChecker
	connect   func(context.Context) (driver.Conn, error)

	stmts stmtCache // what the connection's recent statement texts need
}

func (c *conn) setInner(inner driver.Conn) {
	c.inner = inner
	c.check, c.closed = liveness(inner)
	c.execer, _ = inner.(driver.ExecerContext)
	c.queryer, _ = inner.(driver.QueryerContext)
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

// noRetry marks err so that the policy does not retry it. Inside a
// transaction it leaves err unmarked: Call.MaxAttempts = 1 already stops
// the statement, and the mark would travel up with the error (RetryError
// unwraps to it) and stop RunInTx from re-running the whole transaction
// after a serialization failure or a deadlock.
func (c *conn) noRetry(err error) error {
	if c.inTx {
		return err
	}
	return core.NoRetry(err)
}

// canReconnect reports whether a dead connection may be replaced in place.
func (c *conn) canReconnect() bool {
	return c.connect != nil && !c.inTx && !c.session && c.used == 0
}

// call fills the zero *call with the per-call options (filled in place: a
// core.Call is large enough for its copy to show on a fast statement).
func (c *conn) call(ctx context.Context, call *core.Call, op string) {
	call.Operation = core.OperationFromContext(ctx)
	s := c.scope
	if s == nil {
		s = scopeFrom(ctx) // BEGIN, or a statement of fn sent outside tx
	}
	if s != nil && s.stmtOp != "" && (call.Operation == "" || call.Operation == s.op) {
		call.Operation = s.stmtOp // the transaction's label is the transaction's
	}
	if call.Operation == "" {
		call.Operation = op
	}
	call.Labels.DBSystem, call.Labels.DBOperation = c.w.system, op
	if c.inTx {
		call.MaxAttempts = 1 // never retry inside a transaction
	}
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
// returns the attempt's error, marked with core.NoRetry when a retry would
// be unsafe. single reports whether the statement can be retried when the
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
	if c.w.cfg.Retry.Classifier(err).Class != core.ClassUnknown {
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

func (c *conn) exec(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if c.skipExecArgs && len(args) > 0 {
		return nil, driver.ErrSkip
	}
	st := c.stmts.lookup(query)
	s := stmtRun{query: query, args: args, op: st.op, session: st.session, single: c.single(st.session)}
	if c.w.resultClassifier {
		return s.execRest(ctx, c, nil, nil)
	}
	// The first attempt in this frame when the policy allows it (see
	// core.Inline): no function value and no policy frames between
	// database/sql and the driver on a statement that succeeds. The call's
	// options (operation, labels) matter only once an attempt failed, and
	// the rest lives in other functions, so that this frame stays small.
	in, ok, err := c.policy.Inline(ctx, nil)
	if !ok {
		return s.execRest(ctx, c, nil, nil)
	}
	defer in.Release() // a panicking driver
	var res driver.Result
	if err == nil {
		if res, err = c.execOnce(ctx, &s); err != nil {
			return s.execRest(ctx, c, &in, err)
		}
		in.Succeeded()
	}
	c.noteSession(s.session)
	return res, result(err)
}

// stmtRun is what the attempts of one statement share.
type stmtRun struct {
	query           string
	args            []driver.NamedValue
	op              string // the statement's derived operation name
	session, single bool
	caller          context.Context // query: the caller's context
}

// execOnce is one attempt of exec.
func (c *conn) execOnce(ctx context.Context, s *stmtRun) (driver.Result, error) {
	inner, err := c.ready(ctx, true)
	if err != nil {
		return nil, err
	}
	var res driver.Result
	if c.execer != nil { // inner's
		res, err = c.execer.ExecContext(ctx, s.query, s.args)
	} else {
		res, err = execConn(ctx, inner, s.query, s.args)
	}
	if err == driver.ErrSkip {
		c.skipExecArgs = len(s.args) > 0
		return nil, core.Abort(driver.ErrSkip)
	}
	return res, c.after(err, s.single, true)
}

func (c *conn) query(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if c.skipQueryArgs && len(args) > 0 {
		return nil, driver.ErrSkip
	}
	st := c.stmts.lookup(query)
	// The retry happens only until the driver returns rows: once they are
	// handed to the caller, an error while reading them is returned as is.
	s := stmtRun{query: query, args: args, op: st.op, session: st.session, single: c.single(st.session), caller: ctx}
	if c.w.resultClassifier {
		return s.queryRest(ctx, c, nil, nil)
	}
	in, ok, err := c.policy.Inline(ctx, nil) // as in exec
	if !ok {
		return s.queryRest(ctx, c, nil, nil)
	}
	defer in.Release()
	var rows driver.Rows
	if err == nil {
		if rows, err = c.queryOnce(ctx, &s); err != nil {
			return s.queryRest(ctx, c, &in, err)
		}
		in.Succeeded()
	}
	c.noteSession(s.session)
	return rows, result(err)
}

// queryOnce is one attempt of query, on the attempt context ctx.
func (c *conn) queryOnce(ctx context.Context, s *stmtRun) (driver.Rows, error) {
	inner, err := c.ready(ctx, true)
	if err != nil {
		return nil, err
	}
	var rows driver.Rows
	if ctx.Done() == s.caller.Done() && c.queryer != nil {
		rows, err = c.queryer.QueryContext(ctx, s.query, s.args) // see queryDetached
	} else {
		rows, err = queryDetached(s.caller, ctx, func(ctx context.Context) (driver.Rows, error) {
			if c.queryer != nil { // inner's
				return c.queryer.QueryContext(ctx, s.query, s.args)
			}
			return queryConn(ctx, inner, s.query, s.args)
		})
	}
	if err == driver.ErrSkip {
		c.skipQueryArgs = len(s.args) > 0
		return nil, core.Abort(driver.ErrSkip)
	}
	return rows, c.after(err, s.single, true)
}

// execRest runs the statement through the connection's policy: all of it,
// or (in not nil) from a first attempt made inline that failed with err.
func (s *stmtRun) execRest(ctx context.Context, c *conn, in *core.Inline, err error) (driver.Result, error) {
	var res driver.Result // the last attempt's
	err = runRest(ctx, c, s.op, s.session, in, err, &res, func(ctx context.Context) (err error) {
		res, err = c.execOnce(ctx, s)
		return err
	})
	return res, err
}

// queryRest is execRest for query.
func (s *stmtRun) queryRest(ctx context.Context, c *conn, in *core.Inline, err error) (driver.Rows, error) {
	var rows driver.Rows // the last attempt's
	err = runRest(ctx, c, s.op, s.session, in, err, &rows, func(ctx context.Context) (err error) {
		rows, err = c.queryOnce(ctx, s)
		return err
	})
	return rows, err
}

// runRest runs the attempt of a statement (operation op, session as in
// stmtInfo), which leaves its value in *v, under the connection's policy:
// the whole call, or (in not nil) on from a first attempt made inline that
// failed with err. A result classifier sees the
// values through core.DoCall; without one the call runs through
// Policy.RunCall. The call's options are built here, since only a failed
// attempt needs them. It notes a session change and returns the error as
// database/sql expects it.
func runRest[T any](ctx context.Context, c *conn, op string, session bool, in *core.Inline, err error, v *T, attempt func(context.Context) error) error {
	var call core.Call
	c.call(ctx, &call, op)
	switch {
	case in != nil:
		err = in.Failed(ctx, &call, err, attempt)
	case !c.w.resultClassifier:
		err = c.policy.RunCall(ctx, &call, attempt)
	default:
		err = doCall(ctx, c.policy, &call, v, attempt)
	}
	c.noteSession(session)
	return c.txErr(result(err))
}

// doCall runs attempt, which leaves its value in *v, through core.DoCall,
// for a policy with a Retry.ResultClassifier (which sees the values).
// Without one, core.DoCall is Policy.RunCall around the attempt, and the
// statements call RunCall directly: one call level less on every
// statement.
func doCall[T any](ctx context.Context, p *core.Policy, call *core.Call, v *T, attempt func(context.Context) error) error {
	_, err := core.DoCall(ctx, p, call, func(ctx context.Context) (T, error) {
		err := attempt(ctx)
		return *v, err
	})
	return err
}

// queryDetached runs q, which sends a query and returns the driver's rows,
// on a context that outlives the attempt context actx. The policy cancels
// actx as soon as the attempt returns (AttemptTimeout, Deadline), which for
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

func execConn(ctx context.Context, inner driver.Conn, query string, args []driver.NamedValue) (driver.Result, error) {
	if e, ok := inner.(driver.ExecerContext); ok {
		return e.ExecContext(ctx, query, args)
	}
	e, ok := inner.(driver.Execer) //nolint:staticcheck // legacy drivers
	if !ok {
		return nil, driver.ErrSkip
	}
	dargs, err := namedToValues(args)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return e.Exec(query, dargs)
}

func queryConn(ctx context.Context, inner driver.Conn, query string, args []driver.NamedValue) (driver.Rows, error) {
	if q, ok := inner.(driver.QueryerContext); ok {
		return q.QueryContext(ctx, query, args)
	}
	q, ok := inner.(driver.Queryer) //nolint:staticcheck // legacy drivers
	if !ok {
		return nil, driver.ErrSkip
	}
	dargs, err := namedToValues(args)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return q.Query(query, dargs)
}

func namedToValues(named []driver.NamedValue) ([]driver.Value, error) {
	out := make([]driver.Value, len(named))
	for i, nv := range named {
		if nv.Name != "" {
			return nil, errors.New("redresssql: driver does not support the use of Named Parameters")
		}
		out[i] = nv.Value
	}
	return out, nil
}

// Prepare implements driver.Conn.
func (c *conn) Prepare(query string) (driver.Stmt, error) {
	return c.prepare(context.Background(), query)
}

func (c *conn) prepare(ctx context.Context, query string) (driver.Stmt, error) {
	cs := c.stmts.lookup(query)
	op, session := cs.op, cs.session
	var call core.Call
	c.call(ctx, &call, op)
	// Preparing changes no data: any failure before the statement exists is
	// as safe to retry as its connection allows.
	st, err := core.DoCall(ctx, c.policy, &call, func(ctx context.Context) (driver.Stmt, error) {
		inner, err := c.ready(ctx, true)
		if err != nil {
			return nil, err
		}
		var st driver.Stmt
		if p, ok := inner.(driver.ConnPrepareContext); ok {
			st, err = p.PrepareContext(ctx, query)
		} else {
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
	return wrapStmt(&stmt{c: c, inner: st, gen: c.gen, op: op, session: session}), nil
}

// Close implements driver.Conn.
func (c *conn) Close() error { return c.inner.Close() }

// Begin implements driver.Conn.
func (c *conn) Begin() (driver.Tx, error) {
	return c.begin(context.Background(), driver.TxOptions{}, false)
}

func (c *conn) begin(ctx context.Context, opts driver.TxOptions, withOpts bool) (driver.Tx, error) {
	scope := scopeFrom(ctx)
	var call core.Call
	c.call(ctx, &call, "BEGIN")
	tx, err := core.DoCall(ctx, c.policy, &call, func(ctx context.Context) (driver.Tx, error) {
		inner, err := c.ready(ctx, true)
		if err != nil {
			return nil, err
		}
		var tx driver.Tx
		if withOpts {
			tx, err = inner.(driver.ConnBeginTx).BeginTx(ctx, opts)
		} else {
			tx, err = inner.Begin() //nolint:staticcheck // the driver's own legacy path
		}
		return tx, c.after(err, false, true)
	})
	if err != nil {
		return nil, err
	}
	c.inTx, c.scope = true, scope
	return &wtx{c: c, inner: tx}, nil
}

func (c *conn) ping(ctx context.Context) error {
	var call core.Call
	c.call(ctx, &call, "PING")
	return c.txErr(c.policy.RunCall(ctx, &call, func(ctx context.Context) error {
		inner, err := c.ready(ctx, true)
		if err != nil {
			return err
		}
		err = inner.(driver.Pinger).Ping(ctx)
		if err != nil {
			if err = c.broke(err); c.broken && !c.canReconnect() {
				return c.noRetry(err)
			}
		}
		return err
	}))
}

func (c *conn) resetSession(ctx context.Context) error {
	if c.broken {
		return driver.ErrBadConn
	}
	if err := c.resetter.ResetSession(ctx); err != nil {
		return err
	}
	c.used, c.session = 0, false
	return nil
}

func (c *conn) isValid() bool {
	return !c.broken && c.validator.IsValid()
}

func (c *conn) checkNamedValue(nv *driver.NamedValue) error {
	return c.checker.CheckNamedValue(nv)
}

// wtx is the wrapped transaction. Commit and Rollback are published and
// breaker-guarded but never retried (Call.MaxAttempts = 1; their failures
// are not marked NoRetry, so that RunInTx can re-run the transaction after
// a COMMIT refused with a serialization failure). A COMMIT that failed
// without an answer from the database returns an error matching
// ErrCommitUnknown.
type wtx struct {
	c     *conn
	inner driver.Tx
}

func (t *wtx) Commit() error   { return t.end("COMMIT", t.inner.Commit) }
func (t *wtx) Rollback() error { return t.end("ROLLBACK", t.inner.Rollback) }

func (t *wtx) end(op string, fn func() error) error {
	c := t.c
	var call core.Call
	c.call(context.Background(), &call, op)
	call.MaxAttempts = 1
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
	err := c.policy.RunCall(context.Background(), &call, func(context.Context) error { return run() })
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
