package redresssql

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"io"
	"testing"

	"github.com/redress-go/redress/core"
)

// The benchmarks below measure what the wrapper adds to a statement, on a
// driver that does nothing (so that only the wrapper's cost is left):
//
//	go test -run '^$' -bench Overhead -benchmem ./contrib/database-sql/
//
// bench/sql compares it with the bare driver on real queries.

type nopDriver struct{}

func (nopDriver) Open(string) (driver.Conn, error) { return nopConn{}, nil }

type nopConnector struct{ d driver.Driver }

func (c nopConnector) Connect(context.Context) (driver.Conn, error) { return nopConn{}, nil }
func (c nopConnector) Driver() driver.Driver                        { return c.d }

// nopConn has the optional interfaces of modernc.org/sqlite's connection.
type nopConn struct{}

func (nopConn) Prepare(string) (driver.Stmt, error)    { return nil, driver.ErrSkip }
func (nopConn) Close() error                           { return nil }
func (nopConn) Begin() (driver.Tx, error)              { return nil, driver.ErrSkip }
func (nopConn) ResetSession(ctx context.Context) error { return nil }
func (nopConn) IsValid() bool                          { return true }
func (nopConn) Ping(ctx context.Context) error         { return nil }
func (nopConn) ExecContext(context.Context, string, []driver.NamedValue) (driver.Result, error) {
	return nopResult{}, nil
}
func (nopConn) QueryContext(context.Context, string, []driver.NamedValue) (driver.Rows, error) {
	return &nopRows{}, nil
}

type nopResult struct{}

func (nopResult) LastInsertId() (int64, error) { return 0, nil }
func (nopResult) RowsAffected() (int64, error) { return 1, nil }

// nopRows has one row of one column.
type nopRows struct{ done bool }

func (*nopRows) Columns() []string { return []string{"v"} }
func (*nopRows) Close() error      { return nil }
func (r *nopRows) Next(dest []driver.Value) error {
	if r.done {
		return io.EOF
	}
	r.done = true
	dest[0] = "v"
	return nil
}

func benchPolicy(b *testing.B) Config {
	p, err := core.NewPolicy(core.PolicyConfig{Name: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	return Config{Policy: p} // and the database's breaker
}

// benchDBs returns the nop database bare and wrapped.
func benchDBs(b *testing.B) []struct {
	name string
	db   *sql.DB
} {
	wc, err := WrapConnector(nopConnector{nopDriver{}}, benchPolicy(b))
	if err != nil {
		b.Fatal(err)
	}
	dbs := []struct {
		name string
		db   *sql.DB
	}{{"bare", sql.OpenDB(nopConnector{nopDriver{}})}, {"wrapped", sql.OpenDB(wc)}}
	for _, d := range dbs {
		d.db.SetMaxOpenConns(1)
		b.Cleanup(func() { d.db.Close() })
	}
	return dbs
}

// BenchmarkOverheadExec: db.ExecContext, bare and wrapped.
func BenchmarkOverheadExec(b *testing.B) {
	for _, d := range benchDBs(b) {
		b.Run(d.name, func(b *testing.B) {
			ctx := context.Background()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, err := d.db.ExecContext(ctx, "UPDATE kv SET v = ? WHERE id = ?", "x", i%100); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// BenchmarkOverheadQueryRow: db.QueryRowContext + Scan, bare and wrapped.
func BenchmarkOverheadQueryRow(b *testing.B) {
	for _, d := range benchDBs(b) {
		b.Run(d.name, func(b *testing.B) {
			ctx := context.Background()
			b.ReportAllocs()
			var s string
			i := 0
			for b.Loop() {
				if err := d.db.QueryRowContext(ctx, "SELECT v FROM kv WHERE id = ?", i%100).Scan(&s); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// BenchmarkOverheadConn: the wrapped connection's ExecContext alone (no
// database/sql around it).
func BenchmarkOverheadConn(b *testing.B) {
	w, err := newWrapper(benchPolicy(b), nopDriver{})
	if err != nil {
		b.Fatal(err)
	}
	c := &conn{w: w, policy: w.policy}
	c.setInner(nopConn{})
	ctx := context.Background()
	args := []driver.NamedValue{{Ordinal: 1, Value: "x"}, {Ordinal: 2, Value: int64(1)}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.ExecContext(ctx, "UPDATE kv SET v = ? WHERE id = ?", args); err != nil {
			b.Fatal(err)
		}
	}
}
