// Package testenv decides what a test does when a service it needs (a
// database, a Prometheus binary) is missing: it skips with a clear message,
// unless REDRESS_REQUIRE_SERVICES=1 is set (as .ci/run does), in which case
// the test fails. It is internal: not API.
package testenv

import (
	"os"
	"os/exec"
	"testing"
)

// Required reports whether missing services must fail tests.
func Required() bool { return os.Getenv("REDRESS_REQUIRE_SERVICES") == "1" }

// Missing reports that service is unavailable because of err: the test is
// skipped, or fails when services are required.
func Missing(t testing.TB, service string, err error) {
	t.Helper()
	if Required() {
		t.Fatalf("%s is required (REDRESS_REQUIRE_SERVICES=1) but unavailable: %v", service, err)
	}
	t.Skipf("skipping: %s is unavailable (%v); set REDRESS_REQUIRE_SERVICES=1 to make this a failure", service, err)
}

// LookPath returns the path of the named binary, or skips/fails the test
// through Missing when it is not installed.
func LookPath(t testing.TB, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Missing(t, name+" (Debian package "+pkg+")", err)
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
