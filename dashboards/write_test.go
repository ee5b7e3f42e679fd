package dashboards

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestWrite: Write creates the missing folders and writes every file; an
// unwritable destination is an error naming the file.
func TestWrite(t *testing.T) {
	files := generated(t, Config{Selector: `namespace="prod"`})
	dir := filepath.Join(t.TempDir(), "not", "yet")
	if err := Write(dir, files); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		got, err := os.ReadFile(filepath.Join(dir, f.Path))
		if err != nil || !bytes.Equal(got, f.Data) {
			t.Errorf("%s: err %v, %d bytes, want %d", f.Path, err, len(got), len(f.Data))
		}
	}
	blocker := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(blocker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	err := Write(blocker, files)
	if err == nil || !strings.Contains(err.Error(), files[0].Path) {
		t.Fatalf("Write under a regular file = %v, want an error naming %s", err, files[0].Path)
	}
}
