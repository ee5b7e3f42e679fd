// Command gen writes the generated dashboards and rules of package
// dashboards into the current directory (go generate runs it in
// dashboards/). It takes no flags: the committed files are always
// dashboards.Generate(dashboards.Config{}).
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/redress-go/redress/dashboards"
)

func main() {
	files, err := dashboards.Generate(dashboards.Config{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
	for _, f := range files {
		if err := os.MkdirAll(filepath.Dir(f.Path), 0o755); err != nil {
			fmt.Fprintln(os.Stderr, "gen:", err)
			os.Exit(1)
		}
		if err := os.WriteFile(f.Path, f.Data, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "gen:", err)
			os.Exit(1)
		}
	}
}
