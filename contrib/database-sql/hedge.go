package redresssql

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"reflect"
	"strings"

	"github.com/redress-go/redress/core"
)

// hedgeable reports whether the query st may be hedged: its policy has a
// Hedger, and it is a read (SELECT) sent outside a transaction and outside
// a session the connection's statements changed, so that running it on
// another connection gives the same answer and changes nothing.
func (c *conn) hedgeable(st *cachedStmt, single bool) bool {
	return single && !st.session && c.policy.Hedging() && strings.HasPrefix(st.op, "SELECT")
}

// hedgedQuery runs query as a hedged group: the first copy on the
// connection, each hedge on a connection of its own, opened for it with
// the wrapper's connector and closed with its rows (a losing hedge's rows
// and connection are closed at once). The pool does not see the hedges'
// connections: one hedge at a time opens one more connection to the
// database.
func (c *conn) hedgedQuery(s *core.Step, ctx context.Context, query string, args []driver.NamedValue, single bool) (driver.Rows, error) {
	return core.Hedged(s, func(hctx context.Context, hedge int) (driver.Rows, error) {
		if hedge == 0 {
			return c.queryOnce(ctx, hctx, query, args, single)
		}
		return c.hedgeQuery(ctx, hctx, query, args)
	}, func(r driver.Rows) {
		if r != nil {
			_ = r.Close()
		}
	})
}

// errHedgeUnsupported: the driver's connections cannot run a query with a
// context; the hedge is not an answer (its class says nothing of the
// database).
var errHedgeUnsupported = errors.New("redresssql: the driver's connection has no QueryerContext: a hedge cannot be sent")

// hedgeQuery is one hedge of a query, on a connection of its own.
func (c *conn) hedgeQuery(caller, hctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	inner, err := c.connect(hctx)
	if err != nil {
		return nil, c.w.mark(err)
	}
	q, ok := inner.(driver.QueryerContext)
	if !ok {
		_ = inner.Close()
		return nil, core.Classify(errHedgeUnsupported, core.Classification{Class: core.ClassUnknown, Reason: "hedge_unsupported"})
	}
	rows, err := queryDetached(caller, hctx, func(ctx context.Context) (driver.Rows, error) {
		return q.QueryContext(ctx, query, args)
	})
	if err != nil {
		_ = inner.Close()
		return nil, c.w.mark(err)
	}
	return &hedgeRows{Rows: rows, conn: inner}, nil
}

// hedgeRows are a hedge's rows: closing them closes the hedge's
// connection. The optional interfaces of the driver's rows are forwarded,
// each falling back as database/sql does when the rows lack it.
type hedgeRows struct {
	driver.Rows
	conn io.Closer
}

func (r *hedgeRows) Close() error {
	err := r.Rows.Close()
	if cerr := r.conn.Close(); err == nil {
		err = cerr
	}
	return err
}

func (r *hedgeRows) HasNextResultSet() bool {
	n, ok := r.Rows.(driver.RowsNextResultSet)
	return ok && n.HasNextResultSet()
}

func (r *hedgeRows) NextResultSet() error {
	if n, ok := r.Rows.(driver.RowsNextResultSet); ok {
		return n.NextResultSet()
	}
	return io.EOF
}

func (r *hedgeRows) ColumnTypeScanType(i int) reflect.Type {
	if t, ok := r.Rows.(driver.RowsColumnTypeScanType); ok {
		return t.ColumnTypeScanType(i)
	}
	return reflect.TypeFor[any]()
}

func (r *hedgeRows) ColumnTypeDatabaseTypeName(i int) string {
	if t, ok := r.Rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return t.ColumnTypeDatabaseTypeName(i)
	}
	return ""
}

func (r *hedgeRows) ColumnTypeLength(i int) (int64, bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeLength); ok {
		return t.ColumnTypeLength(i)
	}
	return 0, false
}

func (r *hedgeRows) ColumnTypeNullable(i int) (nullable, ok bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeNullable); ok {
		return t.ColumnTypeNullable(i)
	}
	return false, false
}

func (r *hedgeRows) ColumnTypePrecisionScale(i int) (precision, scale int64, ok bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypePrecisionScale); ok {
		return t.ColumnTypePrecisionScale(i)
	}
	return 0, 0, false
}
