package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRun(t *testing.T) {
	var b strings.Builder
	if err := run(context.Background(), filepath.Join(t.TempDir(), "t.db"), 30*time.Millisecond, &b); err != nil {
		t.Fatalf("%v\noutput:\n%s", err, b.String())
	}
	out := b.String()
	t.Log(out)
	for _, want := range []string{
		"CountVisit         retry  class=concurrency reason=sqlite_busy",
		"CountVisit         success_after_retry",
		"CountVisitInTx     max_attempts_exceeded class=concurrency reason=sqlite_busy",
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
