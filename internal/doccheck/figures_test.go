package doccheck

import (
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// benchRow is one variant's line of benchratio's output.
type benchRow struct {
	ratio         string // "18.46x"
	bytes, allocs string
}

var benchLine = regexp.MustCompile(`^\s+(\S+)\s+(\S+)\s+\S+ ns/op\s+(\d+) B/op\s+(\d+) allocs/op`)

// benchratio runs bench/cmd/benchratio over a recorded run and returns its
// rows by group ("SuccessPath") and variant.
func benchratio(t *testing.T, root, run, baseline string) map[string]map[string]benchRow {
	t.Helper()
	args := []string{"run", "./cmd/benchratio"}
	if baseline != "" {
		args = append(args, "-baseline", baseline)
	}
	in, err := os.Open(filepath.Join(root, "bench", "results", run))
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	cmd := exec.Command("go", args...)
	cmd.Dir = filepath.Join(root, "bench")
	cmd.Stdin = in
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go %s < results/%s (in bench/): %v", strings.Join(args, " "), run, err)
	}
	rows := map[string]map[string]benchRow{}
	var group string
	for _, l := range strings.Split(string(out), "\n") {
		if g, ok := strings.CutPrefix(l, "Benchmark"); ok {
			group = strings.TrimSpace(g)
			rows[group] = map[string]benchRow{}
			continue
		}
		if m := benchLine.FindStringSubmatch(l); m != nil && group != "" {
			rows[group][m[1]] = benchRow{ratio: m[2], bytes: m[3], allocs: m[4]}
		}
	}
	return rows
}

// sameFigure reports whether a documented ratio ("0.050x") is the computed
// one ("0.05x") to the precision of the less precise of the two.
func sameFigure(doc, got string) bool {
	d, err1 := strconv.ParseFloat(strings.TrimSuffix(doc, "x"), 64)
	g, err2 := strconv.ParseFloat(strings.TrimSuffix(got, "x"), 64)
	if err1 != nil || err2 != nil {
		return false
	}
	decimals := func(s string) int {
		_, frac, _ := strings.Cut(strings.TrimSuffix(s, "x"), ".")
		return len(frac)
	}
	prec := min(decimals(doc), decimals(got))
	return math.Abs(d-g) <= 0.5*math.Pow(10, -float64(prec))+1e-9
}

// TestCoreFiguresMatchTheRecordedRun: the engine's result tables in
// docs/benchmarks.md (SuccessPath, FailOnceThenSucceed, BreakerParallel)
// are what bench/cmd/benchratio reads from bench/results/core.txt: every
// ratio, allocation and byte count of every variant.
func TestCoreFiguresMatchTheRecordedRun(t *testing.T) {
	if testing.Short() {
		t.Skip("runs bench/cmd/benchratio")
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	runs := map[string]map[string]map[string]benchRow{}
	for _, b := range []string{"baseline", "redress", "gobreaker"} {
		base := b
		if b == "baseline" {
			base = ""
		}
		runs[b] = benchratio(t, root, "core.txt", base)
	}
	doc := strings.Split(readFile(t, root, "docs/benchmarks.md"), "\n")
	checked := 0
	for _, group := range []string{"SuccessPath", "FailOnceThenSucceed", "BreakerParallel"} {
		start := -1
		for i, l := range doc {
			if strings.HasPrefix(l, "**"+group+"**") {
				start = i
				break
			}
		}
		if start < 0 {
			t.Errorf("docs/benchmarks.md: no **%s** table", group)
			continue
		}
		for start < len(doc) && !strings.HasPrefix(doc[start], "|") {
			start++
		}
		if start >= len(doc) {
			t.Errorf("docs/benchmarks.md: no table after **%s**", group)
			continue
		}
		header := cells(doc[start])
		for _, l := range doc[start+2:] {
			if !strings.HasPrefix(l, "|") {
				break
			}
			row := cells(l)
			variant := strings.ReplaceAll(row[0], "**", "")
			variant, _, _ = strings.Cut(variant, " (")
			for i, h := range header[1:] {
				v := row[i+1]
				ref := strings.TrimPrefix(h, "× ")
				var want string
				switch {
				case ref != h:
					r, ok := runs[ref][group][variant]
					if !ok {
						t.Errorf("docs/benchmarks.md %s: variant %q not in the recorded run (against %s)", group, variant, ref)
						continue
					}
					want = r.ratio
					if !sameFigure(v, want) {
						t.Errorf("docs/benchmarks.md %s %s: %s says %s, the recorded run %s", group, variant, h, v, want)
					}
				case h == "allocs/op":
					if want = runs["baseline"][group][variant].allocs; v != want {
						t.Errorf("docs/benchmarks.md %s %s: allocs/op says %s, the recorded run %s", group, variant, v, want)
					}
				case h == "B/op":
					if want = runs["baseline"][group][variant].bytes; v != want {
						t.Errorf("docs/benchmarks.md %s %s: B/op says %s, the recorded run %s", group, variant, v, want)
					}
				}
				checked++
			}
		}
	}
	if checked < 60 {
		t.Fatalf("only %d figures checked", checked)
	}
}

// cells splits a Markdown table row into its trimmed cells.
func cells(row string) []string {
	row = strings.Trim(strings.TrimSpace(row), "|")
	var out []string
	for _, c := range strings.Split(row, "|") {
		out = append(out, strings.TrimSpace(c))
	}
	return out
}
