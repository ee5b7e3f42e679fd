package redresssql

import (
	"database/sql/driver"
	"errors"
	"reflect"
	"strings"

	"github.com/redress-go/redress/core"
)

// SQLStater is implemented by errors that carry a five-character SQLSTATE
// code (pgx's *pgconn.PgError does). Classify looks for it anywhere in the
// error chain.
type SQLStater interface {
	SQLState() string
}

// SQLState returns the SQLSTATE code carried by err or by any error in its
// chain (a SQLState() string method, or a MySQL/MariaDB server error), and
// whether one was found.
func SQLState(err error) (string, bool) {
	var s SQLStater
	if errors.As(err, &s) {
		if code := s.SQLState(); len(code) == 5 {
			return code, true
		}
	}
	if me, ok := mysqlErrorOf(err); ok && me.state != "" {
		return me.state, true
	}
	return "", false
}

// Classify is the database/sql classifier: it understands SQLSTATE codes
// (from any error with a SQLState() string method, pgx's included), MySQL and
// MariaDB error numbers, SQLite result codes and driver.ErrBadConn, and falls
// back to core.DefaultClassifier for everything else (network errors,
// timeouts, redress markers). It is the default classifier of the wrapper and
// is exported for code that calls drivers directly:
//
//	p, _ := core.NewPolicy(core.PolicyConfig{Retry: core.RetryConfig{Classifier: redresssql.Classify}})
//
// The mapping:
//
//   - SQLSTATE 40001 (serialization failure), 40P01 (deadlock): concurrency.
//   - SQLSTATE class 08 (connection exception), HYT00, HYT01 (timeouts),
//     57P01/57P02/57P03 (server shutting down or starting): transient.
//   - SQLSTATE 53300 (too many connections): rate limit.
//   - SQLSTATE class 28 (invalid authorization): auth.
//   - SQLSTATE 42000, class 42 (syntax error or access rule violation), class
//     22 (data exception), class 23 (integrity constraint violation):
//     permanent.
//   - any other SQLSTATE: unknown.
//   - MySQL/MariaDB 1213 (deadlock), 1205 (lock wait timeout): concurrency;
//     2006, 2013 (server gone, connection lost): transient; 1040 (too many
//     connections): rate limit; 1045 (access denied): auth; other numbers
//     fall back to the error's SQLSTATE.
//   - SQLite SQLITE_BUSY, SQLITE_LOCKED (and their extended codes):
//     concurrency.
//   - driver.ErrBadConn: transient.
//
// Reasons are low cardinality: "sqlstate_40001", "sqlstate_08",
// "mysql_1213", "sqlite_busy", "bad_conn".
func Classify(err error) core.Classification {
	if c, ok := classifySQL(err); ok {
		return c
	}
	return core.DefaultClassifier(err)
}

// classifySQL applies the database rules only. ok is false when none applies.
func classifySQL(err error) (core.Classification, bool) {
	// An explicit redress marker wins, as in every core classifier.
	var ce core.Classified
	if errors.As(err, &ce) {
		return ce.RedressClassification(), true
	}
	if errors.Is(err, errConnDead) {
		return core.Classification{Class: core.ClassTransient, Reason: "conn_closed"}, true
	}
	if me, ok := mysqlErrorOf(err); ok {
		if c, ok := classifyMySQL(me.number); ok {
			return c, true
		}
		if me.state != "" {
			return classifySQLState(me.state), true
		}
	}
	var s SQLStater
	if errors.As(err, &s) {
		if code := s.SQLState(); len(code) == 5 {
			return classifySQLState(code), true
		}
	}
	if code, ok := sqliteCode(err); ok {
		switch code & 0xff {
		case sqliteBusy:
			return core.Classification{Class: core.ClassConcurrency, Reason: "sqlite_busy"}, true
		case sqliteLocked:
			return core.Classification{Class: core.ClassConcurrency, Reason: "sqlite_locked"}, true
		}
		return core.Classification{Class: core.ClassUnknown, Reason: "sqlite_error"}, true
	}
	if errors.Is(err, driver.ErrBadConn) {
		return core.Classification{Class: core.ClassTransient, Reason: "bad_conn"}, true
	}
	return core.Classification{}, false
}

