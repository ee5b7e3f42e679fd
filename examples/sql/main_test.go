package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	var b strings.Builder
	// hold 0: the lock holder commits at the first retry, not after a timer.
	if err := run(context.Background(), filepath.Join(t.TempDir(), "t.db"), 0, &b); err != nil {
		t.Fatalf("%v\noutput:\n%s", err, b.String())
	}
	out := b.String()
	t.Log(out)
	for _, want := range []string{
		"CountVisit         retry  class=concurrency reason=sqlite_busy",
		"CountVisit         success_after_retry after 2 attempts", // the holder commits at the first retry
		"CountTwice         success_after_retry after 2 attempts",
		"CountVisitInTx     permanent_fail class=concurrency reason=sqlite_busy", // not_resendable
		"error returned to the caller: true",
		"CountTwice         retry  class=concurrency reason=sqlite_busy",
		"visits = 3 (",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if strings.Contains(out, "CountVisitInTx     retry") {
		t.Error("a statement inside a transaction was retried")
	}
}
