package redresssql

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/redress-go/redress/core"
)

// TestStmtCache: the cache answers exactly what scan and DeriveOperation
// answer, for texts seen before or not, kept or too long to keep, and stays
// bounded.
func TestStmtCache(t *testing.T) {
	var sc stmtCache
	texts := []string{
		"SELECT v FROM kv WHERE id = ?",
		"UPDATE kv SET v = ? WHERE id = ?",
		"",
		"   ",
		"BEGIN",
		"SET search_path = app",
		"UPDATE t SET n = 1; DELETE FROM t",
		"insert into orders (id) values (1)",
		"SELECT 1 FROM " + strings.Repeat("x", maxCachedQuery), // not kept
	}
	for i := range 40 {
		texts = append(texts, fmt.Sprintf("DELETE FROM t%d WHERE id = ?", i)) // more than the cache holds
	}
	for round := range 3 {
		for _, q := range texts {
			// A copy with another backing array must match too.
			for _, text := range []string{q, strings.Clone(q)} {
				e := sc.lookup(text)
				if want := scan(text).session; e.session != want {
					t.Fatalf("round %d: lookup(%.40q).session = %v, want %v", round, text, e.session, want)
				}
				if want := DeriveOperation(text); e.op != want {
					t.Fatalf("round %d: lookup(%.40q).op = %q, want %q", round, text, e.op, want)
				}
			}
		}
	}
	for _, e := range sc.entries {
		if len(e.query) > maxCachedQuery {
			t.Fatalf("kept a text of %d bytes", len(e.query))
		}
	}
	if sc.long.query != "" {
		t.Fatalf("kept a long text")
	}
	// A repeated text is found without a new entry.
	sc = stmtCache{}
	for range 3 {
		sc.lookup(texts[0])
		sc.lookup(texts[1])
	}
	if sc.next != 2 {
		t.Fatalf("two texts used %d entries", sc.next)
	}
}

// TestResultClassifierSeesValues: a policy's Retry.ResultClassifier sees the
// driver's result and rows (statements go through core.DoCall then), and a
// value it rejects ends in a *core.RetryError holding it.
func TestResultClassifierSeesValues(t *testing.T) {
	var seen []any
	reject := false
	p, err := core.NewPolicy(core.PolicyConfig{Retry: core.RetryConfig{
		MaxAttempts: 1,
		ResultClassifier: func(v any) error {
			seen = append(seen, v)
			if reject {
				return errors.New("rejected")
			}
			return nil
		},
	}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Policy: p}
	w, err := newWrapper(cfg, nopDriver{})
	if err != nil {
		t.Fatal(err)
	}
	c := &conn{w: w, policy: w.policy}
	c.setInner(nopConn{})
	ctx := context.Background()
	res, err := c.ExecContext(ctx, "UPDATE t SET n = 1", nil)
	if err != nil || res != (nopResult{}) {
		t.Fatalf("exec: %v, %v", res, err)
	}
	rows, err := c.QueryContext(ctx, "SELECT n FROM t", nil)
	if err != nil || rows == nil {
		t.Fatalf("query: %v, %v", rows, err)
	}
	if len(seen) != 2 || seen[0] != (nopResult{}) || seen[1] != rows {
		t.Fatalf("the classifier saw %v", seen)
	}
	reject = true
	_, err = c.ExecContext(ctx, "UPDATE t SET n = 1", nil)
	var re *core.RetryError
	if !errors.As(err, &re) || re.LastResult != (nopResult{}) {
		t.Fatalf("rejected exec: %v", err)
	}
}
