package redresssql

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"slices"

	"github.com/redress-go/redress/internal/typednil"

	"github.com/redress-go/redress/core"
)

// Wrap returns d wrapped: every connection it opens runs its statements
// under the policy of cfg, with the safety rules of the package. The result
// implements driver.DriverContext whether d does or not (see OpenConnector).
// It returns a *core.ConfigError naming the invalid field of cfg, or an
// error if d is nil.
func Wrap(d driver.Driver, cfg Config) (driver.Driver, error) {
	if d == nil || typednil.Is(d) {
		return nil, &core.ConfigError{Field: "driver", Reason: "must not be nil"}
	}
	w, err := newWrapper(cfg, d)
	if err != nil {
		return nil, err
	}
	return &wdriver{inner: d, w: w}, nil
}

// WrapConnector returns c wrapped, for sql.OpenDB. The result implements
// io.Closer, closing c when c implements it, and its Driver method returns
// the wrapped driver (so that db.Driver() identifies the wrapper, which
// RunInTx uses).
func WrapConnector(c driver.Connector, cfg Config) (driver.Connector, error) {
	if c == nil || typednil.Is(c) {
		return nil, &core.ConfigError{Field: "connector", Reason: "must not be nil"}
	}
	if c.Driver() == nil || typednil.Is(c.Driver()) {
		return nil, &core.ConfigError{Field: "connector", Reason: "has a nil Driver()"}
	}
	w, err := newWrapper(cfg, c.Driver())
	if err != nil {
		return nil, err
	}
	return wrapConnector(c, w), nil
}

func wrapConnector(c driver.Connector, w *wrapper) driver.Connector {
	return &wconnector{inner: c, w: w, drv: &wdriver{inner: c.Driver(), w: w}}
}

// Open opens a database whose driver is the registered driverName wrapped
// with cfg: the convenience for sql.Open(driverName, dsn) code.
func Open(driverName, dsn string, cfg Config) (*sql.DB, error) {
	d, err := lookup(driverName)
	if err != nil {
		return nil, err
	}
	w, err := newWrapper(cfg, d)
	if err != nil {
		return nil, err
	}
	c, err := (&wdriver{inner: d, w: w}).OpenConnector(dsn)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(c), nil
}

// Register registers, under name, the registered driver driverName wrapped
// with cfg, for code that only knows driver names (sql.Open(name, dsn)). It
// returns an error if name is already registered or driverName is not.
func Register(name, driverName string, cfg Config) (err error) {
	if name == "" {
		return &core.ConfigError{Field: "name", Reason: "must not be empty"}
	}
	if slices.Contains(sql.Drivers(), name) {
		return errors.New("redresssql: a driver named " + name + " is already registered")
	}
	d, err := lookup(driverName)
	if err != nil {
		return err
	}
	wd, err := Wrap(d, cfg)
	if err != nil {
		return err
	}
	defer func() {
		if recover() != nil { // registered by another goroutine meanwhile
			err = errors.New("redresssql: a driver named " + name + " is already registered")
		}
	}()
	sql.Register(name, wd)
	return nil
}

func lookup(name string) (driver.Driver, error) {
	if !slices.Contains(sql.Drivers(), name) {
		return nil, errors.New("redresssql: unknown driver " + name + " (forgotten import?)")
	}
	db, err := sql.Open(name, "")
	if err != nil {
		return nil, err
	}
	d := db.Driver()
	_ = db.Close()
	return d, nil
}

// wdriver is the wrapped driver.
type wdriver struct {
	inner driver.Driver
	w     *wrapper
}

func (d *wdriver) Open(dsn string) (driver.Conn, error) {
	connect := func(context.Context) (driver.Conn, error) { return d.inner.Open(dsn) }
	return dial(context.Background(), d.w, connect)
}

// Unwrap returns the wrapped driver.
func (d *wdriver) Unwrap() driver.Driver { return d.inner }

// OpenConnector implements driver.DriverContext: the driver's connector,
// wrapped, or, for a driver without DriverContext, a connector that opens
// connections with the driver's Open, as database/sql's own does. Unlike
// database/sql's, that connector does not drop the context of Connect: the
// policy's attempts to connect obey it (Open itself cannot).
func (d *wdriver) OpenConnector(dsn string) (driver.Connector, error) {
	dc, ok := d.inner.(driver.DriverContext)
	if !ok {
		return &wconnector{inner: dsnConnector{d: d.inner, dsn: dsn}, w: d.w, drv: d}, nil
	}
	c, err := dc.OpenConnector(dsn)
	if err != nil {
		return nil, err
	}
	return &wconnector{inner: c, w: d.w, drv: d}, nil
}

// wconnector is the wrapped connector.
type wconnector struct {
	inner driver.Connector
	w     *wrapper
	drv   driver.Driver
}

func (c *wconnector) Connect(ctx context.Context) (driver.Conn, error) {
	return dial(ctx, c.w, c.inner.Connect)
}

func (c *wconnector) Driver() driver.Driver { return c.drv }

// Close implements io.Closer, which database/sql's DB.Close calls: the
// connector's Close, or nil when it has none, as database/sql does.
func (c *wconnector) Close() error {
	if cl, ok := c.inner.(io.Closer); ok {
		return cl.Close()
	}
	return nil
}

// dsnConnector is database/sql's own adapter for drivers without
// DriverContext.
type dsnConnector struct {
	d   driver.Driver
	dsn string
}

func (c dsnConnector) Connect(context.Context) (driver.Conn, error) { return c.d.Open(c.dsn) }
func (c dsnConnector) Driver() driver.Driver                        { return c.d }

// dial opens a connection under the policy (a connection attempt never sends
// a statement, so it is always safe to retry) and wraps it.
func dial(ctx context.Context, w *wrapper, connect func(context.Context) (driver.Conn, error)) (driver.Conn, error) {
	c := &conn{w: w, connect: connect, policy: w.policy}
	call := core.Call{Operation: "CONNECT", Labels: core.Labels{DBSystem: w.system, DBOperation: "CONNECT"}, Breaker: w.breaker}
	inner, err := do(ctx, c, &call, connect)
	if err != nil {
		return nil, err
	}
	c.setInner(inner)
	return c, nil
}
