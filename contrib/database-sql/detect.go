package redresssql

import (
	"reflect"
	"strings"
)

// The package imports no database driver (a program links only the drivers
// it imports itself). What it must know of a driver's errors and connections
// it reads through interfaces the drivers implement (SQLState() string,
// SafeToRetry() bool, Code() int, driver.Validator) or, where a driver
// offers none, through the exported fields and methods of the driver's
// types, found by reflection and checked against the driver's package path,
// so that a look-alike type of another package never matches:
//
//   - go-sql-driver/mysql's *MySQLError (fields Number and SQLState), here;
//   - modernc.org/sqlite's *Error (method Code() int), in sqliteCode;
//   - pgx's stdlib connection (Conn() *pgx.Conn), in pgcheck.go.

// mysqlPkg is the import path of go-sql-driver/mysql (a later major version
// adds a /vN suffix).
const mysqlPkg = "github.com/go-sql-driver/mysql"

// mysqlErr is what the wrapper reads of a *mysql.MySQLError.
type mysqlErr struct {
	number uint16
	state  string // SQLSTATE, "" when the server sent none
}

// mysqlErrorOf finds go-sql-driver/mysql's *MySQLError in err's chain
// without importing the driver: a pointer to a struct named MySQLError,
// declared in the driver's package, whose Number field is an unsigned
// integer and whose SQLState field is a [5]byte.
func mysqlErrorOf(err error) (mysqlErr, bool) {
	var out mysqlErr
	found := walkChain(err, func(e error) bool {
		v := reflect.ValueOf(e)
		if v.Kind() != reflect.Pointer || v.IsNil() {
			return false
		}
		t := v.Type().Elem()
		if t.Kind() != reflect.Struct || t.Name() != "MySQLError" || !inPackage(t.PkgPath(), mysqlPkg) {
			return false
		}
		s := v.Elem()
		num, state := s.FieldByName("Number"), s.FieldByName("SQLState")
		if !num.IsValid() || !state.IsValid() {
			return false
		}
		switch num.Kind() {
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		default:
			return false
		}
		if state.Kind() != reflect.Array || state.Len() != 5 || state.Type().Elem().Kind() != reflect.Uint8 {
			return false
		}
		n := num.Uint()
		if n > 0xffff {
			return false
		}
		out.number = uint16(n)
		var b [5]byte
		for i := range b {
			b[i] = byte(state.Index(i).Uint())
		}
		if b != [5]byte{} {
			out.state = string(b[:])
		}
		return true
	})
	return out, found
}

// inPackage reports whether the package path p is pkg or a major version
// of it (pkg/v2, ...).
func inPackage(p, pkg string) bool {
	rest, ok := strings.CutPrefix(p, pkg)
	if !ok {
		return false
	}
	if rest == "" {
		return true
	}
	v, ok := strings.CutPrefix(rest, "/v")
	if !ok || v == "" {
		return false
	}
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return false
		}
	}
	return true
}

// walkChain calls f on err and the errors of its chain (Unwrap() error and
// Unwrap() []error, depth first, as errors.As walks it) until f reports
// true, and reports whether it did.
func walkChain(err error, f func(error) bool) bool {
	for err != nil {
		if f(err) {
			return true
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				if walkChain(e, f) {
					return true
				}
			}
			return false
		default:
			return false
		}
	}
	return false
}
