// Package testenv decides what a test does when a service it needs (a
// database, a Prometheus binary) is missing: it skips with a clear message,
// unless REDRESS_REQUIRE_SERVICES=1 is set (as .ci/run does), in which case
// the test fails. It is internal: not API.
//
// A skip is also reported in the output of the go command itself, one
// "SKIPPED SERVICE:" line per missing service and package: `go test ./...`
// prints nothing but "ok" for a passing package, so a skip would otherwise
// go unnoticed. See docs/testing.md.
package testenv

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Required reports whether missing services must fail tests.
func Required() bool { return os.Getenv("REDRESS_REQUIRE_SERVICES") == "1" }

// Missing reports that service is unavailable because of err: the test is
// skipped, or fails when services are required. The service string should
// say how to point the tests at one (the environment variable, the
// package), as the skip line shows it.
func Missing(t testing.TB, service string, err error) {
	t.Helper()
	if Required() {
		t.Fatalf("%s is required (REDRESS_REQUIRE_SERVICES=1) but unavailable: %v", service, err)
	}
	report(service, err)
	t.Skipf("skipping: %s is unavailable (%v); set REDRESS_REQUIRE_SERVICES=1 to make this a failure", service, err)
}

// LookPath returns the path of the named binary, or skips/fails the test
// through Missing when it is not installed.
func LookPath(t testing.TB, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Missing(t, name+" (Debian package "+pkg+", looked up in PATH)", err)
	}
	return p
}

// Env returns the value of the environment variable key, or def.
func Env(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

var reported sync.Map // service -> struct{}: one line per service and test binary

// SkipLine is the line report writes for a skipped service.
func SkipLine(service, pkg string, err error) string {
	msg := strings.Join(strings.Fields(fmt.Sprint(err)), " ")
	return fmt.Sprintf("SKIPPED SERVICE: %s, in %s: %s (REDRESS_REQUIRE_SERVICES=1 makes this a failure; see docs/testing.md)\n", service, pkg, msg)
}

// report writes SkipLine once per service to the standard output of the go
// command that runs this test binary. That command shows the output of a
// passing package only under -v, so the line goes past it. It is written
// only where that is safe: a terminal or a pipe, or a file opened for
// appending; not under `go test -json` (whose output is a JSON stream), and
// not when the parent is not the go command (a test binary run by hand
// prints the skip itself) or there is no /proc.
func report(service string, err error) {
	if _, dup := reported.LoadOrStore(service, struct{}{}); dup {
		return
	}
	if f := flag.Lookup("test.v"); f != nil && f.Value.String() == "test2json" {
		return
	}
	w := goCommandStdout()
	if w == nil {
		return
	}
	defer w.Close()
	_, _ = w.WriteString(SkipLine(service, packageDir(), err))
}

func goCommandStdout() *os.File {
	proc := "/proc/" + strconv.Itoa(os.Getppid())
	exe, err := os.Readlink(proc + "/exe")
	if err != nil || filepath.Base(exe) != "go" {
		return nil
	}
	f, err := os.OpenFile(proc+"/fd/1", os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return nil
	}
	st, err := f.Stat()
	if err != nil || (st.Mode().IsRegular() && !appending(proc+"/fdinfo/1")) {
		// A file written at the go command's own offset: a line appended
		// here would be overwritten.
		f.Close()
		return nil
	}
	return f
}

// appending reports whether the file descriptor described by fdinfo was
// opened with O_APPEND.
func appending(fdinfo string) bool {
	b, err := os.ReadFile(fdinfo)
	if err != nil {
		return false
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		if v, ok := bytes.CutPrefix(line, []byte("flags:")); ok {
			flags, err := strconv.ParseUint(string(bytes.TrimSpace(v)), 8, 64)
			return err == nil && flags&0o2000 != 0 // O_APPEND on Linux
		}
	}
	return false
}

// packageDir returns the test's package directory relative to the module
// root ("./contrib/database-sql"), or the absolute directory.
func packageDir() string {
	wd, err := os.Getwd()
	if err != nil {
		return "?"
	}
	for dir := wd; ; {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			if rel, err := filepath.Rel(dir, wd); err == nil {
				return "./" + filepath.ToSlash(rel)
			}
			return wd
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return wd
		}
		dir = parent
	}
}
