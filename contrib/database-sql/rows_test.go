package redresssql_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	redresssql "github.com/redress-go/redress/contrib/database-sql"
	"github.com/redress-go/redress/core"
)

// rowsCases are the three real drivers, each with a query that returns many
// rows and one that runs for seconds.
var rowsCases = []struct {
	name        string
	open        func(t *testing.T, cfg redresssql.Config) *sql.DB
	many, sleep string
}{
	{
		name:  "pgx",
		open:  func(t *testing.T, cfg redresssql.Config) *sql.DB { return openPG(t, cfg) },
		many:  "SELECT n FROM generate_series(1, 200000) AS n",
		sleep: "SELECT 1 FROM pg_sleep(10)",
	},
	{
		name: "mysql",
		open: func(t *testing.T, cfg redresssql.Config) *sql.DB { return openMySQL(t, cfg) },
		// 1..200000 in some order, without a recursive CTE (MariaDB caps
		// those at max_recursive_iterations).
		many:  mysqlMany,
		sleep: "SELECT SLEEP(10)",
	},
	{
		name: "sqlite",
		open: func(t *testing.T, cfg redresssql.Config) *sql.DB {
			db := openSQLite(t, ":memory:", cfg)
			db.SetMaxOpenConns(1)
			return db
		},
		many: "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 200000) SELECT n FROM s",
		// no sleep function in SQLite; a long CPU-bound count instead.
		sleep: "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 50000000) SELECT count(*) FROM s",
	},
}

const mysqlDigits = "(SELECT 0 AS d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9)"

const mysqlMany = "SELECT 1 + a.d + 10*b.d + 100*c.d + 1000*e.d + 10000*f.d + 100000*g.d AS n FROM " +
	mysqlDigits + " a, " + mysqlDigits + " b, " + mysqlDigits + " c, " + mysqlDigits + " e, " + mysqlDigits + " f, " +
	"(SELECT 0 AS d UNION ALL SELECT 1) g"

// queryPaths are the two ways a query reaches the driver: the connection's
// QueryContext and a prepared statement's.
var queryPaths = []struct {
	name  string
	query func(ctx context.Context, t *testing.T, db *sql.DB, q string) (*sql.Rows, error)
}{
	{"conn", func(ctx context.Context, _ *testing.T, db *sql.DB, q string) (*sql.Rows, error) {
		return db.QueryContext(ctx, q)
	}},
	{"stmt", func(ctx context.Context, t *testing.T, db *sql.DB, q string) (*sql.Rows, error) {
		st, err := db.PrepareContext(ctx, q)
		if err != nil {
			return nil, err
		}
		t.Cleanup(func() { st.Close() })
		return st.QueryContext(ctx)
	}},
}

// TestRowsOutliveTheAttempt: with an attempt timeout or an operation
// deadline, the policy cancels each attempt's context as soon as the attempt
// returns, which for a query is when the driver hands back its rows. The
// rows must still be read to the end: the driver is given a context that the
// attempt's end does not cancel.
func TestRowsOutliveTheAttempt(t *testing.T) {
	policies := []struct {
		name    string
		timeout core.TimeoutConfig
	}{
		{"attempt_timeout", core.TimeoutConfig{Attempt: 5 * time.Second}},
		{"deadline", core.TimeoutConfig{Call: 30 * time.Second}},
	}
	for _, dc := range rowsCases {
		t.Run(dc.name, func(t *testing.T) {
			for _, pc := range policies {
				for _, qp := range queryPaths {
					t.Run(pc.name+"/"+qp.name, func(t *testing.T) {
						db := dc.open(t, withPolicy(t, core.PolicyConfig{Timeout: pc.timeout}))
						rows, err := qp.query(context.Background(), t, db, dc.many)
						if err != nil {
							t.Fatal(err)
						}
						defer rows.Close()
						read, high := 0, 0
						for rows.Next() {
							var n int
							if err := rows.Scan(&n); err != nil {
								t.Fatal(err)
							}
							read++
							high = max(high, n)
						}
						if err := rows.Err(); err != nil || read != 200000 || high != 200000 {
							t.Fatalf("read %d rows (highest %d), rows.Err() = %v; want all 200000 rows and no error", read, high, err)
						}
					})
				}
			}
		})
	}
}

// TestAttemptTimeoutInterruptsSlowQuery: the driver's context stays linked
// to the attempt's until the driver returns the rows, so an attempt timeout
// still interrupts a query that is slow to answer.
func TestAttemptTimeoutInterruptsSlowQuery(t *testing.T) {
	for _, dc := range rowsCases {
		for _, qp := range queryPaths {
			t.Run(dc.name+"/"+qp.name, func(t *testing.T) {
				pc, rec := testPolicy(1)
				pc.Timeout.Attempt = 300 * time.Millisecond
				db := dc.open(t, withPolicy(t, pc))
				rec.Reset()
				start := time.Now()
				rows, err := qp.query(context.Background(), t, db, dc.sleep)
				if err == nil {
					// Some drivers answer the first row late: the timeout
					// then surfaces while reading.
					for rows.Next() {
					}
					err = rows.Err()
					rows.Close()
				}
				took := time.Since(start)
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("err = %v; want the attempt timeout (context.DeadlineExceeded)", err)
				}
				if took > 5*time.Second {
					t.Fatalf("query took %v; the 300ms attempt timeout did not interrupt it", took)
				}
			})
		}
	}
}

// TestCallerCancelStopsRows: once the rows are handed out, the caller's own
// cancellation still ends them (database/sql closes the rows).
func TestCallerCancelStopsRows(t *testing.T) {
	for _, dc := range rowsCases {
		t.Run(dc.name, func(t *testing.T) {
			db := dc.open(t, withPolicy(t, core.PolicyConfig{Timeout: core.TimeoutConfig{Attempt: 5 * time.Second}}))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			rows, err := db.QueryContext(ctx, dc.many)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			read := 0
			for rows.Next() {
				read++
				if read == 10 {
					cancel()
				}
			}
			if err := rows.Err(); !errors.Is(err, context.Canceled) || read >= 200000 {
				t.Fatalf("read %d rows, rows.Err() = %v; want the caller's cancellation before the end", read, err)
			}
		})
	}
}