func classifySQLState(code string) core.Classification {
	switch code {
	case "40001":
		return core.Classification{Class: core.ClassConcurrency, Reason: "sqlstate_40001"}
	case "40P01":
		return core.Classification{Class: core.ClassConcurrency, Reason: "sqlstate_40P01"}
	case "HYT00", "HYT01":
		return core.Classification{Class: core.ClassTransient, Reason: "sqlstate_HYT0x"}
	case "57P01", "57P02", "57P03":
		return core.Classification{Class: core.ClassTransient, Reason: "sqlstate_57P0x"}
	case "53300":
		return core.Classification{Class: core.ClassRateLimit, Reason: "sqlstate_53300"}
	case "42000":
		return core.Classification{Class: core.ClassPermanent, Reason: "sqlstate_42000"}
	case "42P01":
		return core.Classification{Class: core.ClassPermanent, Reason: "sqlstate_42P01"}
	}
	switch code[:2] {
	case "08":
		return core.Classification{Class: core.ClassTransient, Reason: "sqlstate_08"}
	case "28":
		return core.Classification{Class: core.ClassAuth, Reason: "sqlstate_28"}
	case "42":
		return core.Classification{Class: core.ClassPermanent, Reason: "sqlstate_42"}
	case "22":
		return core.Classification{Class: core.ClassPermanent, Reason: "sqlstate_22"}
	case "23":
		return core.Classification{Class: core.ClassPermanent, Reason: "sqlstate_23"}
	}
	return core.Classification{Class: core.ClassUnknown, Reason: "sqlstate_other"}
}

func classifyMySQL(n uint16) (core.Classification, bool) {
	switch n {
	case 1213:
		return core.Classification{Class: core.ClassConcurrency, Reason: "mysql_1213"}, true
	case 1205:
		return core.Classification{Class: core.ClassConcurrency, Reason: "mysql_1205"}, true
	case 2006:
		return core.Classification{Class: core.ClassTransient, Reason: "mysql_2006"}, true
	case 2013:
		return core.Classification{Class: core.ClassTransient, Reason: "mysql_2013"}, true
	case 1040:
		return core.Classification{Class: core.ClassRateLimit, Reason: "mysql_1040"}, true
	case 1045:
		return core.Classification{Class: core.ClassAuth, Reason: "mysql_1045"}, true
	}
	return core.Classification{}, false
}

const (
	sqliteBusy   = 5
	sqliteLocked = 6
)

// sqliteCoder is the method of modernc.org/sqlite's *Error (and of other
// SQLite drivers' errors) that returns the extended result code.
type sqliteCoder interface {
	error
	Code() int
}

// sqliteCode finds a SQLite result code in err's chain. The Code() int method
// is common, so the error's type must come from a package whose import path
// names SQLite.
func sqliteCode(err error) (int, bool) {
	var sc sqliteCoder
	if !errors.As(err, &sc) {
		return 0, false
	}
	t := reflect.TypeOf(sc)
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if !strings.Contains(strings.ToLower(t.PkgPath()), "sqlite") {
		return 0, false
	}
	return sc.Code(), true
}

// rolledBack reports whether the failed statement was undone or refused
// because of concurrent work (serialization failure, deadlock victim, lock
// wait timeout, SQLite busy / locked): for a single autocommit statement,
// nothing was applied. Inside an explicit transaction it says nothing about
// the transaction itself: PostgreSQL aborts it and InnoDB rolls it back on a
// deadlock, but a lock wait timeout undoes only the statement and SQLite
// busy leaves the transaction open (RunInTx rolls back either way).
func rolledBack(err error) bool {
	if me, ok := mysqlErrorOf(err); ok {
		return me.number == 1213 || me.number == 1205
	}
	var s SQLStater
	if errors.As(err, &s) {
		code := s.SQLState()
		return code == "40001" || code == "40P01"
	}
	if code, ok := sqliteCode(err); ok {
		return code&0xff == sqliteBusy || code&0xff == sqliteLocked
	}
	return false
}

// notSent reports whether err says that the statement never reached the
// database: driver.ErrBadConn (the database/sql contract forbids returning it
// when the server may have acted), an error whose SafeToRetry() method says
// so (pgx), or the wrapper's own dead-connection check before sending.
func notSent(err error) bool {
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, errConnDead) {
		return true
	}
	var s interface{ SafeToRetry() bool }
	return errors.As(err, &s) && s.SafeToRetry()
}

// errConnDead is the error of a connection found closed before a statement
// was sent on it.
var errConnDead = errors.New("redresssql: connection closed by the server before the statement was sent")
