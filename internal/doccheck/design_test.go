package doccheck

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/redress-go/redress/core"
	"github.com/redress-go/redress/internal/telemetry"
)

var update = flag.Bool("update", false, "rewrite the generated tables of docs/DESIGN.md")

const design = "docs/DESIGN.md"

// stopReasons describes each stop reason (its terminal event comes from
// core: StopReason.Event). A stop reason the code declares and this map
// lacks fails TestDesignTables.
var stopReasons = map[string]string{
	"max_attempts":           "`MaxAttempts` reached (or a per-call cap, `WithMaxAttempts`)",
	"max_attempts_per_class": "`MaxAttemptsPerClass[class]` attempts failed with that class",
	"deadline":               "the policy's `Timeout.Call` passed, or the next sleep would pass it or the caller's deadline (refused up front)",
	"max_unknown_attempts":   "`MaxUnknownAttempts` attempts failed with class `unknown`",
	"non_retryable_class":    "the class is never retried (auth, permission, permanent) or the failure is marked `core.NoRetry`",
	"no_strategy":            "per-class strategies only, none for this class",
	"budget_exhausted":       "the retry budget denied the token",
	"scheduled":              "the `SleepHandler` deferred the retry (`Outcome.NextDelay`)",
	"aborted":                "`AbortIf`, `core.Abort(err)` or the `SleepHandler` stopped the call",
	"canceled":               "the caller's context is done, or a failure came within `DeadlineSlack` of its deadline; breaker-neutral",
	"circuit_open":           "the breaker refused an attempt, or will still be open when the next sleep ends",
	"not_resendable":         "the failure would have been retried, but the operation must not be sent again (marked `core.NotResendable`: a non-idempotent request, a committed stream, a statement in a transaction)",
	"caller_retries":         "the failure would have been retried, but the request being served comes from a caller that retries it (`core.WithCallerRetries`, set by the server middleware)",
	"throttled":              "the policy's `Throttler` rejected the attempt locally: the downstream accepts too few of the recent requests (client-side adaptive throttling)",
	"limited":                "the policy's `Limiter` refused the attempt: the rate it enforces (a shared GCRA limiter of contrib/redis) is spent for now",
	"concurrency_limited":    "the policy's concurrency limiter (bulkhead or adaptive limiter) had no free slot within its wait: the attempt was not sent",
	"held":                   "the downstream asked callers to wait (Retry-After, pushback) and the wait has not elapsed: the breaker is held, the attempt not sent",
}

// classNotes says what each class stands for.
var classNotes = map[string]string{
	"unknown":      "nothing recognised the failure; retried, optionally capped by `MaxUnknownAttempts`",
	"transient":    "a passing fault: timeout, reset or refused connection, HTTP 408, gRPC `UNAVAILABLE`",
	"server_error": "the downstream failed: HTTP 5xx, gRPC `INTERNAL`",
	"rate_limit":   "slow down: HTTP 429, gRPC `RESOURCE_EXHAUSTED`, MySQL 1040; carries a `RetryAfter` hint when the server gave one",
	"concurrency":  "a conflict with concurrent work: HTTP 409, SQLSTATE 40001 / 40P01, MySQL 1213 / 1205, SQLite BUSY",
	"permanent":    "will fail again unchanged: HTTP 400/404/422, gRPC `INVALID_ARGUMENT`",
	"permission":   "known caller, not allowed: HTTP 403, gRPC `PERMISSION_DENIED`",
	"auth":         "caller not authenticated: HTTP 401, gRPC `UNAUTHENTICATED`",
}

// spanAttrs are the attribute keys that no metric carries, and where
// they appear instead.
var spanAttrs = []string{telemetry.AttrAttempts, telemetry.AttrResendCount, telemetry.AttrServerPort, telemetry.AttrRPCSystem}

var spanOnly = map[string]string{
	telemetry.AttrAttempts:    "spans (operation: attempts made; attempt: its number) and slog records",
	telemetry.AttrResendCount: "HTTP attempt spans of retries (attempt − 1)",
	telemetry.AttrServerPort:  "spans and slog records (from `core.Labels`)",
	telemetry.AttrRPCSystem:   "spans and slog records (from `core.Labels`)",
}

func code(s string) string { return "`" + s + "`" }

