package redresssql_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"modernc.org/sqlite"

	redresssql "github.com/redress-go/redress/contrib/database-sql"
)

// The fallback test driver: a driver whose connections and statements have
// only the optional interfaces a variant gives them, and that records every
// call it receives, so that a test can compare what database/sql does with
// it bare and wrapped, call for call.

// fbLog is the record of the calls of one database.
type fbLog struct {
	mu    sync.Mutex
	calls []string
}

func (l *fbLog) add(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, fmt.Sprintf(format, args...))
}

func (l *fbLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.calls, "\n")
}

// fbVariant is the set of optional interfaces of a fallback test driver.
type fbVariant struct {
	name        string
	legacyExec  bool // the connection has the legacy Execer and Queryer
	connChecker bool // the connection has NamedValueChecker
	stmtChecker bool // the statement has NamedValueChecker
	converter   bool // the statement has ColumnConverter
	session     bool // the connection has SessionResetter and Validator
}

var fbVariants = []fbVariant{
	{name: "minimal"},
	{name: "legacy execer", legacyExec: true},
	{name: "conn checker", connChecker: true},
	{name: "stmt checker", stmtChecker: true},
	{name: "converter", converter: true},
	{name: "conn checker and converter", connChecker: true, converter: true},
	{name: "stmt checker and converter", stmtChecker: true, converter: true, connChecker: true},
	{name: "resetter and validator", session: true},
}

type fbDriver struct {
	log *fbLog
	v   fbVariant
}

func (d *fbDriver) Open(string) (driver.Conn, error) {
	d.log.add("open")
	c := &fbConn{d: d}
	switch {
	case d.v.legacyExec:
		return fbConnLegacy{c}, nil
	case d.v.connChecker:
		return fbConnChecker{c}, nil
	case d.v.session:
		return fbConnSession{c}, nil
	}
	return c, nil
}

type fbConnSession struct{ *fbConn }

func (c fbConnSession) ResetSession(context.Context) error {
	c.d.log.add("reset session")
	return nil
}

func (c fbConnSession) IsValid() bool {
	c.d.log.add("is valid")
	return true
}

type fbConn struct{ d *fbDriver }

func (c *fbConn) Prepare(q string) (driver.Stmt, error) {
	c.d.log.add("prepare %s", q)
	s := &fbStmt{c: c, q: q}
	switch v := c.d.v; {
	case v.stmtChecker && v.converter:
		return fbStmtBoth{s}, nil
	case v.stmtChecker:
		return fbStmtChecker{s}, nil
	case v.converter:
		return fbStmtConverter{s}, nil
	}
	return s, nil
}

func (c *fbConn) Close() error {
	c.d.log.add("close")
	return nil
}

func (c *fbConn) Begin() (driver.Tx, error) {
	c.d.log.add("begin")
	return fbTx{c}, nil
}

type fbConnLegacy struct{ *fbConn }

func (c fbConnLegacy) Exec(q string, args []driver.Value) (driver.Result, error) {
	c.d.log.add("conn exec %s %s", q, fbArgs(args))
	return driver.RowsAffected(len(args)), nil
}

func (c fbConnLegacy) Query(q string, args []driver.Value) (driver.Rows, error) {
	c.d.log.add("conn query %s %s", q, fbArgs(args))
	return &fbRows{args: args}, nil
}

// fbCheck is the NamedValueChecker of the test driver: a fbWide becomes
// its text, "drop" is removed, "conn-bad" is refused, anything else is
// passed on (driver.ErrSkip).
func fbCheck(log *fbLog, who string, nv *driver.NamedValue) error {
	log.add("%s check $%d %T", who, nv.Ordinal, nv.Value)
	switch v := nv.Value.(type) {
	case fbWide:
		nv.Value = "wide:" + string(v)
		return nil
	case string:
		switch v {
		case "drop":
			return driver.ErrRemoveArgument
		case "conn-bad":
			return errors.New("refused by the checker")
		}
	}
	return driver.ErrSkip
}

type fbConnChecker struct{ *fbConn }

func (c fbConnChecker) CheckNamedValue(nv *driver.NamedValue) error {
	return fbCheck(c.d.log, "conn", nv)
}

type fbTx struct{ c *fbConn }

func (t fbTx) Commit() error {
	t.c.d.log.add("commit")
	return nil
}

func (t fbTx) Rollback() error {
	t.c.d.log.add("rollback")
	return nil
}

