package testenv_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/redress-go/redress/internal/testenv"
)

const skipper = "./testdata/skipper"

// goTest runs `go test -count=1 args... ./testdata/skipper` as a user would,
// with stdout going to out (a pipe unless out is an *os.File).
func goTest(t *testing.T, require string, stdout any, args ...string) (combined string, err error) {
	t.Helper()
	goBin, lerr := exec.LookPath("go")
	if lerr != nil {
		t.Fatalf("the go command is not in PATH: %v", lerr)
	}
	cmd := exec.Command(goBin, append(append([]string{"test", "-count=1"}, args...), skipper)...)
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "REDRESS_REQUIRE_SERVICES=") && !strings.HasPrefix(kv, "GOTOOLCHAIN=") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, "REDRESS_REQUIRE_SERVICES="+require, "GOTOOLCHAIN=local")
	var buf bytes.Buffer
	switch w := stdout.(type) {
	case *os.File:
		cmd.Stdout = w
	default:
		cmd.Stdout = &buf
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	return buf.String() + stderr.String(), err
}

func skipLines(out string) []string {
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "SKIPPED SERVICE:") {
			lines = append(lines, l)
		}
	}
	return lines
}

// The plain `go test` (no -v) of a passing package with skips prints one
// SKIPPED SERVICE line per missing service, however many tests skip on it.
func TestSkipIsShownWithoutVerbose(t *testing.T) {
	out, err := goTest(t, "", nil)
	if err != nil {
		t.Fatalf("go test: %v\n%s", err, out)
	}
	want := strings.TrimSuffix(testenv.SkipLine("example service (REDRESS_EXAMPLE_DSN)", "./internal/testenv/testdata/skipper",
		errors.New("dial tcp 127.0.0.1:1: connection refused")), "\n")
	if got := skipLines(out); len(got) != 1 || got[0] != want {
		t.Fatalf("skip lines = %q, want exactly [%q]; output:\n%s", got, want, out)
	}
	if !strings.Contains(out, "ok  \tgithub.com/redress-go/redress/internal/testenv/testdata/skipper") {
		t.Fatalf("no ok line:\n%s", out)
	}
}

func TestRequiredServiceFails(t *testing.T) {
	out, err := goTest(t, "1", nil)
	if err == nil {
		t.Fatalf("go test passed with REDRESS_REQUIRE_SERVICES=1:\n%s", out)
	}
	if !strings.Contains(out, "example service (REDRESS_EXAMPLE_DSN) is required (REDRESS_REQUIRE_SERVICES=1) but unavailable") {
		t.Fatalf("no failure message:\n%s", out)
	}
	if got := skipLines(out); len(got) != 0 {
		t.Fatalf("skip lines for a required service: %q", got)
	}
}

// Under -json the go command's output stays a JSON stream.
func TestJSONOutputStaysJSON(t *testing.T) {
	out, err := goTest(t, "", nil, "-json")
	if err != nil {
		t.Fatalf("go test -json: %v\n%s", err, out)
	}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if !json.Valid([]byte(l)) {
			t.Fatalf("not JSON: %q", l)
		}
	}
}

// Output redirected to a file: the line is appended only when the go
// command appends too (`>>`); with `>` it would be overwritten, so it is
// left out and the file holds the go command's output intact.
func TestRedirectedToFile(t *testing.T) {
	for _, tc := range []struct {
		name  string
		flag  int
		lines int
	}{
		{"truncate", os.O_TRUNC, 0},
		{"append", os.O_APPEND, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "out.txt")
			f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|tc.flag, 0o644)
			if err != nil {
				t.Fatal(err)
			}
			_, err = goTest(t, "", f)
			f.Close()
			b, rerr := os.ReadFile(p)
			if rerr != nil {
				t.Fatal(rerr)
			}
			out := string(b)
			if err != nil {
				t.Fatalf("go test: %v\n%s", err, out)
			}
			if got := skipLines(out); len(got) != tc.lines {
				t.Fatalf("%d skip lines, want %d:\n%s", len(got), tc.lines, out)
			}
			if !strings.HasSuffix(out, "\n") || !strings.Contains(out, "ok  \tgithub.com/redress-go/redress/internal/testenv/testdata/skipper") {
				t.Fatalf("go command's output damaged:\n%q", out)
			}
		})
	}
}
