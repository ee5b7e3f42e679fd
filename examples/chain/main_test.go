package main

import (
	"bytes"
	"strings"
	"testing"
)

// Three attempts from A: with the handler C sees 3 per request (A's
// attempts), without it 9 (3 × 3).
func TestRun(t *testing.T) {
	var out bytes.Buffer
	if err := run(&out); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{
		"with redresshttp.Handler on B  hits at C per request from A: 3.0",
		"without it                     hits at C per request from A: 9.0",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
}
