package redresssql

import (
	"reflect"
	"strings"

	"github.com/redress-go/redress/core"
)

// Config configures the wrapper. The zero value is all defaults.
type Config struct {
	// Policy configures the one policy the wrapper runs, shared by every
	// connection of the wrapped driver or connector and by RunInTx. Its
	// Name defaults to "sql" and its Retry.Classifier to Classify;
	// everything else keeps the core defaults (3 attempts, decorrelated
	// jitter 100ms–10s, no breaker, no budget, no bus). Retry.AbortIf, if
	// set, is honoured as the core documents it (the wrapper's own safety
	// stop does not use it). Operation must be empty: every call is named
	// (core.ContextWithOperation, else the statement), so a default would never apply.
	Policy core.PolicyConfig
	// System is the db.system.name label. Default: derived from the
	// driver's package ("postgresql" for pgx and lib/pq, "mysql" for
	// go-sql-driver/mysql, "sqlite" for SQLite drivers), else "other_sql".
	System string
}

// wrapper is a validated Config shared by a driver, its connectors and
// their connections.
type wrapper struct {
	system string // read by every statement: first
	// policy runs every call of every connection and RunInTx. A failure
	// that would be unsafe to retry is marked with core.NoRetry by the
	// attempt, so one policy serves all connections.
	policy *core.Policy
	cfg    core.PolicyConfig
}

func newWrapper(cfg Config, inner any) (*wrapper, error) {
	pc := cfg.Policy
	if pc.Operation != "" {
		return nil, &core.ConfigError{Field: "Config.Policy.Operation", Reason: "is never used: every call is named by core.ContextWithOperation or its statement"}
	}
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
	w := &wrapper{cfg: pc, system: cfg.System, policy: p}
	if w.system == "" {
		w.system = systemOf(inner)
	}
	return w, nil
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
