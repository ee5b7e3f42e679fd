package redresssql

import (
	"context"
	"database/sql/driver"
)

// stmt is the wrapped prepared statement. It belongs to one connection and
// cannot move: when that connection was replaced or died, it answers
// driver.ErrBadConn without sending anything, and database/sql prepares it
// again on another connection.
type stmt struct {
	c     *conn
	inner driver.Stmt
	gen   uint64
	op    string
	// session: the text may open a transaction or change the session
	// (stmtInfo.session).
	session bool
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
	if !c.w.resultClassifier {
		// The first attempt inline, as conn.exec does.
		if in, ok, err := c.policy.Inline(ctx, nil); ok {
			defer in.Release()
			if err == nil {
				if err = attempt(ctx); err != nil {
					err = runRest(ctx, c, s.op, s.session, &in, err, &v, attempt)
					return v, err
				}
				in.Succeeded()
			}
			c.noteSession(s.session)
			return v, err
		}
	}
	err := runRest(ctx, c, s.op, s.session, nil, nil, &v, attempt)
	return v, err
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

func (s *stmt) execContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	v, err := s.run(ctx, func(ctx context.Context, st driver.Stmt) (any, error) {
		r, err := st.(driver.StmtExecContext).ExecContext(ctx, args)
		if r == nil {
			return nil, err
		}
		return r, err
	})
	r, _ := v.(driver.Result)
	return r, err
}

func (s *stmt) queryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	caller := ctx
	v, err := s.run(ctx, func(ctx context.Context, st driver.Stmt) (any, error) {
		// The rows must outlive the attempt's context (see queryDetached).
		r, err := queryDetached(caller, ctx, func(ctx context.Context) (driver.Rows, error) {
			return st.(driver.StmtQueryContext).QueryContext(ctx, args)
		})
		if r == nil {
			return nil, err
		}
		return r, err
	})
	r, _ := v.(driver.Rows)
	return r, err
}

func (s *stmt) checkNamedValue(nv *driver.NamedValue) error {
	return s.inner.(driver.NamedValueChecker).CheckNamedValue(nv)
}

func (s *stmt) columnConverter(idx int) driver.ValueConverter {
	return s.inner.(driver.ColumnConverter).ColumnConverter(idx) //nolint:staticcheck // mirrored as is
}
