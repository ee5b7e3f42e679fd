package redresssql_test

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"reflect"
	"slices"
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"

	redresssql "github.com/redress-go/redress/contrib/database-sql"
	"github.com/redress-go/redress/core"
)

var connIfaces = map[string]reflect.Type{
	"Pinger":             reflect.TypeFor[driver.Pinger](),
	"ExecerContext":      reflect.TypeFor[driver.ExecerContext](),
	"QueryerContext":     reflect.TypeFor[driver.QueryerContext](),
	"ConnPrepareContext": reflect.TypeFor[driver.ConnPrepareContext](),
	"ConnBeginTx":        reflect.TypeFor[driver.ConnBeginTx](),
	"SessionResetter":    reflect.TypeFor[driver.SessionResetter](),
	"Validator":          reflect.TypeFor[driver.Validator](),
	"NamedValueChecker":  reflect.TypeFor[driver.NamedValueChecker](),
}

// stmtIfaces are the statement interfaces database/sql looks for. The
// wrapped statement has all but ColumnConverter, which its
// NamedValueChecker applies.
var stmtIfaces = map[string]reflect.Type{
	"StmtExecContext":   reflect.TypeFor[driver.StmtExecContext](),
	"StmtQueryContext":  reflect.TypeFor[driver.StmtQueryContext](),
	"NamedValueChecker": reflect.TypeFor[driver.NamedValueChecker](),
	"ColumnConverter":   reflect.TypeFor[driver.ColumnConverter](),
}

