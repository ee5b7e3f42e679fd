package doccheck

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// link is a Markdown link or image target and where it was found.
var link = regexp.MustCompile(`!?\[[^\]]*\]\(([^)\s]+)\)`)

// prose returns the lines of a Markdown document outside fenced code
// blocks, with inline code spans blanked out, keyed by line number.
func prose(doc string) map[int]string {
	out := map[int]string{}
	in := false
	for i, l := range strings.Split(doc, "\n") {
		if fence.MatchString(l) {
			in = !in
			continue
		}
		if !in {
			out[i+1] = codeSpan.ReplaceAllString(l, "``")
		}
	}
	return out
}

var codeSpan = regexp.MustCompile("`[^`]*`")

// anchors returns the GitHub anchors of a Markdown document's headings.
func anchors(doc string) map[string]bool {
	out := map[string]bool{}
	in := false
	for _, l := range strings.Split(doc, "\n") {
		if fence.MatchString(l) {
			in = !in
			continue
		}
		if in || !strings.HasPrefix(l, "#") {
			continue
		}
		h := strings.TrimSpace(strings.TrimLeft(l, "#"))
		out[slug(h)] = true
	}
	return out
}

// slug is GitHub's anchor of a heading: lower case, letters, digits, '-'
// and '_' kept, spaces made '-', everything else dropped.
func slug(h string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(h) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r > 127 && !strings.ContainsRune("×…—–→≤≥½", r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

func TestSlug(t *testing.T) {
	for h, want := range map[string]string{
		"The demo (`examples/demo`)":                                  "the-demo-examplesdemo",
		"Performance: the engine against its peers":                   "performance-the-engine-against-its-peers",
		"database/sql: `contrib/database-sql` (package `redresssql`)": "databasesql-contribdatabase-sql-package-redresssql",
		"Full outage: 50 clients, every request answered 503 for 2 s": "full-outage-50-clients-every-request-answered-503-for-2-s",
	} {
		if got := slug(h); got != want {
			t.Errorf("slug(%q) = %q, want %q", h, got, want)
		}
	}
}

// TestLinksResolve: every relative link and image of README.md and
// docs/*.md names a file or directory of the repository, and every #anchor
// a heading of the document it points into.
func TestLinksResolve(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, doc := range documents(t, root) {
		text := readFile(t, root, doc)
		for n, l := range prose(text) {
			for _, m := range link.FindAllStringSubmatch(l, -1) {
				target := m[1]
				if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
					continue
				}
				checked++
				path, frag, _ := strings.Cut(target, "#")
				file := doc
				if path != "" {
					file = filepath.ToSlash(filepath.Join(filepath.Dir(doc), path))
					if _, err := os.Stat(filepath.Join(root, file)); err != nil {
						t.Errorf("%s:%d: link to %s: no such file", doc, n, target)
						continue
					}
				}
				if frag == "" {
					continue
				}
				if !strings.HasSuffix(file, ".md") {
					t.Errorf("%s:%d: link to %s: an anchor into a file that is not Markdown", doc, n, target)
					continue
				}
				if !anchors(readFile(t, root, file))[frag] {
					t.Errorf("%s:%d: link to %s: %s has no heading with anchor #%s", doc, n, target, file, frag)
				}
			}
		}
	}
	if checked < 30 {
		t.Fatalf("only %d links checked", checked)
	}
}

// result is a recorded benchmark output that a document cites.
var result = regexp.MustCompile(`(?:bench/)?results/([\w.-]+\.txt)`)

// TestCitedResultsExist: every recorded run a document cites
// (bench/results/*.txt) is in the repository, so a figure always has the
// output it was read from.
func TestCitedResultsExist(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	cited := map[string]bool{}
	for _, doc := range documents(t, root) {
		for n, l := range strings.Split(readFile(t, root, doc), "\n") {
			for _, m := range result.FindAllStringSubmatch(l, -1) {
				cited[m[1]] = true
				if _, err := os.Stat(filepath.Join(root, "bench", "results", m[1])); err != nil {
					t.Errorf("%s:%d: cites bench/results/%s, which does not exist", doc, n+1, m[1])
				}
			}
		}
	}
	// Every recorded run is read somewhere.
	files, _ := filepath.Glob(filepath.Join(root, "bench", "results", "*.txt"))
	for _, f := range files {
		if !cited[filepath.Base(f)] {
			t.Errorf("bench/results/%s is cited by no document", filepath.Base(f))
		}
	}
	if len(cited) < 5 {
		t.Fatalf("only %d recorded runs cited", len(cited))
	}
}

// figure is a measured ratio ("1.03x", "0.25×").
var figure = regexp.MustCompile(`\b\d+(?:\.\d+)?[x×](?:\W|$)`)

// TestFiguresStayWithTheirRun: a section (down to its subsections) of
// README.md or docs/*.md that quotes a measured ratio also names the
// recorded run it comes from (bench/results/*.txt) or the benchmark
// command that produces it, so that no figure travels without its source.
func TestFiguresStayWithTheirRun(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	sources := 0
	for _, doc := range documents(t, root) {
		if doc == design {
			continue // it quotes no figure; the test below checks that
		}
		lines := strings.Split(readFile(t, root, doc), "\n")
		// Sections: from a heading to the next heading of the same or a
		// higher level.
		in := false
		type heading struct{ line, level int }
		var hs []heading
		for i, l := range lines {
			if fence.MatchString(l) {
				in = !in
			}
			if !in && strings.HasPrefix(l, "#") {
				hs = append(hs, heading{i, len(l) - len(strings.TrimLeft(l, "#"))})
			}
		}
		for k, h := range hs {
			end := len(lines)
			next := len(lines)
			if k+1 < len(hs) {
				next = hs[k+1].line
			}
			for _, h2 := range hs[k+1:] {
				if h2.level <= h.level {
					end = h2.line
					break
				}
			}
			own := strings.Join(lines[h.line:next], "\n")
			whole := strings.Join(lines[h.line:end], "\n")
			if m := figure.FindString(own); m != "" {
				if !result.MatchString(whole) && !strings.Contains(whole, "-bench") {
					t.Errorf("%s:%d: section %q quotes %q but names no recorded run (bench/results/*.txt) or benchmark command", doc, h.line+1, lines[h.line], strings.TrimSpace(m))
				}
				sources++
			}
		}
	}
	if sources < 5 {
		t.Fatalf("only %d sections with figures found", sources)
	}
	if m := figure.FindString(readFile(t, root, design)); m != "" {
		t.Errorf("%s quotes the figure %q: figures belong in docs/benchmarks.md, beside their command", design, m)
	}
}
