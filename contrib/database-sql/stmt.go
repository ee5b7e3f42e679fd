package redresssql

import (
	"context"
	"database/sql/driver"
	"github.com/redress-go/redress/core"
)

// stmt is the wrapped prepared statement. It belongs to one connection and
// cannot move: when that connection was replaced or died, it answers
// driver.ErrBadConn without sending anything, and database/sql prepares it
// again on another connection.
type stmt struct {
	c     *conn
	inner driver.Stmt
	// inner's optional interfaces: execer and queryer are its context
	// forms, else legacyStmt; checker and converter are nil when it lacks
	// them.
	execer  driver.StmtExecContext
	queryer driver.StmtQueryContext
	// legacyExec, legacyQuery: execer, queryer are legacyStmt.
	legacyExec, legacyQuery bool
	checker                 driver.NamedValueChecker
	converter               driver.ColumnConverter //nolint:staticcheck // legacy drivers
	gen                     uint64
	op, name                string // db.query.summary, redress.operation
	// session: the text may open a transaction or change the session
	// (stmtInfo.session).
	session bool
}

func newStmt(c *conn, inner driver.Stmt, op, name string, session bool) *stmt {
	s := &stmt{c: c, inner: inner, gen: c.gen, op: op, name: name, session: session}
	var ok bool
	if s.execer, ok = inner.(driver.StmtExecContext); !ok {
		s.execer, s.legacyExec = legacyStmt{inner}, true
	}
	if s.queryer, ok = inner.(driver.StmtQueryContext); !ok {
		s.queryer, s.legacyQuery = legacyStmt{inner}, true
	}
	s.checker, _ = inner.(driver.NamedValueChecker)
	s.converter, _ = inner.(driver.ColumnConverter) //nolint:staticcheck // legacy drivers
	return s
}

// Close implements driver.Stmt.
func (s *stmt) Close() error { return s.inner.Close() }

// NumInput implements driver.Stmt.
func (s *stmt) NumInput() int { return s.inner.NumInput() }

func (s *stmt) ready() (driver.Stmt, error) {
	c := s.c
	if s.gen != c.gen || c.broken {
		return nil, c.noRetry(driver.ErrBadConn)
	}
	if !c.inTx && c.check != nil {
		if err := c.check(); err != nil {
			c.broken = true
			return nil, c.noRetry(driver.ErrBadConn)
		}
	}
	return s.inner, nil
}

func (s *stmt) run(ctx context.Context, fn func(context.Context, driver.Stmt) (any, error)) (any, error) {
	c := s.c
	single := c.single(s.session)
	var v any // the last attempt's
	attempt := func(ctx context.Context) error {
		v = nil
		inner, err := s.ready()
		if err != nil {
			return err
		}
		v, err = fn(ctx, inner)
		return c.after(err, single, false)
	}
	var call core.Call
	c.call(ctx, &call, s.op, s.name)
	_, err := do(ctx, c, &call, func(ctx context.Context) (any, error) {
		err := attempt(ctx)
		return v, err // a Retry.ResultClassifier sees the attempt's value
	})
	c.noteSession(s.session)
	return v, c.txErr(result(err))
}

// Exec implements driver.Stmt.
func (s *stmt) Exec(args []driver.Value) (driver.Result, error) {
	v, err := s.run(context.Background(), func(_ context.Context, st driver.Stmt) (any, error) {
		return st.Exec(args) //nolint:staticcheck // the driver's legacy path
	})
	r, _ := v.(driver.Result)
	return r, err
}

// Query implements driver.Stmt.
func (s *stmt) Query(args []driver.Value) (driver.Rows, error) {
	v, err := s.run(context.Background(), func(_ context.Context, st driver.Stmt) (any, error) {
		return st.Query(args) //nolint:staticcheck // the driver's legacy path
	})
	r, _ := v.(driver.Rows)
	return r, err
}

// ExecContext implements driver.StmtExecContext; without the driver's, it
// calls Exec as database/sql does (legacyStmt).
func (s *stmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	if s.legacyExec {
		if err := legacyCheck(ctx, args); err != nil {
			return nil, err
		}
	}
	v, err := s.run(ctx, func(ctx context.Context, _ driver.Stmt) (any, error) {
		r, err := s.execer.ExecContext(ctx, args)
		if r == nil {
			return nil, err
		}
		return r, err
	})
	r, _ := v.(driver.Result)
	return r, err
}

// QueryContext implements driver.StmtQueryContext; without the driver's, it
// calls Query as database/sql does (legacyStmt).
func (s *stmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	if s.legacyQuery {
		if err := legacyCheck(ctx, args); err != nil {
			return nil, err
		}
	}
	caller := ctx
	v, err := s.run(ctx, func(ctx context.Context, _ driver.Stmt) (any, error) {
		// The rows must outlive the attempt's context (see queryDetached).
		r, err := queryDetached(caller, ctx, func(ctx context.Context) (driver.Rows, error) {
			return s.queryer.QueryContext(ctx, args)
		})
		if r == nil {
			return nil, err
		}
		return r, err
	})
	r, _ := v.(driver.Rows)
	return r, err
}

// CheckNamedValue implements driver.NamedValueChecker with the checks
// database/sql runs on an argument of the driver's statement before its
// default converter: the statement's NamedValueChecker, else its
// connection's, then (first, or after driver.ErrSkip from the checker) the
// statement's ColumnConverter, as database/sql's ccChecker applies it
// (columnConvert). With none of them it returns driver.ErrSkip, and
// database/sql applies its default converter. The wrapped statement has no
// ColumnConverter of its own: database/sql would try it again after this
// method's driver.ErrSkip.
func (s *stmt) CheckNamedValue(nv *driver.NamedValue) error {
	check := s.checker
	if check == nil {
		check = s.c.checker
	}
	if check != nil {
		if err := check.CheckNamedValue(nv); err != driver.ErrSkip || s.converter == nil {
			return err
		}
	}
	if s.converter == nil {
		return driver.ErrSkip
	}
	return columnConvert(s.converter, s.inner.NumInput(), nv)
}