// fbStmt counts its '?' as its NumInput.
type fbStmt struct {
	c *fbConn
	q string
}

func (s *fbStmt) Close() error {
	s.c.d.log.add("stmt close %s", s.q)
	return nil
}

func (s *fbStmt) NumInput() int { return strings.Count(s.q, "?") }

func (s *fbStmt) Exec(args []driver.Value) (driver.Result, error) {
	s.c.d.log.add("stmt exec %s %s", s.q, fbArgs(args))
	return driver.RowsAffected(len(args)), nil
}

func (s *fbStmt) Query(args []driver.Value) (driver.Rows, error) {
	s.c.d.log.add("stmt query %s %s", s.q, fbArgs(args))
	return &fbRows{args: args}, nil
}

type fbStmtChecker struct{ *fbStmt }

func (s fbStmtChecker) CheckNamedValue(nv *driver.NamedValue) error {
	return fbCheck(s.c.d.log, "stmt", nv)
}

type fbStmtConverter struct{ *fbStmt }

func (s fbStmtConverter) ColumnConverter(idx int) driver.ValueConverter {
	s.c.d.log.add("column converter %d", idx)
	return fbConverter{}
}

type fbStmtBoth struct{ *fbStmt }

func (s fbStmtBoth) CheckNamedValue(nv *driver.NamedValue) error {
	return fbStmtChecker(s).CheckNamedValue(nv)
}

func (s fbStmtBoth) ColumnConverter(idx int) driver.ValueConverter {
	return fbStmtConverter(s).ColumnConverter(idx)
}

// fbConverter upper-cases strings, refuses "bad", returns an unsupported
// type for "odd" and converts the rest as database/sql's default does.
type fbConverter struct{}

func (fbConverter) ConvertValue(v any) (driver.Value, error) {
	if s, ok := v.(string); ok {
		switch s {
		case "bad":
			return nil, errors.New("refused by the column converter")
		case "odd":
			return struct{}{}, nil
		}
		return strings.ToUpper(s), nil
	}
	return driver.DefaultParameterConverter.ConvertValue(v)
}

// fbRows has one row: the arguments, as text.
type fbRows struct {
	args []driver.Value
	done bool
}

func (r *fbRows) Columns() []string {
	cols := make([]string, len(r.args))
	for i := range cols {
		cols[i] = fmt.Sprint("c", i)
	}
	return cols
}

func (r *fbRows) Close() error { return nil }

func (r *fbRows) Next(dest []driver.Value) error {
	if r.done {
		return io.EOF
	}
	r.done = true
	for i, a := range r.args {
		dest[i] = fmt.Sprint(a)
	}
	return nil
}

func fbArgs(args []driver.Value) string {
	parts := make([]string, len(args))
	for i, a := range args {
		parts[i] = fmt.Sprintf("%T(%v)", a, a)
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// fbWide is an argument type only the test driver's checker converts.
type fbWide string

// fbValuer is a driver.Valuer with a value receiver (a nil *fbValuer is
// NULL for database/sql).
type fbValuer struct{ v string }

func (v fbValuer) Value() (driver.Value, error) { return "valuer:" + v.v, nil }

// fbScenario runs calls on db (which has one connection at most) and
// returns what the caller sees.
type fbScenario struct {
	name string
	run  func(ctx context.Context, db *sql.DB) string
}

func fbErr(err error) string {
	if err == nil {
		return "ok"
	}
	return "error: " + err.Error()
}

func fbExec(ctx context.Context, db interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, q string, args ...any) string {
	res, err := db.ExecContext(ctx, q, args...)
	if err != nil {
		return fbErr(err)
	}
	n, err := res.RowsAffected()
	return fmt.Sprintf("%d rows, %s", n, fbErr(err))
}

func fbQuery(ctx context.Context, db interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, q string, args ...any) string {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return fbErr(err)
	}
	defer rows.Close()
	return fbRowsString(rows)
}

// fbRowsString reads rows: the column types as database/sql reports them,
// the values, whether there is a next result set, and the error.
func fbRowsString(rows *sql.Rows) string {
	var b strings.Builder
	cts, err := rows.ColumnTypes()
	if err != nil {
		return fbErr(err)
	}
	for _, ct := range cts {
		l, lok := ct.Length()
		p, s, dok := ct.DecimalSize()
		n, nok := ct.Nullable()
		fmt.Fprintf(&b, "column %s scan %v type %q length %d %v decimal %d %d %v nullable %v %v\n",
			ct.Name(), ct.ScanType(), ct.DatabaseTypeName(), l, lok, p, s, dok, n, nok)
	}
	for rows.Next() {
		vals := make([]any, len(cts))
		ptrs := make([]any, len(cts))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return fbErr(err)
		}
		fmt.Fprintf(&b, "row %v\n", vals)
	}
	fmt.Fprintf(&b, "next result set %v, %s", rows.NextResultSet(), fbErr(rows.Err()))
	return b.String()
}