func ifaceSet(v any, set map[string]reflect.Type) []string {
	var out []string
	for name, it := range set {
		if reflect.TypeOf(v).Implements(it) {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

var (
	allConnIfaces = []string{"ConnBeginTx", "ConnPrepareContext", "ExecerContext", "NamedValueChecker", "Pinger", "QueryerContext", "SessionResetter", "Validator"}
	allStmtIfaces = []string{"NamedValueChecker", "StmtExecContext", "StmtQueryContext"}
)

// TestInterfacesComplete: against each real driver and a driver with no
// optional interface at all, the wrapped connection and prepared statement
// have every optional interface database/sql looks for (their fallbacks
// are checked by TestFallbacks*), and Unwrap reaches the driver's
// connection.
func TestInterfacesComplete(t *testing.T) {
	cases := []struct {
		name string
		conn func(t *testing.T) driver.Connector
	}{
		{"pgx", func(t *testing.T) driver.Connector {
			openPG(t, redresssql.Config{})
			return pgConnector(t)
		}},
		{"mysql", func(t *testing.T) driver.Connector {
			openMySQL(t, redresssql.Config{})
			return mysqlConnector(t)
		}},
		{"sqlite", func(t *testing.T) driver.Connector { return dsnConn{&sqlite.Driver{}, ":memory:"} }},
		{"minimal", func(t *testing.T) driver.Connector { return dsnConn{&fbDriver{log: &fbLog{}}, ""} }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			rc := tc.conn(t)
			raw, err := rc.Connect(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			wc, err := redresssql.WrapConnector(rc, redresssql.Config{})
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := wc.(io.Closer); !ok {
				t.Error("wrapped connector lacks io.Closer")
			}
			if _, ok := wc.Driver().(driver.DriverContext); !ok {
				t.Error("wrapped driver lacks DriverContext")
			}
			wrapped, err := wc.Connect(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer wrapped.Close()
			if got := ifaceSet(wrapped, connIfaces); !slices.Equal(got, allConnIfaces) {
				t.Fatalf("conn interfaces = %v, want %v", got, allConnIfaces)
			}
			ws, err := wrapped.Prepare("SELECT 1")
			if err != nil {
				t.Fatal(err)
			}
			defer ws.Close()
			if got := ifaceSet(ws, stmtIfaces); !slices.Equal(got, allStmtIfaces) {
				t.Fatalf("stmt interfaces = %v, want %v", got, allStmtIfaces)
			}
			if reflect.TypeOf(redresssql.Unwrap(wrapped)) != reflect.TypeOf(raw) {
				t.Fatalf("Unwrap = %T, want %T", redresssql.Unwrap(wrapped), raw)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	_, err := redresssql.Wrap(&sqlite.Driver{}, redresssql.Config{Breaker: &core.BreakerConfig{FailureThreshold: -1}})
	var ce *core.ConfigError
	if !errors.As(err, &ce) || ce.Field != "Config.Breaker (BreakerConfig.FailureThreshold)" {
		t.Fatalf("err = %v, want ConfigError on Config.Breaker (BreakerConfig.FailureThreshold)", err)
	}
	if _, err := redresssql.Wrap(nil, redresssql.Config{}); !errors.As(err, &ce) {
		t.Fatalf("nil driver: err = %v", err)
	}
	if _, err := redresssql.Open("no-such-driver", "", redresssql.Config{}); err == nil {
		t.Fatal("unknown driver accepted")
	}
}

// TestConfigErrorsNameTheField: every value that cannot work
// is refused by the constructor with a *core.ConfigError naming it, instead
// of failing (or being ignored) at call time.
func TestConfigErrorsNameTheField(t *testing.T) {
	br, err := core.NewBreaker(core.BreakerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	withBreaker, err := core.NewPolicy(core.PolicyConfig{Breaker: br})
	if err != nil {
		t.Fatal(err)
	}
	bus, other := core.NewBus(), core.NewBus()
	plain, err := core.NewPolicy(core.PolicyConfig{Bus: bus})
	if err != nil {
		t.Fatal(err)
	}
	// Each wrapper's common fields are refused alike (contrib/internal/wrapper).
	badBreaker := redresssql.Config{Policy: withBreaker}
	cases := []struct {
		name  string
		build func() error
		field string
	}{
		{"nil driver", func() error { _, err := redresssql.Wrap(nil, redresssql.Config{}); return err }, "driver"},
		{"typed nil driver", func() error { _, err := redresssql.Wrap((*sqlite.Driver)(nil), redresssql.Config{}); return err }, "driver"},
		{"nil connector", func() error { _, err := redresssql.WrapConnector(nil, redresssql.Config{}); return err }, "connector"},
		{"typed nil connector", func() error {
			_, err := redresssql.WrapConnector((*faultConnector)(nil), redresssql.Config{})
			return err
		}, "connector"},
		{"connector without driver", func() error {
			_, err := redresssql.WrapConnector(dsnConn{nil, ""}, redresssql.Config{})
			return err
		}, "connector"},
		{"policy with a breaker (Wrap)", func() error { _, err := redresssql.Wrap(&sqlite.Driver{}, badBreaker); return err }, "Config.Policy"},
		{"policy with a breaker (Open)", func() error { _, err := redresssql.Open("sqlite", ":memory:", badBreaker); return err }, "Config.Policy"},
		{"policy with a breaker (Register)", func() error { return redresssql.Register("sqlite-bad-breaker", "sqlite", badBreaker) }, "Config.Policy"},
		{"policy and bus", func() error {
			_, err := redresssql.Open("sqlite", ":memory:", redresssql.Config{Policy: plain, Bus: bus})
			return err
		}, "Config.Bus"},
		{"breaker template and DisableBreakers", func() error {
			_, err := redresssql.Open("sqlite", ":memory:", redresssql.Config{Breaker: &core.BreakerConfig{}, DisableBreakers: true})
			return err
		}, "Config.Breaker"},
		{"breaker template field", func() error {
			_, err := redresssql.Open("sqlite", ":memory:", redresssql.Config{Breaker: &core.BreakerConfig{RecoveryTimeout: -1}})
			return err
		}, "Config.Breaker (BreakerConfig.RecoveryTimeout)"},
		{"breaker template on another bus", func() error {
			_, err := redresssql.Open("sqlite", ":memory:", redresssql.Config{Policy: plain, Breaker: &core.BreakerConfig{Bus: other}})
			return err
		}, "Config.Breaker (BreakerConfig.Bus)"},
		{"empty driver name", func() error { return redresssql.Register("", "sqlite", redresssql.Config{}) }, "name"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var ce *core.ConfigError
			if err := tc.build(); !errors.As(err, &ce) || ce.Field != tc.field {
				t.Fatalf("err = %v, want a *core.ConfigError on %s", err, tc.field)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	my := func(n uint16, state string) error {
		e := &mysql.MySQLError{Number: n}
		copy(e.SQLState[:], state)
		return e
	}
	cases := []struct {
		name   string
		err    error
		class  core.Class
		reason string
	}{
		{"pg serialization", &pgconn.PgError{Code: "40001"}, core.ClassConcurrency, "sqlstate_40001"},
		{"pg deadlock", &pgconn.PgError{Code: "40P01"}, core.ClassConcurrency, "sqlstate_40P01"},
		{"pg connection", &pgconn.PgError{Code: "08006"}, core.ClassTransient, "sqlstate_08"},
		{"timeout HYT00", &pgconn.PgError{Code: "HYT00"}, core.ClassTransient, "sqlstate_HYT0x"},
		{"auth", &pgconn.PgError{Code: "28P01"}, core.ClassAuth, "sqlstate_28"},
		{"syntax 42000", &pgconn.PgError{Code: "42000"}, core.ClassPermanent, "sqlstate_42000"},
		{"no table", &pgconn.PgError{Code: "42P01"}, core.ClassPermanent, "sqlstate_42P01"},
		{"other", &pgconn.PgError{Code: "XX000"}, core.ClassUnknown, "sqlstate_other"},
		{"wrapped", fmt.Errorf("ctx: %w", &pgconn.PgError{Code: "40001"}), core.ClassConcurrency, "sqlstate_40001"},
		{"mysql deadlock", my(1213, "40001"), core.ClassConcurrency, "mysql_1213"},
		{"mysql lock wait", my(1205, "HY000"), core.ClassConcurrency, "mysql_1205"},
		{"mysql gone", my(2006, ""), core.ClassTransient, "mysql_2006"},
		{"mysql lost", my(2013, ""), core.ClassTransient, "mysql_2013"},
		{"mysql too many", my(1040, "08004"), core.ClassRateLimit, "mysql_1040"},
		{"mysql denied", my(1045, "28000"), core.ClassAuth, "mysql_1045"},
		{"mysql syntax via sqlstate", my(1064, "42000"), core.ClassPermanent, "sqlstate_42000"},
		{"mysql wrapped", fmt.Errorf("debit: %w", my(1213, "40001")), core.ClassConcurrency, "mysql_1213"},
		{"mysql joined", errors.Join(errors.New("x"), my(1205, "")), core.ClassConcurrency, "mysql_1205"},
		// The driver is found by its package, not by a type's name: a
		// look-alike of another package is not a MySQL error.
		{"mysql look-alike", &MySQLError{Number: 1213}, core.ClassUnknown, ""},
		{"bad conn", driver.ErrBadConn, core.ClassTransient, "bad_conn"},
		{"network", &net.OpError{Op: "dial", Err: errors.New("x")}, core.ClassTransient, "network"},
		{"marker wins", core.Permanent(&pgconn.PgError{Code: "40001"}), core.ClassPermanent, "marked_permanent"},
		{"plain", errors.New("x"), core.ClassUnknown, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := redresssql.Classify(tc.err)
			if c.Class != tc.class || c.Reason != tc.reason {
				t.Fatalf("Classify = %v/%q, want %v/%q", c.Class, c.Reason, tc.class, tc.reason)
			}
		})
	}
	if s, ok := redresssql.SQLState(my(1213, "40001")); !ok || s != "40001" {
		t.Fatalf("SQLState = %q, %v", s, ok)
	}
}

// MySQLError has the name and fields of go-sql-driver/mysql's error, in
// another package.
type MySQLError struct {
	Number   uint16
	SQLState [5]byte
}

func (e *MySQLError) Error() string { return fmt.Sprint("Error ", e.Number) }

func TestDeriveOperation(t *testing.T) {
	cases := map[string]string{
		"SELECT id FROM users WHERE id = $1":             "SELECT users",
		"  -- c\n/* x */ select * from public.orders o":  "SELECT public.orders",
		"INSERT INTO \"Accounts\" (a) VALUES ('FROM x')": "INSERT Accounts",
		"update items set n = 1":                         "UPDATE items",
		"DELETE FROM sessions WHERE expired":             "DELETE sessions",
		"SELECT 'FROM secret' ":                          "SELECT",
		"BEGIN":                                          "BEGIN",
		"":                                               "QUERY",
		"WITH x AS (SELECT 1) SELECT * FROM x":           "WITH",
	}
	for q, want := range cases {
		if got := redresssql.DeriveOperation(q); got != want {
			t.Errorf("DeriveOperation(%q) = %q, want %q", q, got, want)
		}
	}
}
