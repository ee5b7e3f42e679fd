package redresssql_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"

	redresssql "github.com/redress-go/redress/contrib/database-sql"
	"github.com/redress-go/redress/core"
	"github.com/redress-go/redress/core/coretest"
)

// TestClassifierChangesTheClass: Config.Classifier classifies every failed
// attempt, over the policy's classifier (core.DefaultClassifier here,
// which knows nothing of SQLite): a real SQLITE_BUSY it calls permanent is
// not retried and is published as permanent; by default (Classify) the
// same busy autocommit statement is retried as concurrency.
func TestClassifierChangesTheClass(t *testing.T) {
	busyIsFinal := func(err error) core.Classification {
		if c := redresssql.Classify(err); c.Class == core.ClassConcurrency {
			return core.Classification{Class: core.ClassPermanent, Reason: "busy_is_final"}
		}
		return redresssql.Classify(err)
	}
	cases := []struct {
		name       string
		classifier core.Classifier
		attempts   int
		class      core.Class
		reason     string
	}{
		{"default Classify", nil, 3, core.ClassConcurrency, "sqlite_busy"},
		{"custom", busyIsFinal, 1, core.ClassPermanent, "busy_is_final"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			db, tbl, rec := lockedSQLite(t, "classifier", 3, func(cfg *redresssql.Config) { cfg.Classifier = tc.classifier })
			mustExec(t, db, "SELECT 1") // connect before the count
			rec.Reset()
			if _, err := db.Exec("INSERT INTO " + tbl + " (id) VALUES (1)"); err == nil {
				t.Fatal("insert under a held write lock succeeded")
			}
			ends := 0
			for _, e := range rec.All() {
				if e.Kind != core.EventAttemptEnd {
					continue
				}
				ends++
				if e.Class != tc.class || e.Reason != tc.reason {
					t.Errorf("attempt_end %v/%q, want %v/%q", e.Class, e.Reason, tc.class, tc.reason)
				}
			}
			if ends != tc.attempts {
				t.Errorf("%d attempts, want %d (events %v)", ends, tc.attempts, rec.Names())
			}
		})
	}
}

// lockedSQLite opens a database whose write lock another connection holds
// for the rest of the test (heldSQLite), through the wrapper with the
// Config of testPolicy(attempts) changed by mod, and returns it with a
// table and the policy's recorder.
func lockedSQLite(t *testing.T, prefix string, attempts int, mod func(*redresssql.Config)) (*sql.DB, string, *coretest.Recorder) {
	t.Helper()
	dsn, tbl, lock := heldSQLite(t, prefix)
	t.Cleanup(func() { mustExec(t, lock, "ROLLBACK") })
	pc, rec := testPolicy(attempts)
	cfg := withPolicy(t, pc)
	mod(&cfg)
	return openSQLite(t, dsn, cfg), tbl, rec
}

// TestOperationNamesStatements: Config.Operation names a statement's
// redress.operation label from its text, once per text a connection runs;
// db.query.summary stays DeriveOperation's, the context's name wins, ""
// means the default, and the calls without a text keep their names.
func TestOperationNamesStatements(t *testing.T) {
	asked := map[string]int{}
	op := func(query string) string {
		asked[query]++
		if strings.Contains(query, "users") {
			return "users-table"
		}
		return ""
	}
	rec := &coretest.Recorder{}
	db := openSQLite(t, ":memory:", redresssql.Config{Bus: core.NewBus(rec), Operation: op})
	db.SetMaxOpenConns(1)
	mustExec(t, db, "CREATE TABLE users (id INTEGER PRIMARY KEY)")
	const insert = "INSERT INTO users (id) VALUES (?)"
	for i := range 3 {
		mustExec(t, db, insert, i)
	}
	mustExec(t, db, "CREATE TABLE other (id INTEGER)")
	ctx := core.ContextWithOperation(context.Background(), "AddUser")
	mustExec(t, db, insert, 10)
	mustExec(t, db, insert, 11) // named by the context below
	if _, err := db.ExecContext(ctx, insert, 12); err != nil {
		t.Fatal(err)
	}
	type label struct{ op, dbOp string }
	var got []label
	for _, e := range rec.All() {
		if e.Kind == core.EventSuccess {
			got = append(got, label{e.Operation, e.Labels.DBOperation})
		}
	}
	want := []label{
		{"CONNECT", "CONNECT"},
		{"users-table", "CREATE"},
		{"users-table", "INSERT users"}, {"users-table", "INSERT users"}, {"users-table", "INSERT users"},
		{"CREATE", "CREATE"}, // "" from Operation: the default
		{"users-table", "INSERT users"}, {"users-table", "INSERT users"},
		{"AddUser", "INSERT users"},
	}
	if len(got) != len(want) {
		t.Fatalf("labels = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("call %d: %v, want %v", i, got[i], want[i])
		}
	}
	if asked[insert] != 1 {
		t.Errorf("Operation asked %d times for one text on one connection, want 1 (cached)", asked[insert])
	}
	if p := rec.All()[0].Policy; p != "sql" {
		t.Errorf("policy %q, want the default policy, sql, on Config.Bus", p)
	}
}

