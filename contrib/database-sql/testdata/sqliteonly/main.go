// Command sqliteonly is a program that uses redresssql with SQLite only. The
// test TestNoDriverLinked builds and runs it: it prints the registered
// database/sql driver names, one a line.
package main

import (
	"database/sql"
	"fmt"

	_ "modernc.org/sqlite" // registers "sqlite"

	redresssql "github.com/redress-go/redress/contrib/database-sql"
)

func main() {
	db, err := redresssql.Open("sqlite", ":memory:", redresssql.Config{})
	if err != nil {
		panic(err)
	}
	if err := db.Ping(); err != nil {
		panic(err)
	}
	_ = db.Close()
	for _, name := range sql.Drivers() {
		fmt.Println(name)
	}
}