var fbScenarios = []fbScenario{
	{"exec with arguments", func(ctx context.Context, db *sql.DB) string {
		return fbExec(ctx, db, "UPDATE t SET a = ? WHERE b = ?", "x", 7)
	}},
	{"exec without arguments", func(ctx context.Context, db *sql.DB) string {
		return fbExec(ctx, db, "DELETE FROM t")
	}},
	{"query", func(ctx context.Context, db *sql.DB) string {
		return fbQuery(ctx, db, "SELECT ?, ?", "x", 3)
	}},
	{"named argument", func(ctx context.Context, db *sql.DB) string {
		return fbExec(ctx, db, "SELECT ?", sql.Named("a", 1))
	}},
	{"argument conversion", func(ctx context.Context, db *sql.DB) string {
		var nilValuer *fbValuer
		return fbExec(ctx, db, "SELECT ?, ?, ?, ?, ?, ?, ?", int(5), int8(-2), uint16(9), 2.5, []byte("b"),
			fbValuer{"v"}, nilValuer) + "\n" +
			fbQuery(ctx, db, "SELECT ?, ?, ?", sql.NullString{String: "n", Valid: true}, sql.NullInt64{}, time.Unix(0, 0).UTC())
	}},
	{"checker conversion", func(ctx context.Context, db *sql.DB) string {
		return fbExec(ctx, db, "SELECT ?, ?", fbWide("w"), "drop") + "\n" +
			fbExec(ctx, db, "SELECT ?", fbWide("w")) + "\n" +
			fbExec(ctx, db, "SELECT ?", "conn-bad")
	}},
	{"converter errors", func(ctx context.Context, db *sql.DB) string {
		return fbExec(ctx, db, "SELECT ?", "bad") + "\n" + fbExec(ctx, db, "SELECT ?", "odd")
	}},
	{"unsupported argument", func(ctx context.Context, db *sql.DB) string {
		return fbExec(ctx, db, "SELECT ?", struct{}{})
	}},
	{"argument count", func(ctx context.Context, db *sql.DB) string {
		return fbExec(ctx, db, "SELECT ?, ?", 1) + "\n" + fbExec(ctx, db, "SELECT ?", 1, 2)
	}},
	{"prepared statement", func(ctx context.Context, db *sql.DB) string {
		st, err := db.PrepareContext(ctx, "SELECT ?")
		if err != nil {
			return fbErr(err)
		}
		defer st.Close()
		ex := func(args ...any) string {
			res, err := st.ExecContext(ctx, args...)
			if err != nil {
				return fbErr(err)
			}
			n, err := res.RowsAffected()
			return fmt.Sprintf("%d rows, %s", n, fbErr(err))
		}
		out := ex(1) + "\n" + ex(sql.Named("n", 1)) + "\n" + ex(fbWide("w")) + "\n" + ex("bad") + "\n"
		rows, err := st.QueryContext(ctx, "q")
		if err != nil {
			return out + fbErr(err)
		}
		defer rows.Close()
		return out + fbRowsString(rows)
	}},
	{"begin with isolation level", func(ctx context.Context, db *sql.DB) string {
		_, err := db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelSerializable})
		return fbErr(err)
	}},
	{"begin read-only", func(ctx context.Context, db *sql.DB) string {
		_, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
		return fbErr(err)
	}},
	{"transaction", func(ctx context.Context, db *sql.DB) string {
		tx, err := db.BeginTx(ctx, &sql.TxOptions{})
		if err != nil {
			return fbErr(err)
		}
		out := fbExec(ctx, tx, "UPDATE t SET a = ?", 1)
		return out + "\n" + fbErr(tx.Commit()) + "\n" + fbExec(ctx, db, "DELETE FROM t")
	}},
	{"transaction rolled back", func(ctx context.Context, db *sql.DB) string {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return fbErr(err)
		}
		return fbErr(tx.Rollback()) + "\n" + fbExec(ctx, db, "DELETE FROM t")
	}},
	{"transaction whose context ends", func(ctx context.Context, db *sql.DB) string {
		// database/sql rolls the transaction back and discards the
		// connection of a driver without SessionResetter and Validator:
		// the next statement waits for the only connection slot, then
		// opens a new connection.
		tctx, cancel := context.WithCancel(ctx)
		tx, err := db.BeginTx(tctx, nil)
		if err != nil {
			cancel()
			return fbErr(err)
		}
		out := fbExec(tctx, tx, "UPDATE t SET a = ?", 1)
		cancel()
		return out + "\n" + fbExec(ctx, db, "DELETE FROM t") + "\n" + fbErr(tx.Commit())
	}},
	{"ping", func(ctx context.Context, db *sql.DB) string {
		return fbErr(db.PingContext(ctx)) + "\n" + fbErr(db.PingContext(ctx))
	}},
	{"connection reused", func(ctx context.Context, db *sql.DB) string {
		c, err := db.Conn(ctx)
		if err != nil {
			return fbErr(err)
		}
		out := fbExec(ctx, c, "UPDATE t SET a = ?", 1)
		out += "\n" + fbErr(c.Close())
		return out + "\n" + fbExec(ctx, db, "UPDATE t SET a = ?", 2)
	}},
	{"close", func(ctx context.Context, db *sql.DB) string {
		out := fbExec(ctx, db, "DELETE FROM t")
		return out + "\n" + fbErr(db.Close())
	}},
}

