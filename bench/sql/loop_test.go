package sqlbench

import (
	"context"
	"database/sql"
	"os"
	"strconv"
	"testing"
)

// TestStatementLoop runs one statement of the paired benchmark
// (REDRESS_LOOP_STATEMENT: QueryRow or Exec) REDRESS_LOOP_N times on one
// variant (REDRESS_LOOP_VARIANT), for a simulator that counts instructions
// and cache misses (cachegrind.sh: run with N = 0 and N > 0, the difference
// divided by N is the cost of one statement). Skipped unless the variables
// are set.
func TestStatementLoop(t *testing.T) {
	name, stName := os.Getenv("REDRESS_LOOP_VARIANT"), os.Getenv("REDRESS_LOOP_STATEMENT")
	if name == "" || stName == "" {
		t.Skip("REDRESS_LOOP_VARIANT and REDRESS_LOOP_STATEMENT not set (see cachegrind.sh)")
	}
	n, err := strconv.Atoi(os.Getenv("REDRESS_LOOP_N"))
	if err != nil {
		t.Fatalf("REDRESS_LOOP_N: %v", err)
	}
	var run func(ctx context.Context, db *sql.DB, i int, s *string) error
	for _, st := range statements {
		if st.name == stName {
			run = st.run
		}
	}
	var db *sql.DB
	for _, v := range variants {
		if v.name == name {
			db = v.open(t)
		}
	}
	if run == nil || db == nil {
		t.Fatalf("unknown statement %q or variant %q", stName, name)
	}
	defer db.Close()
	setup(t, db)
	ctx := context.Background()
	var s string
	for i := range n {
		if err := run(ctx, db, i, &s); err != nil {
			t.Fatal(err)
		}
	}
}
