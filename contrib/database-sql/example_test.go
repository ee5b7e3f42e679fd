package redresssql_test

import (
	"context"
	"database/sql"
	"fmt"

	_ "modernc.org/sqlite" // registers "sqlite"

	redresssql "github.com/redress-go/redress/contrib/database-sql"
	"github.com/redress-go/redress/core"
	"github.com/redress-go/redress/core/coretest"
)

func ExampleOpen() {
	rec := &coretest.Recorder{Want: core.EventsOf(core.EventSuccess)}
	pc := redresssql.DefaultPolicyConfig()
	pc.Name, pc.Bus = "app-db", core.NewBus(rec)
	policy, err := core.NewPolicy(pc)
	if err != nil {
		panic(err)
	}
	db, err := redresssql.Open("sqlite", ":memory:", redresssql.Config{Policy: policy})
	if err != nil {
		panic(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	ctx := context.Background()
	_, _ = db.ExecContext(ctx, "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
	_, _ = db.ExecContext(core.ContextWithOperation(ctx, "AddUser"), "INSERT INTO users (name) VALUES (?)", "ada")
	var name string
	_ = db.QueryRowContext(ctx, "SELECT name FROM users WHERE id = ?", 1).Scan(&name)
	fmt.Println(name)
	for _, e := range rec.All() {
		fmt.Println(e.Operation, e.Labels.DBSystem, e.Outcome)
	}
	// Output:
	// ada
	// CONNECT sqlite success
	// CREATE sqlite success
	// AddUser sqlite success
	// SELECT users sqlite success
}

func ExampleRunInTx() {
	db, err := redresssql.Open("sqlite", ":memory:", redresssql.Config{})
	if err != nil {
		panic(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	ctx := context.Background()
	_, _ = db.ExecContext(ctx, "CREATE TABLE accounts (id INTEGER PRIMARY KEY, balance INTEGER)")
	_, _ = db.ExecContext(ctx, "INSERT INTO accounts VALUES (1, 100), (2, 0)")
	err = redresssql.RunInTx(ctx, db, nil, func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "UPDATE accounts SET balance = balance - 30 WHERE id = 1"); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, "UPDATE accounts SET balance = balance + 30 WHERE id = 2")
		return err
	})
	var a, b int
	_ = db.QueryRowContext(ctx, "SELECT (SELECT balance FROM accounts WHERE id=1), (SELECT balance FROM accounts WHERE id=2)").Scan(&a, &b)
	fmt.Println(err, a, b)
	// Output: <nil> 70 30
}

func ExampleClassify() {
	c := redresssql.Classify(fmt.Errorf("save: %w", sqlErr("40001")))
	fmt.Println(c.Class, c.Reason)
	// Output: concurrency sqlstate_40001
}

// sqlErr is any error exposing a SQLSTATE through a method.
type sqlErr string

func (e sqlErr) Error() string    { return "sqlstate " + string(e) }
func (e sqlErr) SQLState() string { return string(e) }

func ExampleDeriveOperation() {
	fmt.Println(redresssql.DeriveOperation("SELECT name FROM users WHERE id = $1"))
	// Output: SELECT users
}
