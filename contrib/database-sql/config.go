package redresssql

import (
	"reflect"
	"strings"

	wrapcfg "github.com/redress-go/redress/contrib/internal/wrapper"
	"github.com/redress-go/redress/core"
)

// Config configures the wrapper. The zero value is all defaults: the
// default policy (DefaultPolicyConfig), Classify for every failure, one
// circuit breaker for the database (DefaultBreakerConfig), statements
// named by DeriveOperation.
//
// The fields Policy, Bus, Classifier, Breaker, DisableBreakers and
// Operation mean what they mean in redresshttp.Config and
// redressgrpc.Config. There is no BreakerKey: the breaker is per database,
// one for each wrapped driver or connector (Open, Wrap, WrapConnector,
// Register), shared by all its connections and by RunInTx.
type Config struct {
	// Policy runs every call of every connection of the wrapped driver or
	// connector, and RunInTx. Default: a policy built from
	// DefaultPolicyConfig with Bus as its bus. A policy with a Breaker of
	// its own requires DisableBreakers (the database's breaker would
	// replace it). Retry.AbortIf, if set, is honoured as the core
	// documents it (the wrapper's own safety stop does not use it). The
	// policy's Operation is never used: every call is named (see
	// Operation).
	//
	// The wrapper classifies each failure itself (with Classifier) and
	// hands the policy an error marked with that classification
	// (core.Classify), and with core.NoRetry when it must not be retried.
	// core.DefaultClassifier and Classify honour the mark, so with them the
	// policy's own classifier does not matter; a custom one must honour
	// core.Classified marks (check errors.As(err, &c) for a
	// core.Classified first), or it overrides the wrapper's class.
	Policy *core.Policy
	// Bus receives the events of the default policy. Nil: no events, no
	// cost. Only with a nil Policy: a policy publishes on its own bus.
	Bus *core.Bus
	// Classifier maps a failed attempt's error (the driver's, or the
	// wrapper's: driver.ErrBadConn, a dead connection) to its
	// classification, for every attempt; its result is marked on the
	// error (see Policy). It also decides which failures RunInTx re-runs a
	// transaction for (class concurrency). Default Classify.
	Classifier core.Classifier
	// Breaker is the template of the database's circuit breaker, created
	// once per wrapped driver or connector and named after the policy
	// ("<Name>:<policy name>", or just the policy's name when Name is
	// empty). Nil: DefaultBreakerConfig(). The template's Bus is not used:
	// the policy publishes the breaker's transitions and rejections on its
	// bus, with the call's labels; a template Bus other than the policy's
	// is a *core.ConfigError. Setting it together with DisableBreakers is
	// a *core.ConfigError.
	Breaker *core.BreakerConfig
	// DisableBreakers turns the database's breaker off: the policy's own
	// breaker, if it has one, then guards every call. Default false.
	DisableBreakers bool
	// Operation names a statement's operation (the redress.operation
	// label, which must stay low-cardinality: never literals), from its
	// text. The context's name (core.ContextWithOperation) and, inside
	// RunInTx, the transaction's ("Transfer/stmt") win over it. It is
	// asked once per text a connection has not run recently (the result is
	// cached with the text), and not for the calls without a text
	// (CONNECT, BEGIN, COMMIT, ROLLBACK, PING), which keep those names.
	// Default: DeriveOperation ("SELECT users"). An empty result means the
	// default. The db.query.summary label stays DeriveOperation's.
	Operation func(query string) string
	// System is the db.system.name label. Default: derived from the
	// driver's package ("postgresql" for pgx and lib/pq, "mysql" for
	// go-sql-driver/mysql, "sqlite" for SQLite drivers), else "other_sql".
	System string
}

// DefaultPolicyConfig returns the configuration of the policy the wrapper
// uses when Config.Policy is nil: Name "sql", Classifier Classify, and the
// core defaults for the rest (3 attempts, decorrelated jitter
// 100ms–10s, no retry budget, no attempt timeout, no breaker: the wrapper
// adds one for the database). Change what you need and build the policy
// with core.NewPolicy.
func DefaultPolicyConfig() core.PolicyConfig {
	return core.PolicyConfig{Name: "sql", Retry: core.RetryConfig{Classifier: Classify}}
}

// DefaultBreakerConfig returns the template of the database's breaker the
// wrapper uses when Config.Breaker is nil: core.DownstreamBreakerConfig
// without its throttler. It opens after 20 failures in a row, or when at
// least half of the last 2s of calls, and at least 10 of them, failed with
// a transient fault (a lost connection, SQLSTATE class 08, a timeout) or a
// server error; after 250ms it lets 3 probes through and ramps the
// admitted share up over 500ms. Concurrency failures (serialization,
// deadlocks, busy), rate limits and the caller's mistakes (syntax,
// constraints) do not trip it: the database answered.
//
// It does not throttle client-side (Throttle nil), unlike redresshttp's and
// redressgrpc's: a throttler counts failures of class unknown against the
// downstream, and for a database that class holds every SQLSTATE without
// a rule of Classify, application errors (a RAISE in a function) and the
// 25P02 of every statement after a failure inside a PostgreSQL
// transaction, which are answers, not overload. Set Throttle in
// Config.Breaker to throttle.
func DefaultBreakerConfig() core.BreakerConfig {
	bc := core.DownstreamBreakerConfig()
	bc.Throttle = nil
	return bc
}

// wrapperSpec is what the wrapper's common fields default to.
var wrapperSpec = wrapcfg.Spec{Per: "per-database", DefaultPolicy: DefaultPolicyConfig, DefaultBreaker: DefaultBreakerConfig, DefaultClassifier: Classify}

// wrapper is a validated Config shared by a driver, its connectors and
// their connections.
type wrapper struct {
	system string // read by every statement: first
	// policy runs every call of every connection and RunInTx. A failure
	// that would be unsafe to retry is marked by the attempt, so one
	// policy serves all connections.
	policy   *core.Policy
	breaker  *core.Breaker // the database's, nil when disabled
	bare     core.Call     // the options of a call nobody observes: the breaker alone
	classify core.Classifier
	opName   func(query string) string // Config.Operation, or nil
}

func newWrapper(cfg Config, inner any) (*wrapper, error) {
	r, err := wrapcfg.Resolve(wrapcfg.Config{Policy: cfg.Policy, Bus: cfg.Bus, Classifier: cfg.Classifier, Breaker: cfg.Breaker, DisableBreakers: cfg.DisableBreakers}, wrapperSpec)
	if err != nil {
		return nil, err
	}
	w := &wrapper{system: cfg.System, policy: r.Policy, classify: r.Classifier, opName: cfg.Operation}
	if r.Breakers != nil {
		w.breaker = r.Breakers.Get(w.policy.Name())
	}
	w.bare.Breaker = w.breaker
	if w.system == "" {
		w.system = systemOf(inner)
	}
	return w, nil
}

// mark returns the failure of an attempt marked with its classification
// (Config.Classifier), for the policy; an abort is returned as it is.
func (w *wrapper) mark(err error) error {
	if err == nil || core.IsAbort(err) {
		return err
	}
	return wrapcfg.Mark(err, w.classify(err))
}

// name returns the redress.operation name of a statement text whose
// db.query.summary is op.
func (w *wrapper) name(query, op string) string {
	if w.opName != nil {
		if n := w.opName(query); n != "" {
			return n
		}
	}
	return op
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
