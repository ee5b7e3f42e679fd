package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/redress-go/redress/core"
	"github.com/redress-go/redress/internal/telemetry"
)

var update = flag.Bool("update", false, "rewrite the sample output in docs/telemetry.md")

// runCmd runs the command with args and returns its status, stdout and stderr.
func runCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// TestNamesEveryFormat: in each format, with and without the subcommand,
// every metric (OTel and Prometheus name), attribute key and Prometheus
// label, event kind, stop reason and class of the code has its row.
func TestNamesEveryFormat(t *testing.T) {
	cell := map[string]func(string) *regexp.Regexp{
		// text: the name starts a row, or is a cell of one.
		"text": func(s string) *regexp.Regexp {
			return regexp.MustCompile(`(?m)(^|\s)` + regexp.QuoteMeta(s) + `(\s|/|$)`)
		},
		// markdown: a code span.
		"markdown": func(s string) *regexp.Regexp { return regexp.MustCompile("`" + regexp.QuoteMeta(s) + "`") },
		// json: a string value.
		"json": func(s string) *regexp.Regexp { return regexp.MustCompile(`"` + regexp.QuoteMeta(s) + `"`) },
	}
	var want []string
	for _, m := range telemetry.Metrics {
		want = append(want, m.Name)
		for _, a := range m.Attrs {
			want = append(want, a, telemetry.PromLabel(a))
		}
	}
	for _, k := range core.EventKinds() {
		want = append(want, k.String())
	}
	for _, r := range core.StopReasons() {
		want = append(want, r.String(), r.Event().String())
	}
	for _, c := range core.Classes() {
		want = append(want, c.String())
	}
	for _, s := range core.BreakerStates() {
		want = append(want, s.String())
	}
	for format, re := range cell {
		for _, args := range [][]string{{"-format", format}, {"names", "-format", format}, {"-format=" + format, "names"}} {
			code, out, errOut := runCmd(t, args...)
			if code != 0 || errOut != "" {
				t.Fatalf("%v: status %d, stderr %q", args, code, errOut)
			}
			series := []string{}
			for _, m := range telemetry.Names().Metrics {
				if format == "text" {
					series = append(series, series1(m))
				} else {
					series = append(series, m.Series...)
				}
			}
			for _, w := range append(want, series...) {
				if !re(w).MatchString(out) {
					t.Errorf("%v: %q missing", args, w)
				}
			}
		}
	}
	// text is the default.
	_, def, _ := runCmd(t)
	_, text, _ := runCmd(t, "-format", "text")
	if def != text {
		t.Error("default output differs from -format text")
	}
}

// series1 is how the text format shows a metric's series: a histogram's as
// family_bucket/_sum/_count.
func series1(m telemetry.MetricRow) string {
	if m.Kind == "histogram" {
		return m.Prom + "_bucket/_sum/_count"
	}
	return m.Prom
}

// TestJSONRoundTrips: the json output decodes into the table it was made
// from, and its names are the code's.
func TestJSONRoundTrips(t *testing.T) {
	_, out, _ := runCmd(t, "-format", "json")
	var got telemetry.Table
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("decode: %v\n%s", err, out)
	}
	if want := telemetry.Names(); !reflect.DeepEqual(got, want) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, want)
	}
	for i, m := range telemetry.Metrics {
		if got.Metrics[i].Name != m.Name || got.Metrics[i].Prom != m.Prom {
			t.Errorf("metric %d: %s / %s, want %s / %s", i, got.Metrics[i].Name, got.Metrics[i].Prom, m.Name, m.Prom)
		}
	}
	for i, k := range core.EventKinds() {
		if e := got.Events[i]; e.Name != k.String() || e.Terminal != k.Terminal() || e.Rejection != k.Rejection() {
			t.Errorf("event %d: %+v, want %s", i, e, k)
		}
	}
	for i, r := range core.StopReasons() {
		if s := got.StopReasons[i]; s.Name != r.String() || s.Event != r.Event().String() {
			t.Errorf("stop reason %d: %+v, want %s", i, s, r)
		}
	}
	// Encoding again gives the same bytes.
	var again bytes.Buffer
	if err := writeJSON(&again, got); err != nil || again.String() != out {
		t.Errorf("re-encoded output differs (err %v)", err)
	}
}