func codes(ss []string) string {
	var out []string
	for _, s := range ss {
		out = append(out, code(s))
	}
	return strings.Join(out, ", ")
}

// designTables returns the generated tables of docs/DESIGN.md by name. The
// rows come from telemetry.Names, the table `go run ./cmd/redress` prints;
// the prose columns from the maps above.
func designTables(t *testing.T) map[string]string {
	names := telemetry.Names()
	tables := map[string]string{}
	var b strings.Builder

	// Event kinds.
	b.WriteString("| event | terminal | published when |\n|---|---|---|\n")
	when := map[string]string{
		core.EventOperationStart.String():      "a call starts (a `ContextDecorator` may decorate the operation's context)",
		core.EventAttemptStart.String():        "an attempt starts (a `ContextDecorator` may decorate the attempt's context)",
		core.EventAttemptEnd.String():          "an attempt ends, with its class and error if it failed, its duration",
		core.EventRetry.String():               "a retry is decided, after every limit and the budget allowed it, before the sleep",
		core.EventSuccess.String():             "the call succeeded (outcome `success` or `success_after_retry`)",
		core.EventCircuitOpened.String():       "a breaker opened",
		core.EventCircuitHalfOpen.String():     "a breaker let probes through after its recovery timeout",
		core.EventCircuitClosed.String():       "a breaker closed on a probe's success",
		core.EventSharedStateDegraded.String(): "a store of fleet-wide state (contrib/redis) stopped answering in time: its components decide on local state",
		core.EventSharedStateRestored.String(): "the store answered again and resynchronised its components",
		core.EventRateLimitWait.String():       "the call waited for its rate limiter before an attempt (`Sleep` is the wait)",
		core.EventHedge.String():               "a hedged attempt was sent beside the attempt still running (`Hedge` is its number)",
		core.EventHedgeWon.String():            "a hedge's result was taken and the other attempts cancelled",
		core.EventFallback.String():            "the policy gave up and its fallback supplies the result; just before the terminal event",
		core.EventFaultInjected.String():       "a fault injector added latency, an error or a result to an attempt (`Reason` says which)",
	}
	terminal := map[string]bool{}
	for _, e := range names.Events {
		terminal[e.Name] = e.Terminal
	}
	for _, sr := range names.StopReasons {
		r, k := sr.Name, sr.Event
		if when[k] == "" {
			when[k] = "the call stopped: " + code(r)
		} else if terminal[k] && k != core.EventSuccess.String() {
			when[k] += " or " + code(r)
		}
	}
	for _, e := range names.Events {
		if when[e.Name] == "" {
			t.Errorf("event %s: not described", e.Name)
		}
		term := ""
		if e.Terminal {
			term = "yes"
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", code(e.Name), term, when[e.Name])
	}
	tables["events"] = b.String()
	b.Reset()

	// Stop reasons.
	b.WriteString("| stop reason | terminal event | when |\n|---|---|---|\n")
	var stops []string
	for _, r := range names.StopReasons {
		d, ok := stopReasons[r.Name]
		if !ok {
			t.Errorf("stop reason %s: not described", r.Name)
			continue
		}
		stops = append(stops, r.Name)
		fmt.Fprintf(&b, "| %s | %s | %s |\n", code(r.Name), code(r.Event), d)
	}
	for r := range stopReasons {
		if !slices.Contains(stops, r) {
			t.Errorf("stop reason %s: described but not declared by core", r)
		}
	}
	tables["stops"] = b.String()
	b.Reset()

	// Classes.
	b.WriteString("| class (`error.type`) | retried | stands for |\n|---|---|---|\n")
	for _, c := range names.Classes {
		n := classNotes[c.Name]
		if n == "" {
			t.Errorf("class %s: not described", c.Name)
		}
		r := "no"
		if c.Retryable {
			r = "yes"
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", code(c.Name), r, n)
	}
	tables["classes"] = b.String()
	b.Reset()

	// Metrics.
	b.WriteString("| OTel instrument | kind, unit | Prometheus series | attributes | description |\n|---|---|---|---|---|\n")
	for _, m := range names.Metrics {
		wrapper := ""
		if m.Wrapper {
			wrapper = " + the wrapper labels"
		}
		fmt.Fprintf(&b, "| %s | %s, %s | %s | %s%s | %s |\n", code(m.Name), m.Kind, code(m.Unit), code(m.Prom), codes(m.OwnAttrs()), wrapper, m.Description)
	}
	var bk []string
	for _, x := range names.Buckets {
		bk = append(bk, strconv.FormatFloat(x, 'g', -1, 64))
	}
	fmt.Fprintf(&b, "\nHistogram buckets (seconds): %s.\n", strings.Join(bk, ", "))
	tables["metrics"] = b.String()
	b.Reset()

	// Attributes.
	b.WriteString("| OTel attribute | Prometheus label | carried by |\n|---|---|---|\n")
	for _, a := range names.Attributes {
		what := codes(a.Metrics)
		if len(a.Metrics) == len(names.Metrics) {
			what = "every instrument"
		}
		if a.Wrapper {
			what = "wrapper label: " + what
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", code(a.Attr), code(a.Label), what)
	}
	for _, a := range spanAttrs {
		fmt.Fprintf(&b, "| %s | none | %s |\n", code(a), spanOnly[a])
	}
	tables["attrs"] = b.String()
	b.Reset()

	// Values.
	fmt.Fprintf(&b, "- `redress.outcome`: %s.\n", codes(names.Outcomes))
	fmt.Fprintf(&b, "- `redress.circuit_breaker.state`: %s.\n", codes(names.BreakerStates))
	fmt.Fprintf(&b, "- `redress.stop_reason`: the stop reasons above; absent on success.\n")
	fmt.Fprintf(&b, "- `error.type`: the classes above; absent when the event is not about a failure.\n")
	fmt.Fprintf(&b, "- `redress.event`: the events above.\n")
	tables["values"] = b.String()
	return tables
}

var generated = regexp.MustCompile(`(?s)(<!-- generated: (\w+) [^>]*-->\n)(.*?)(<!-- end generated: (\w+) -->)`)

// TestDesignTables: the generated tables of docs/DESIGN.md (event kinds,
// stop reasons, classes, metrics, attributes, values) are what the code
// declares. -update rewrites them.
func TestDesignTables(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	tables := designTables(t)
	doc := readFile(t, root, design)
	found := map[string]bool{}
	out := generated.ReplaceAllStringFunc(doc, func(m string) string {
		p := generated.FindStringSubmatch(m)
		name := p[2]
		if p[5] != name {
			t.Errorf("%s: generated block %q ends as %q", design, name, p[5])
		}
		found[name] = true
		want, ok := tables[name]
		if !ok {
			t.Errorf("%s: no generated table %q", design, name)
			return m
		}
		if p[3] != want && !*update {
			t.Errorf("%s: table %q is stale (go test ./internal/doccheck -run TestDesignTables -update); want\n%s", design, name, want)
		}
		return p[1] + want + p[4]
	})
	for name := range tables {
		if !found[name] {
			t.Errorf("%s: lacks the generated table %q", design, name)
		}
	}
	if *update && out != doc {
		if err := os.WriteFile(filepath.Join(root, design), []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// testRef is one "file, function" pair of the promise table.
var testRef = regexp.MustCompile("`((?:[\\w.-]+/)*[\\w.-]+_test\\.go)` `((?:Test|Fuzz|Benchmark|Example)\\w*)`")

// TestDesignPromisesTested: every test that the "where each promise is
// tested" table of docs/DESIGN.md names exists, in the file it names.
func TestDesignPromisesTested(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	doc := readFile(t, root, design)
	i := strings.Index(doc, "## Where each promise is tested")
	if i < 0 {
		t.Fatalf("%s: no section \"Where each promise is tested\"", design)
	}
	sec := doc[i:]
	if j := strings.Index(sec[3:], "\n## "); j >= 0 {
		sec = sec[:j+3]
	}
	refs := testRef.FindAllStringSubmatch(sec, -1)
	if len(refs) < 30 {
		t.Fatalf("%s: only %d tests named in the promise table", design, len(refs))
	}
	for _, r := range refs {
		src, err := os.ReadFile(filepath.Join(root, r[1]))
		if err != nil {
			t.Errorf("%s: promise table names %s: %v", design, r[1], err)
			continue
		}
		if !regexp.MustCompile(`(?m)^func ` + r[2] + `\(`).Match(src) {
			t.Errorf("%s: promise table names %s in %s, which has no such function", design, r[2], r[1])
		}
	}
}
