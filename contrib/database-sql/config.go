package redresssql

import (
	"reflect"
	"strings"

	"github.com/redress-go/redress/core"
)

// Config configures the wrapper. The zero value is all defaults.
type Config struct {
	// Policy configures every policy the wrapper runs: the statement policy
	// of each connection and the policy of RunInTx. Its Name defaults to
	// "sql" and its Retry.Classifier to Classify; everything else keeps the
	// core defaults (3 attempts, decorrelated jitter 100ms–10s, no breaker,
	// no budget, no bus). Breaker, Budget and Bus are shared by every
	// connection. Retry.AbortIf, if set, is honoured besides the wrapper's
	// own safety stop.
	Policy core.PolicyConfig
	// System is the db.system.name label. Default: derived from the
	// driver's package ("postgresql" for pgx and lib/pq, "mysql" for
	// go-sql-driver/mysql, "sqlite" for SQLite drivers), else "other_sql".
	System string
}

// wrapper is a validated Config shared by a driver, its connectors and
// their connections.
type wrapper struct {
	cfg    core.PolicyConfig
	system string
	txPol  *core.Policy // prototype, for validation
}

func newWrapper(cfg Config, inner any) (*wrapper, error) {
	pc := cfg.Policy
	if pc.Name == "" {
		pc.Name = "sql"
	}
	if pc.Retry.Classifier == nil {
		pc.Retry.Classifier = Classify
	}
	p, err := core.NewPolicy(pc)
	if err != nil {
		if ce, ok := err.(*core.ConfigError); ok {
			return nil, &core.ConfigError{Field: "Config.Policy." + ce.Field, Reason: ce.Reason}
		}
		return nil, err
	}
	w := &wrapper{cfg: pc, system: cfg.System, txPol: p}
	if w.system == "" {
		w.system = systemOf(inner)
	}
	return w, nil
}

// newPolicy returns a policy that stops (StopAborted) as soon as *unsafe is
// true: the wrapper sets it when a failed attempt may have been applied.
func (w *wrapper) newPolicy(unsafe *bool) *core.Policy {
	pc := w.cfg
	user := pc.Retry.AbortIf
	pc.Retry.AbortIf = func() bool { return *unsafe || (user != nil && user()) }
	p, err := core.NewPolicy(pc)
	if err != nil {
		panic("redresssql: a validated policy config failed: " + err.Error()) // unreachable
	}
	return p
}

// systemOf names the database system from the driver's package path.
func systemOf(d any) string {
	if d == nil {
		return "other_sql"
	}
	t := reflect.TypeOf(d)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	p := strings.ToLower(t.PkgPath())
	switch {
	case strings.Contains(p, "pgx"), strings.Contains(p, "lib/pq"), strings.Contains(p, "postgres"):
		return "postgresql"
	case strings.Contains(p, "mysql"):
		return "mysql"
	case strings.Contains(p, "mariadb"):
		return "mariadb"
	case strings.Contains(p, "sqlite"):
		return "sqlite"
	case strings.Contains(p, "mssql"), strings.Contains(p, "sqlserver"):
		return "microsoft.sql_server"
	}
	return "other_sql"
}