// TestDatabaseBreaker: the database's breaker (from Config.Breaker, named
// after the policy) opens on real SQLITE_BUSY failures when its template
// trips on concurrency, and then refuses statements without sending them;
// its transitions are published on the policy's bus. DisableBreakers
// leaves none; the default template (core.DownstreamBreakerConfig without
// its throttler) does not trip on concurrency, nor throttle.
func TestDatabaseBreaker(t *testing.T) {
	tmpl := &core.BreakerConfig{TripOn: core.SetOf(core.ClassConcurrency), FailureThreshold: 2}
	cases := []struct {
		name     string
		breaker  *core.BreakerConfig
		disable  bool
		wantOpen bool
	}{
		{"template", tmpl, false, true},
		{"default template", nil, false, false},
		{"disabled", nil, true, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			db, tbl, rec := lockedSQLite(t, "breaker", 1, func(cfg *redresssql.Config) { cfg.Breaker, cfg.DisableBreakers = tc.breaker, tc.disable })
			for range 3 {
				_, _ = db.Exec("INSERT INTO " + tbl + " (id) VALUES (1)")
			}
			b := redresssql.Breaker(db)
			if tc.disable {
				if b != nil {
					t.Fatalf("breaker %v with DisableBreakers", b)
				}
				return
			}
			if b == nil || b.Name() != "test" {
				t.Fatalf("breaker = %v, want one named after the policy (test)", b)
			}
			if tc.breaker == nil && b.Throttler() != nil {
				t.Error("the default breaker throttles")
			}
			if open := b.State() == core.StateOpen; open != tc.wantOpen {
				t.Fatalf("breaker %v, want open %v", b.State(), tc.wantOpen)
			}
			if !tc.wantOpen {
				return
			}
			rec.Reset()
			_, err := db.Exec("INSERT INTO " + tbl + " (id) VALUES (2)")
			var coe *core.CircuitOpenError
			if !errors.As(err, &coe) || coe.Breaker != "test" || rec.Count(core.EventAttemptStart) != 0 {
				t.Fatalf("insert with the breaker open: %v, events %v; want a rejection without an attempt", err, rec.Names())
			}
			if rec.Count(core.EventCircuitRejected) != 1 {
				t.Errorf("events %v, want circuit_rejected on the policy's bus", rec.Names())
			}
		})
	}
}

// TestOuterPolicyRerunsTheTransaction: a statement inside a transaction is
// never resent (not_resendable), but that mark stays with the statement: a
// caller's own policy around the whole transaction re-runs it, as RunInTx
// does.
func TestOuterPolicyRerunsTheTransaction(t *testing.T) {
	dsn, tbl, lock := heldSQLite(t, "outer")
	pc, rec := testPolicy(3)
	db := openSQLite(t, dsn, withPolicy(t, pc))
	released := false
	outer, err := core.NewPolicy(core.PolicyConfig{
		Name:  "outer",
		Retry: core.RetryConfig{MaxAttempts: 3, Strategy: coretest.NoDelay, Classifier: redresssql.Classify},
		Sleeper: sleeperFunc(func() {
			if !released {
				released = true
				mustExec(t, lock, "ROLLBACK")
			}
		}),
	})
	if err != nil {
		t.Fatal(err)
	}
	runs := 0
	var inner error
	err = outer.Run(context.Background(), func(ctx context.Context) error {
		runs++
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		if _, err := tx.ExecContext(ctx, "INSERT INTO "+tbl+" (id) VALUES (1)"); err != nil {
			if inner == nil {
				inner = err
			}
			return err
		}
		return tx.Commit()
	})
	if err != nil || runs != 2 {
		t.Fatalf("outer policy: %v after %d runs; want success on the second", err, runs)
	}
	if r, _ := core.StopReasonOf(inner); r != core.StopNotResendable || core.IsNotResendable(inner) {
		t.Errorf("the statement stopped %v, marked %v; want not_resendable, the mark not on its error", r, core.IsNotResendable(inner))
	}
	if n := rec.Count(core.EventRetry); n != 0 {
		t.Errorf("%d retries inside the transaction", n)
	}
	var n int
	if err := db.QueryRow("SELECT count(*) FROM " + tbl).Scan(&n); err != nil || n != 1 {
		t.Fatalf("count = %d, %v; want 1", n, err)
	}
}
