package redresssql

import (
	"database/sql/driver"

	"github.com/jackc/pgx/v5"
)

// liveness returns the check run before a statement is sent outside a
// transaction, or nil when the driver needs none.
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
func liveness(inner driver.Conn) func() error {
	pc, ok := inner.(interface{ Conn() *pgx.Conn })
	if !ok {
		return nil
	}
	return func() error {
		c := pc.Conn()
		if c == nil || c.IsClosed() {
			return errConnDead
		}
		switch peek(c.PgConn().Conn()) {
		case peekAlive:
			return nil
		case peekPending:
			if err := c.PgConn().CheckConn(); err != nil {
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
}

type peekResult uint8

const (
	peekAlive peekResult = iota
	peekPending
	peekClosed
)
