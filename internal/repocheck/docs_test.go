package repocheck

import (
	"bufio"
	"errors"
	"io/fs"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// jargon is wording about how the project was made, not about the library:
// references to a specification the reader does not have, to issue items,
// and to the people and tools that worked on it.
var jargon = regexp.MustCompile(`(?i)\bthe seed\b|\bseed's\b|\bthe issue\b|\bissue #\d|#\d+ items?\b|\bthe lead\b|\bworktree\b|\bpreamble\b|\bhelper session\b|\bthe brief\b`)

// TestNoInternalJargon scans every document, Go file (doc comments,
// examples, tests), script and recorded output in the repository.
func TestNoInternalJargon(t *testing.T) {
	dir := root(t)
	self, _ := filepath.Abs("docs_test.go")
	texts := map[string]bool{".md": true, ".go": true, ".txt": true, ".sh": true, ".yaml": true, ".yml": true, ".json": true, ".proto": true}
	checked := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			// Another package's test removed its temporary files (doccheck's
			// testdata/snippets-*) while the walk was under way.
			return nil
		}
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == ".git" || filepath.Base(filepath.Dir(p)) == "testdata" && strings.HasPrefix(d.Name(), "snippets-") {
				return filepath.SkipDir
			}
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		if p == self || !(texts[filepath.Ext(p)] || rel == filepath.Join(".ci", "run") || d.Name() == "LICENSE" || d.Name() == "NOTICE") {
			return nil
		}
		checked++
		sc := bufio.NewScanner(strings.NewReader(read(t, p)))
		sc.Buffer(nil, 1<<24)
		for n := 1; sc.Scan(); n++ {
			if m := jargon.FindString(sc.Text()); m != "" {
				t.Errorf("%s:%d: %q: say it in the library's terms: %s", rel, n, m, strings.TrimSpace(sc.Text()))
			}
		}
		return sc.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 100 {
		t.Fatalf("only %d files checked", checked)
	}
}

func TestJargonPattern(t *testing.T) {
	for _, s := range []string{"the seed's decorator", "### The issue's targets", "(#13 item 14)", "see issue #19", "as the lead asked"} {
		if !jargon.MatchString(s) {
			t.Errorf("%q not caught", s)
		}
	}
	for _, s := range []string{"a generator seeded with seed", "rand.NewPCG(seed, 7)", "driver.SessionResetter", "the leader", "issue tracker"} {
		if jargon.MatchString(s) {
			t.Errorf("%q caught", s)
		}
	}
}

// TestLicenseIsFullText: LICENSE is the Apache License 2.0 itself, terms
// and conditions included, not a notice pointing at it.
func TestLicenseIsFullText(t *testing.T) {
	lic := read(t, filepath.Join(root(t), "LICENSE"))
	for _, s := range []string{
		"Apache License",
		"Version 2.0, January 2004",
		"TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION",
		"1. Definitions.",
		"2. Grant of Copyright License.",
		"3. Grant of Patent License.",
		"4. Redistribution.",
		"5. Submission of Contributions.",
		"6. Trademarks.",
		"7. Disclaimer of Warranty.",
		"8. Limitation of Liability.",
		"9. Accepting Warranty or Additional Liability.",
		"END OF TERMS AND CONDITIONS",
	} {
		if !strings.Contains(lic, s) {
			t.Errorf("LICENSE lacks %q", s)
		}
	}
	if len(lic) < 10000 {
		t.Errorf("LICENSE is %d bytes; the full text is about 11 kB", len(lic))
	}
}
