package redresssql_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/stdlib"
	"go.uber.org/goleak"
	"modernc.org/sqlite"

	redresssql "github.com/redress-go/redress/contrib/database-sql"
	"github.com/redress-go/redress/core"
	"github.com/redress-go/redress/core/coretest"
	"github.com/redress-go/redress/internal/testenv"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// database/sql's connection opener lives as long as a *sql.DB; pgx
		// and mysql keep per-connection watchers until Close returns.
		goleak.IgnoreTopFunction("database/sql.(*DB).connectionOpener"),
	)
}

var (
	pgDSN    = testenv.Env("REDRESS_PG_DSN", "postgres://root@127.0.0.1:5432/test?sslmode=disable")
	mysqlDSN = testenv.Env("REDRESS_MYSQL_DSN", "root@tcp(127.0.0.1:3306)/test")
	tableSeq atomic.Int64
)

// table returns a table name unique to this test run.
func table(prefix string) string {
	return fmt.Sprintf("redresssql_%s_%d_%d", prefix, os.Getpid(), tableSeq.Add(1))
}

// testPolicy returns a policy config with instant retries and a recorder.
func testPolicy(attempts int) (core.PolicyConfig, *coretest.Recorder) {
	rec := &coretest.Recorder{}
	return core.PolicyConfig{
		Name:    "test",
		Retry:   core.RetryConfig{MaxAttempts: attempts, Strategy: coretest.NoDelay},
		Bus:     core.NewBus(rec),
		Sleeper: coretest.InstantSleeper{},
	}, rec
}

func pgConnector(t testing.TB) driver.Connector {
	t.Helper()
	c, err := (&stdlib.Driver{}).OpenConnector(pgDSN)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// reachable skips (or fails, see testenv) unless the database behind c
// answers a ping. It pings without the wrapper, so the skip does not depend
// on the test's policy: a test Sleeper that waits for other participants
// would otherwise hold the connection retries forever.
func reachable(t testing.TB, c driver.Connector, service string) {
	t.Helper()
	db := sql.OpenDB(c)
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		testenv.Missing(t, service, err)
	}
}

// openPG opens PostgreSQL through the wrapper, or skips.
func openPG(t testing.TB, cfg redresssql.Config) *sql.DB {
	t.Helper()
	reachable(t, pgConnector(t), "PostgreSQL at "+pgDSN+" (REDRESS_PG_DSN)")
	wc, err := redresssql.WrapConnector(pgConnector(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(wc)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		testenv.Missing(t, "PostgreSQL at "+pgDSN+" (REDRESS_PG_DSN)", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func rawPG(t testing.TB) *sql.DB {
	t.Helper()
	db := sql.OpenDB(pgConnector(t))
	if err := db.Ping(); err != nil {
		db.Close()
		testenv.Missing(t, "PostgreSQL at "+pgDSN+" (REDRESS_PG_DSN)", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func mysqlConnector(t testing.TB) driver.Connector {
	t.Helper()
	cfg, err := mysql.ParseDSN(mysqlDSN)
	if err != nil {
		t.Fatal(err)
	}
	c, err := mysql.NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func openMySQL(t testing.TB, cfg redresssql.Config) *sql.DB {
	t.Helper()
	reachable(t, mysqlConnector(t), "MariaDB/MySQL at "+mysqlDSN+" (REDRESS_MYSQL_DSN)")
	wc, err := redresssql.WrapConnector(mysqlConnector(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(wc)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		testenv.Missing(t, "MariaDB/MySQL at "+mysqlDSN+" (REDRESS_MYSQL_DSN)", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// sqliteFile returns the DSN of a fresh SQLite file database.
func sqliteFile(t testing.TB) string {
	return "file:" + filepath.Join(t.TempDir(), "test.db")
}

// heldSQLite creates a SQLite database file with a table (name from prefix)
// and returns them with a pinned connection that holds the write lock
// (BEGIN IMMEDIATE): the caller ends that transaction (COMMIT or ROLLBACK);
// the connection is closed at the end of the test.
func heldSQLite(t testing.TB, prefix string) (dsn, tbl string, lock *sql.Conn) {
	t.Helper()
	dsn = sqliteFile(t)
	holder := openSQLite(t, dsn, redresssql.Config{})
	tbl = table(prefix)
	mustExec(t, holder, "CREATE TABLE "+tbl+" (id INTEGER PRIMARY KEY)")
	lock, err := holder.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lock.Close() })
	mustExec(t, lock, "BEGIN IMMEDIATE")
	return dsn, tbl, lock
}

func openSQLite(t testing.TB, dsn string, cfg redresssql.Config) *sql.DB {
	t.Helper()
	d, err := redresssql.Wrap(&sqlite.Driver{}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(connectorFor(d, dsn))
	t.Cleanup(func() { db.Close() })
	return db
}

// connectorFor opens a connector for dsn on a wrapped driver.
func connectorFor(d driver.Driver, dsn string) driver.Connector {
	if dc, ok := d.(driver.DriverContext); ok {
		c, err := dc.OpenConnector(dsn)
		if err != nil {
			panic(err)
		}
		return c
	}
	return dsnConn{d, dsn}
}

type dsnConn struct {
	d   driver.Driver
	dsn string
}

func (c dsnConn) Connect(context.Context) (driver.Conn, error) { return c.d.Open(c.dsn) }
func (c dsnConn) Driver() driver.Driver                        { return c.d }

func mustExec(t testing.TB, db interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, q string, args ...any) {
	t.Helper()
	if _, err := db.ExecContext(context.Background(), q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// kinds counts the recorded events by name.
func kinds(rec *coretest.Recorder) map[string]int {
	m := map[string]int{}
	for _, n := range rec.Names() {
		m[n]++
	}
	return m
}

// retryReasons lists the reasons of the retry events.
func retryReasons(rec *coretest.Recorder) []string {
	var out []string
	for _, e := range rec.All() {
		if e.Kind == core.EventRetry {
			out = append(out, e.Reason)
		}
	}
	return out
}

// withPolicy returns the Config of a test's policy: pc (named "sql" when
// unnamed, as the default policy is) built into Config.Policy; a policy
// with a breaker of its own turns the database's breaker off.
func withPolicy(t testing.TB, pc core.PolicyConfig) redresssql.Config {
	t.Helper()
	if pc.Name == "" {
		pc.Name = "sql"
	}
	p, err := core.NewPolicy(pc)
	if err != nil {
		t.Fatal(err)
	}
	return redresssql.Config{Policy: p, DisableBreakers: pc.Breaker != nil}
}