// TestBadUsage: a bad format, flag, subcommand or argument exits 2 with a
// message on stderr and nothing on stdout.
func TestBadUsage(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		msg  string
	}{
		{"bad format", []string{"-format", "xml"}, `unknown format "xml" (want text, json or markdown)`},
		{"bad format after names", []string{"names", "-format", "yaml"}, `unknown format "yaml"`},
		{"bad flag", []string{"-frmat", "json"}, "flag provided but not defined: -frmat"},
		{"missing value", []string{"-format"}, "flag needs an argument: -format"},
		{"unknown command", []string{"metrics"}, `unknown command "metrics" (want names)`},
		{"extra argument", []string{"names", "extra"}, `unexpected argument "extra"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCmd(t, tc.args...)
			if code != 2 {
				t.Errorf("status %d, want 2", code)
			}
			if out != "" {
				t.Errorf("stdout %q, want nothing", out)
			}
			if !strings.Contains(errOut, tc.msg) {
				t.Errorf("stderr %q lacks %q", errOut, tc.msg)
			}
		})
	}
}

// TestHelp: -h and help print the usage and exit 0.
func TestHelp(t *testing.T) {
	if code, _, errOut := runCmd(t, "-h"); code != 0 || !strings.Contains(errOut, "usage: redress") {
		t.Errorf("-h: status %d, stderr %q", code, errOut)
	}
	if code, out, _ := runCmd(t, "help"); code != 0 || !strings.Contains(out, "usage: redress") {
		t.Errorf("help: status %d, stdout %q", code, out)
	}
}

const (
	docs     = "docs/telemetry.md"
	docStart = "<!-- generated by cmd/redress TestDocsOutput: do not edit -->\n"
	docEnd   = "<!-- end generated by cmd/redress -->"
)

// TestDocsOutput: docs/telemetry.md holds the text output of a real run
// (-update rewrites it), and the sample in README.md is lines of it.
func TestDocsOutput(t *testing.T) {
	root := filepath.Join("..", "..")
	_, text, _ := runCmd(t)
	want := docStart + "\n```text\n$ go run github.com/redress-go/redress/cmd/redress\n" + text + "```\n\n" + docEnd

	path := filepath.Join(root, docs)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	i, j := strings.Index(doc, docStart), strings.Index(doc, docEnd)
	if i < 0 || j < i {
		t.Fatalf("%s: no block %q … %q", docs, docStart, docEnd)
	}
	if got := doc[i : j+len(docEnd)]; got != want {
		if !*update {
			t.Errorf("%s: the sample output is stale (go test ./cmd/redress -run TestDocsOutput -update)", docs)
		} else if err := os.WriteFile(path, []byte(doc[:i]+want+doc[j+len(docEnd):]), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	const cmd = "`go run github.com/redress-go/redress/cmd/redress`"
	k := strings.Index(string(readme), cmd)
	if k < 0 {
		t.Fatalf("README.md does not show %s", cmd)
	}
	rest := string(readme[k:])
	s := strings.Index(rest, "```text\n")
	if s < 0 {
		t.Fatal("README.md: no ```text sample after the command")
	}
	sample := rest[s+len("```text\n"):]
	if e := strings.Index(sample, "```"); e >= 0 {
		sample = sample[:e]
	}
	if n := strings.Count(sample, "\n"); n < 3 || !strings.Contains("\n"+text, "\n"+sample) {
		t.Errorf("README.md: the %d-line sample is not lines of the output:\n%s", n, sample)
	}
}