// TestFallbacksMatchDatabaseSQL: for every scenario and every variant of a
// driver lacking optional interfaces, database/sql over the wrapped driver
// (opened through its OpenConnector fallback) returns what it returns over
// the bare driver, and makes the same driver calls in the same order.
func TestFallbacksMatchDatabaseSQL(t *testing.T) {
	for _, v := range fbVariants {
		for _, sc := range fbScenarios {
			t.Run(v.name+"/"+sc.name, func(t *testing.T) {
				ctx := context.Background()
				run := func(wrap bool) (string, string) {
					log := &fbLog{}
					var d driver.Driver = &fbDriver{log: log, v: v}
					var db *sql.DB
					if wrap {
						wd, err := redresssql.Wrap(d, redresssql.Config{})
						if err != nil {
							t.Fatal(err)
						}
						c, err := wd.(driver.DriverContext).OpenConnector("")
						if err != nil {
							t.Fatal(err)
						}
						db = sql.OpenDB(c)
					} else {
						db = sql.OpenDB(dsnConn{d, ""})
					}
					db.SetMaxOpenConns(1)
					out := sc.run(ctx, db)
					_ = db.Close()
					return out, log.String()
				}
				bare, bareCalls := run(false)
				wrapped, wrappedCalls := run(true)
				if wrapped != bare {
					t.Errorf("caller sees, wrapped:\n%s\nbare:\n%s", wrapped, bare)
				}
				if wrappedCalls != bareCalls {
					t.Errorf("driver calls, wrapped:\n%s\nbare:\n%s", wrappedCalls, bareCalls)
				}
				if testing.Verbose() {
					t.Logf("%s\n--\n%s", bare, bareCalls)
				}
			})
		}
	}
}

// realDB is a real database opened bare and wrapped, with the statements a
// parity scenario needs.
type realDB struct {
	name       string
	open       func(t *testing.T) (bare, wrapped *sql.DB)
	columns    string // a query with typed columns
	connection string // a query identifying the connection
	named      string // a statement taking one argument
}

var realDBs = []realDB{
	{"pgx", func(t *testing.T) (*sql.DB, *sql.DB) {
		w := openPG(t, redresssql.Config{})
		return rawPG(t), w
	}, "SELECT 1::int4 AS a, 'x'::varchar(8) AS b, 1.5::numeric(4,2) AS c, NULL::bool AS d", "SELECT pg_backend_pid()", "SELECT $1::int"},
	{"mysql", func(t *testing.T) (*sql.DB, *sql.DB) {
		w := openMySQL(t, redresssql.Config{})
		b := sql.OpenDB(mysqlConnector(t))
		t.Cleanup(func() { b.Close() })
		return b, w
	}, "SELECT CAST(1 AS SIGNED) AS a, 'x' AS b, CAST(1.5 AS DECIMAL(4,2)) AS c, NULL AS d", "SELECT CONNECTION_ID()", "SELECT ?"},
	{"sqlite", func(t *testing.T) (*sql.DB, *sql.DB) {
		b := sql.OpenDB(dsnConn{&sqlite.Driver{}, ":memory:"})
		t.Cleanup(func() { b.Close() })
		return b, openSQLite(t, ":memory:", redresssql.Config{})
	}, "SELECT 1 AS a, 'x' AS b, 1.5 AS c, NULL AS d", "SELECT count(*) FROM sqlite_master WHERE name = 'marker'", "SELECT ?"},
}

