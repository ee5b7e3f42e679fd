package redresssql

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"reflect"
)

// The wrapped driver, connector, connection and statement implement every
// optional interface of database/sql/driver that database/sql looks for,
// once, and each method does what database/sql itself does when the
// driver's value lacks the interface, so that wrapping changes nothing
// database/sql decides from the interfaces:
//
//   - driver.DriverContext: a connector over Open (database/sql's own
//     dsnConnector); driver.Connector's io.Closer: nil.
//   - driver.Pinger: nil, no call. driver.SessionResetter: nil.
//     driver.Validator: true. driver.NamedValueChecker: database/sql's
//     default converter (what it applies after driver.ErrSkip).
//   - driver.ExecerContext, driver.QueryerContext: the legacy driver.Execer
//     and driver.Queryer as database/sql calls them (legacyExecer), else
//     driver.ErrSkip before anything runs (database/sql then prepares).
//   - driver.ConnPrepareContext: Prepare, then the context's error.
//   - driver.ConnBeginTx: the errors database/sql gives for a
//     non-default isolation level or a read-only transaction, else Begin,
//     then the context's error.
//   - driver.StmtExecContext, driver.StmtQueryContext: Exec and Query
//     (legacyStmt). The statement's driver.NamedValueChecker runs the
//     checks database/sql would run before its default converter: the
//     driver's statement's checker, else its connection's, then the
//     statement's driver.ColumnConverter (columnConvert), else
//     driver.ErrSkip.
//
// Rows are the driver's own, unwrapped: their optional interfaces
// (RowsNextResultSet, RowsColumnType...) are the driver's.
//
// Two things cannot be reproduced exactly, and are documented where they
// are handled: database/sql keeps a connection whose transaction it rolled
// back because the transaction's context ended only when the driver has
// both SessionResetter and Validator (wtx.Rollback), and its dsnConnector
// ignores the context of Connect (wdriver.OpenConnector).

var (
	_ driver.DriverContext      = (*wdriver)(nil)
	_ driver.Connector          = (*wconnector)(nil)
	_ driver.Pinger             = (*conn)(nil)
	_ driver.ExecerContext      = (*conn)(nil)
	_ driver.QueryerContext     = (*conn)(nil)
	_ driver.ConnPrepareContext = (*conn)(nil)
	_ driver.ConnBeginTx        = (*conn)(nil)
	_ driver.SessionResetter    = (*conn)(nil)
	_ driver.Validator          = (*conn)(nil)
	_ driver.NamedValueChecker  = (*conn)(nil)
	_ driver.StmtExecContext    = (*stmt)(nil)
	_ driver.StmtQueryContext   = (*stmt)(nil)
	_ driver.NamedValueChecker  = (*stmt)(nil)
)

// errNamedParams is database/sql's error for named arguments given to a
// driver without the context interfaces, word for word.
var errNamedParams = errors.New("sql: driver does not support the use of Named Parameters")

// namedValueToValue is database/sql's conversion of the arguments of a
// driver without the context interfaces.
func namedValueToValue(named []driver.NamedValue) ([]driver.Value, error) {
	dargs := make([]driver.Value, len(named))
	for n, param := range named {
		if len(param.Name) > 0 {
			return nil, errNamedParams
		}
		dargs[n] = param.Value
	}
	return dargs, nil
}

// legacyCheck is what database/sql checks before it calls a driver's
// legacy Exec or Query: no named argument, and the context not ended. The
// wrapper checks it before the policy runs, so that its error reaches the
// caller as database/sql's would, unclassified and unpublished.
//
// It is kept out of line: the statements' hot frames call it only for a
// legacy driver.
//
//go:noinline
func legacyCheck(ctx context.Context, args []driver.NamedValue) error {
	for _, a := range args {
		if a.Name != "" {
			return errNamedParams
		}
	}
	return ctx.Err()
}

// legacyExecer serves a driver's legacy Execer and Queryer as their context
// forms, as database/sql's ctxDriverExec and ctxDriverQuery call them.
type legacyExecer struct {
	e driver.Execer  //nolint:staticcheck // legacy drivers
	q driver.Queryer //nolint:staticcheck // legacy drivers
}

func (l legacyExecer) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	dargs, err := namedValueToValue(args)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return l.e.Exec(query, dargs)
}

func (l legacyExecer) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	dargs, err := namedValueToValue(args)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return l.q.Query(query, dargs)
}

// legacyStmt serves a driver statement's Exec and Query as their context
// forms, as database/sql's ctxDriverStmtExec and ctxDriverStmtQuery call
// them.
type legacyStmt struct{ s driver.Stmt }

func (l legacyStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	dargs, err := namedValueToValue(args)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return l.s.Exec(dargs) //nolint:staticcheck // the driver's legacy path
}

func (l legacyStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	dargs, err := namedValueToValue(args)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return l.s.Query(dargs) //nolint:staticcheck // the driver's legacy path
}

// columnConvert is database/sql's ccChecker: the check of an argument by a
// statement's driver.ColumnConverter, want being the statement's NumInput.
func columnConvert(cc driver.ColumnConverter, want int, nv *driver.NamedValue) error { //nolint:staticcheck // mirrored as database/sql uses it
	index := nv.Ordinal - 1
	if want >= 0 && want <= index {
		return nil // database/sql reports the count after the loop
	}
	if vr, ok := nv.Value.(driver.Valuer); ok {
		sv, err := callValuerValue(vr)
		if err != nil {
			return err
		}
		if !driver.IsValue(sv) {
			return fmt.Errorf("non-subset type %T returned from Value", sv)
		}
		nv.Value = sv
	}
	arg := nv.Value
	var err error
	nv.Value, err = cc.ColumnConverter(index).ConvertValue(arg)
	if err != nil {
		return err
	}
	if !driver.IsValue(nv.Value) {
		return fmt.Errorf("driver ColumnConverter error converted %T to unsupported type %T", arg, nv.Value)
	}
	return nil
}

var valuerType = reflect.TypeFor[driver.Valuer]()

// callValuerValue is database/sql's: a nil pointer whose element type
// implements Valuer (a value receiver) is NULL rather than a panic.
func callValuerValue(vr driver.Valuer) (driver.Value, error) {
	if rv := reflect.ValueOf(vr); rv.Kind() == reflect.Pointer && rv.IsNil() && rv.Type().Elem().Implements(valuerType) {
		return nil, nil
	}
	return vr.Value()
}
