package doccheck

import (
	"bufio"
	"fmt"
	"go/doc/comment"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// snippet is one Go code block and where it came from.
type snippet struct {
	file string // relative to the module root
	line int    // of the block's first line
	code string
}

// imports maps the package names the snippets use to their paths.
var imports = map[string]string{
	"context":       "context",
	"errors":        "errors",
	"fmt":           "fmt",
	"log":           "log",
	"slog":          "log/slog",
	"http":          "net/http",
	"os":            "os",
	"filepath":      "path/filepath",
	"sql":           "database/sql",
	"time":          "time",
	"grpc":          "google.golang.org/grpc",
	"prometheus":    "github.com/prometheus/client_golang/prometheus",
	"promhttp":      "github.com/prometheus/client_golang/prometheus/promhttp",
	"otelhttp":      "go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp",
	"core":          "github.com/redress-go/redress/core",
	"coretest":      "github.com/redress-go/redress/core/coretest",
	"dashboards":    "github.com/redress-go/redress/dashboards",
	"redressexport": "github.com/redress-go/redress/exporters",
	"redressotel":   "github.com/redress-go/redress/instrument/otel",
	"redressprom":   "github.com/redress-go/redress/instrument/prometheus",
	"redressslog":   "github.com/redress-go/redress/instrument/slog",
	"redressdebug":  "github.com/redress-go/redress/instrument/debugpage",
	"redresshttp":   "github.com/redress-go/redress/contrib/nethttp",
	"redresssql":    "github.com/redress-go/redress/contrib/database-sql",
	"redressgrpc":   "github.com/redress-go/redress/contrib/grpc",
	"redressredis":  "github.com/redress-go/redress/contrib/redis",
	"redis":         "github.com/redis/go-redis/v9",
}

var fence = regexp.MustCompile("^\\s*```(\\S*)")

// documents returns the Markdown documents whose snippets, links and cited
// results are checked: README.md and every docs/*.md, relative to root.
func documents(t *testing.T, root string) []string {
	docs, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	out := []string{"README.md"}
	for _, d := range docs {
		rel, _ := filepath.Rel(root, d)
		out = append(out, filepath.ToSlash(rel))
	}
	if len(out) < 5 {
		t.Fatalf("found only %v", out)
	}
	return out
}

// markdownSnippets returns the ```go blocks of the Markdown file rel
// (```go-fragment blocks are deliberately left out).
func markdownSnippets(t *testing.T, root, rel string) []snippet {
	f, err := os.Open(filepath.Join(root, rel))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []snippet
	var cur *snippet
	var indent string
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if m := fence.FindStringSubmatch(line); m != nil {
			switch {
			case cur != nil:
				out = append(out, *cur)
				cur = nil
				continue
			case m[1] == "go":
				cur = &snippet{file: rel, line: n + 1}
				indent = line[:len(line)-len(strings.TrimLeft(line, " \t"))]
			}
			if cur == nil && m[1] != "go" {
				// Skip the body of a non-Go block up to its closing fence.
				for sc.Scan() {
					n++
					if fence.MatchString(sc.Text()) {
						break
					}
				}
			}
			continue
		}
		if cur != nil {
			cur.code += strings.TrimPrefix(line, indent) + "\n"
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// docSnippets returns the code blocks of every package doc comment in the
// module (bench is a module of its own), but those whose first line is a
// shell command ("$ ...").
func docSnippets(t *testing.T, root string) []snippet {
	var out []snippet
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p != root && (d.Name() == "bench" || d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		f, err := parser.ParseFile(token.NewFileSet(), p, src, parser.ParseComments|parser.PackageClauseOnly)
		if err != nil || f.Doc == nil {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		var cp comment.Parser
		for _, b := range cp.Parse(f.Doc.Text()).Content {
			c, ok := b.(*comment.Code)
			if !ok || strings.HasPrefix(c.Text, "$ ") {
				continue
			}
			first, _, _ := strings.Cut(c.Text, "\n")
			line := 1
			for i, l := range strings.Split(string(src), "\n") {
				if strings.TrimPrefix(strings.TrimPrefix(l, "//"), "\t") == first {
					line = i + 1
					break
				}
			}
			out = append(out, snippet{file: rel, line: line, code: c.Text})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

var importLine = regexp.MustCompile(`^import\s+(?:([A-Za-z_]\w*)\s+)?("[^"]+")\s*$`)

// source makes a compilable file of s: whole files as they are, fragments
// inside func snippet() error with their imports hoisted and the missing
// ones added from the map.
func source(t *testing.T, root string, s snippet) string {
	file := filepath.Join(root, s.file)
	if strings.HasPrefix(strings.TrimSpace(s.code), "package ") {
		return fmt.Sprintf("//line %s:%d\n%s", file, s.line, s.code)
	}
	lines := strings.Split(s.code, "\n")
	have := map[string]string{} // name -> import spec
	body := 0
	for ; body < len(lines); body++ {
		l := strings.TrimSpace(lines[body])
		if l == "" {
			continue
		}
		m := importLine.FindStringSubmatch(l)
		if m == nil {
			break
		}
		p, _ := strconv.Unquote(m[2])
		name := m[1]
		if name == "" {
			name = p[strings.LastIndexByte(p, '/')+1:]
		}
		have[name] = m[1] + " " + m[2]
	}
	code := strings.Join(lines[body:], "\n")
	wrap := func(specs []string) string {
		return fmt.Sprintf("package main\n\nimport (\n%s\n)\n\nfunc snippet() error {\n//line %s:%d\n%s\nreturn nil\n}\n",
			strings.Join(specs, "\n"), file, s.line+body, code)
	}
	// Find the package names the fragment uses but does not declare.
	f, err := parser.ParseFile(token.NewFileSet(), "snippet.go", wrap(nil), 0)
	if err != nil {
		t.Errorf("%s:%d: the snippet does not parse: %v", s.file, s.line, err)
		return ""
	}
	var specs []string
	for _, spec := range have {
		specs = append(specs, spec)
	}
	for _, id := range f.Unresolved {
		if _, ok := have[id.Name]; ok {
			continue
		}
		if p, ok := imports[id.Name]; ok {
			have[id.Name] = id.Name + " " + strconv.Quote(p)
			specs = append(specs, have[id.Name])
		}
	}
	slices.Sort(specs)
	return wrap(specs)
}

// TestSnippetsCompile type-checks (go vet) every Go snippet of README.md,
// of docs/*.md and of the package doc comments, each as a main package beside givens.go's
// declarations, in a temporary directory inside the module.
func TestSnippetsCompile(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	var snips []snippet
	for _, doc := range documents(t, root) {
		s := markdownSnippets(t, root, doc)
		if n, want := len(s), strings.Count(readFile(t, root, doc), "```go\n"); n != want {
			t.Fatalf("found %d snippets in %s, want one per ```go fence (%d)", n, doc, want)
		}
		snips = append(snips, s...)
	}
	if n := len(markdownSnippets(t, root, "README.md")); n < 8 {
		t.Fatalf("found only %d README snippets", n)
	}
	snips = append(snips, docSnippets(t, root)...)
	if len(snips) < 20 {
		t.Fatalf("found only %d snippets", len(snips))
	}
	if err := os.MkdirAll("testdata", 0o755); err != nil {
		t.Fatal(err)
	}
	tmp, err := os.MkdirTemp("testdata", "snippets-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		os.RemoveAll(tmp)
		os.Remove("testdata") // if empty
	})
	var pkgs []string
	for i, s := range snips {
		src := source(t, root, s)
		if src == "" {
			continue
		}
		d := filepath.Join(tmp, fmt.Sprintf("s%02d", i))
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "snippet.go"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "givens.go"), []byte(Givens), 0o644); err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, "./"+filepath.ToSlash(d))
	}
	cmd := exec.Command("go", append([]string{"vet", "-unreachable=false"}, pkgs...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go vet of the snippets: %v\n%s", err, out)
	}
}

func readFile(t *testing.T, root, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
