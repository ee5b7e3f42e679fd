// Package sqlbench measures the per-query overhead of the database/sql
// wrapper against the bare driver and XSAM/otelsql, on in-memory SQLite (the
// cheapest real query there is, so the overhead is as visible as it gets).
//
//	cd bench && go test -run '^$' -bench SQL -benchmem -count 8 -cpu 1 ./sql | go run ./cmd/benchratio
//
// BenchmarkPaired runs the same statements with the variants taking turns,
// for an in-run ratio that a drifting machine load cannot bias.
package sqlbench

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"testing"

	"github.com/XSAM/otelsql"
	"modernc.org/sqlite"

	redresssql "github.com/redress-go/redress/contrib/database-sql"
	"github.com/redress-go/redress/core"
)

type dsnConnector struct {
	d   driver.Driver
	dsn string
}

func (c dsnConnector) Connect(context.Context) (driver.Conn, error) { return c.d.Open(c.dsn) }
func (c dsnConnector) Driver() driver.Driver                        { return c.d }

var variants = []struct {
	name string
	open func(tb testing.TB) *sql.DB
}{
	{"baseline", func(tb testing.TB) *sql.DB {
		return sql.OpenDB(dsnConnector{&sqlite.Driver{}, ":memory:"})
	}},
	{"redress", func(tb testing.TB) *sql.DB {
		// A policy and the database's breaker (the default), as a user
		// would run them; no subscriber.
		pc := redresssql.DefaultPolicyConfig()
		pc.Name = "bench"
		p, err := core.NewPolicy(pc)
		if err != nil {
			tb.Fatal(err)
		}
		d, err := redresssql.Wrap(&sqlite.Driver{}, redresssql.Config{Policy: p})
		if err != nil {
			tb.Fatal(err)
		}
		return sql.OpenDB(dsnConnector{d, ":memory:"})
	}},
	{"otelsql", func(tb testing.TB) *sql.DB {
		return otelsql.OpenDB(dsnConnector{&sqlite.Driver{}, ":memory:"})
	}},
}

func setup(tb testing.TB, db *sql.DB) {
	db.SetMaxOpenConns(1) // one in-memory database
	if _, err := db.Exec("CREATE TABLE kv (id INTEGER PRIMARY KEY, v TEXT)"); err != nil {
		tb.Fatal(err)
	}
	for i := range 100 {
		if _, err := db.Exec("INSERT INTO kv (id, v) VALUES (?, ?)", i, fmt.Sprint("v", i)); err != nil {
			tb.Fatal(err)
		}
	}
}

// BenchmarkSQLQueryRow: a point SELECT through QueryRowContext + Scan.
func BenchmarkSQLQueryRow(b *testing.B) {
	for _, v := range variants {
		b.Run(v.name, func(b *testing.B) {
			db := v.open(b)
			defer db.Close()
			setup(b, db)
			ctx := context.Background()
			b.ReportAllocs()
			var s string
			i := 0
			for b.Loop() {
				if err := db.QueryRowContext(ctx, "SELECT v FROM kv WHERE id = ?", i%100).Scan(&s); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// BenchmarkSQLExec: an autocommit UPDATE through ExecContext.
func BenchmarkSQLExec(b *testing.B) {
	for _, v := range variants {
		b.Run(v.name, func(b *testing.B) {
			db := v.open(b)
			defer db.Close()
			setup(b, db)
			ctx := context.Background()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, err := db.ExecContext(ctx, "UPDATE kv SET v = ? WHERE id = ?", "x", i%100); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// TestVariantsAgree: every variant returns the same data (bounded and quick,
// run by CI under -race).
func TestVariantsAgree(t *testing.T) {
	for _, v := range variants {
		db := v.open(t)
		setup(t, db)
		var s string
		if err := db.QueryRow("SELECT v FROM kv WHERE id = ?", 42).Scan(&s); err != nil || s != "v42" {
			t.Fatalf("%s: %q, %v", v.name, s, err)
		}
		db.Close()
	}
}