// stopPrefix is what the policy puts before a driver's error it did not
// retry (the wrapper's own behaviour, not a fallback's).
var stopPrefix = regexp.MustCompile(`redress: stopped \([a-z_]+\) after \d+ attempts?: `)

// TestFallbacksMatchRealDrivers: against each real driver, what database/sql
// decides from the optional interfaces (argument checks, column types and
// result sets of the driver's own rows, transaction options, whether the
// connection survives a transaction whose context ended) is the same bare
// and wrapped.
func TestFallbacksMatchRealDrivers(t *testing.T) {
	scenarios := []struct {
		name string
		run  func(ctx context.Context, r realDB, db *sql.DB) string
	}{
		{"column types", func(ctx context.Context, r realDB, db *sql.DB) string {
			return fbQuery(ctx, db, r.columns)
		}},
		{"prepared column types", func(ctx context.Context, r realDB, db *sql.DB) string {
			st, err := db.PrepareContext(ctx, r.columns)
			if err != nil {
				return fbErr(err)
			}
			defer st.Close()
			rows, err := st.QueryContext(ctx)
			if err != nil {
				return fbErr(err)
			}
			defer rows.Close()
			return fbRowsString(rows)
		}},
		{"arguments", func(ctx context.Context, r realDB, db *sql.DB) string {
			var nilValuer *fbValuer
			var out []string
			for _, arg := range []any{int(5), uint16(9), int8(-1), "7", []byte("8"), sql.NullInt64{Int64: 4, Valid: true}, nilValuer, struct{}{}, sql.Named("a", 1)} {
				var v any
				out = append(out, fmt.Sprintf("%T: %s %v", arg, fbErr(db.QueryRowContext(ctx, r.named, arg).Scan(&v)), v))
			}
			return strings.Join(out, "\n")
		}},
		{"transaction options", func(ctx context.Context, r realDB, db *sql.DB) string {
			var out []string
			for _, o := range []*sql.TxOptions{nil, {ReadOnly: true}, {Isolation: sql.LevelSerializable}, {Isolation: sql.LevelReadCommitted}, {Isolation: sql.LevelLinearizable}} {
				tx, err := db.BeginTx(ctx, o)
				if err == nil {
					err = tx.Rollback()
				}
				out = append(out, fmt.Sprintf("%+v: %s", o, fbErr(err)))
			}
			return strings.Join(out, "\n")
		}},
		{"transaction whose context ends", func(ctx context.Context, r realDB, db *sql.DB) string {
			db.SetMaxOpenConns(1)
			if r.name == "sqlite" { // a new :memory: connection is a new database
				if _, err := db.ExecContext(ctx, "CREATE TABLE marker (id INTEGER)"); err != nil {
					return fbErr(err)
				}
			}
			var before, after any
			if err := db.QueryRowContext(ctx, r.connection).Scan(&before); err != nil {
				return fbErr(err)
			}
			tctx, cancel := context.WithCancel(ctx)
			if _, err := db.BeginTx(tctx, nil); err != nil {
				cancel()
				return fbErr(err)
			}
			cancel() // database/sql rolls back; the next query waits for the connection
			if err := db.QueryRowContext(ctx, r.connection).Scan(&after); err != nil {
				return fbErr(err)
			}
			return fmt.Sprintf("same connection: %v", fmt.Sprint(before) == fmt.Sprint(after))
		}},
		{"ping", func(ctx context.Context, r realDB, db *sql.DB) string {
			return fbErr(db.PingContext(ctx))
		}},
	}
	for _, r := range realDBs {
		t.Run(r.name, func(t *testing.T) {
			for _, sc := range scenarios {
				t.Run(sc.name, func(t *testing.T) {
					ctx := context.Background()
					bare, wrapped := r.open(t)
					b, w := sc.run(ctx, r, bare), stopPrefix.ReplaceAllString(sc.run(ctx, r, wrapped), "")
					if w != b {
						t.Errorf("wrapped:\n%s\nbare:\n%s", w, b)
					}
					if testing.Verbose() {
						t.Logf("%s", b)
					}
				})
			}
		})
	}
}
