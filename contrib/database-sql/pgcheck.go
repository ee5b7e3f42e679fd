package redresssql

import (
	"database/sql/driver"
	"net"
	"reflect"
	"strings"
)

// pgxPkg prefixes the import paths of pgx's packages (every major version).
const pgxPkg = "github.com/jackc/pgx"

// pgxConn is the part of a *pgx.Conn the wrapper uses.
type pgxConn interface{ IsClosed() bool }

// pgxPgConn is the part of a *pgconn.PgConn the wrapper uses.
type pgxPgConn interface {
	Conn() net.Conn
	CheckConn() error
	IsClosed() bool
}

// pgxConnOf returns the pgx connection under pgx's stdlib driver connection
// inner, without importing pgx: inner's type is declared in a pgx package
// and has Conn() returning a value with IsClosed() bool and PgConn(), which
// returns a value with Conn() net.Conn, CheckConn() error and IsClosed()
// bool (the *pgx.Conn and *pgconn.PgConn of pgx v5). Both are fixed for the
// connection's life, so the reflection runs once per connection.
func pgxConnOf(inner driver.Conn) (pgxConn, pgxPgConn, bool) {
	v := reflect.ValueOf(inner)
	if v.Kind() != reflect.Pointer || v.IsNil() || !strings.HasPrefix(v.Type().Elem().PkgPath(), pgxPkg) {
		return nil, nil, false
	}
	c, ok := callGetter(v, "Conn")
	if !ok {
		return nil, nil, false
	}
	pc, ok := c.Interface().(pgxConn)
	if !ok {
		return nil, nil, false
	}
	p, ok := callGetter(c, "PgConn")
	if !ok {
		return nil, nil, false
	}
	pg, ok := p.Interface().(pgxPgConn)
	if !ok {
		return nil, nil, false
	}
	return pc, pg, true
}

// callGetter calls v's method name, which must take nothing and return one
// non-nil pointer. The names are constants, so that the linker keeps only
// the methods of these names.
func callGetter(v reflect.Value, name string) (reflect.Value, bool) {
	var m reflect.Value
	switch name {
	case "Conn":
		m = v.MethodByName("Conn")
	case "PgConn":
		m = v.MethodByName("PgConn")
	}
	if !m.IsValid() || m.Type().NumIn() != 0 || m.Type().NumOut() != 1 || m.Type().Out(0).Kind() != reflect.Pointer {
		return reflect.Value{}, false
	}
	out := m.Call(nil)[0]
	if out.IsNil() {
		return reflect.Value{}, false
	}
	return out, true
}

// liveness returns the check run before a statement is sent outside a
// transaction, or nil when the driver needs none, and a function that
// reports whether the driver closed its connection, or nil when the driver
// does not say (then driver.Validator, if the driver has it, says).
//
// go-sql-driver/mysql checks the socket itself before the first write on a
// reused connection and returns driver.ErrBadConn when it is dead. pgx's
// stdlib driver does so only when the connection was idle for more than a
// second, so a server that closed the connection (pg_terminate_backend, a
// restart, an idle timeout) is found only after the next statement was
// written, when nobody can tell whether it ran. For pgx the wrapper peeks at
// the socket without blocking or consuming anything (one recv syscall with
// MSG_PEEK|MSG_DONTWAIT): end of stream or an error means the server closed
// the connection; unexpected bytes on an idle connection are handed to pgx's
// own CheckConn, which reads them (a FATAL error closes the connection).
func liveness(inner driver.Conn) (check func() error, closed func() bool) {
	c, pg, ok := pgxConnOf(inner)
	if !ok {
		return nil, nil
	}
	check = func() error {
		if c.IsClosed() {
			return errConnDead
		}
		switch peek(pg.Conn()) {
		case peekAlive:
			return nil
		case peekPending:
			if err := pg.CheckConn(); err != nil {
				return err
			}
			if c.IsClosed() {
				return errConnDead
			}
			return nil
		default:
			return errConnDead
		}
	}
	return check, c.IsClosed
}

type peekResult uint8

const (
	peekAlive peekResult = iota
	peekPending
	peekClosed
)
