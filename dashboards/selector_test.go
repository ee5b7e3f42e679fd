package dashboards

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/redress-go/redress/core"
)

var goodSelectors = []string{
	`namespace="prod"`,
	`job=~"checkout.*", env!="dev"`,
	`  cluster!~"eu-.*|us-.*"  `,
	`a='single', b=` + "`raw\\d`" + `,`,
	`path="a\"b\\c", x_1="{braces}, commas"`,
	`team="ünïcode"`,
	`job="x", `,
}

var badSelectors = []string{
	`job=`,
	`job`,
	`="x"`,
	`1job="x"`,
	`job="x`,
	`job=="x"`,
	`job=~"("`,
	`job="x" env="y"`,
	`job="x",,env="y"`,
	`{job="x"}`,
	`job="x"}`,
	`job="x"} or up{`,
	`job=x`,
	`job="\q"`,
	`job.name="x"`,
	`,`,
	`__name__=~"redress_.+"`,
	`__meta_x="y"`,
}

// TestSelectorValidation: Generate and Queries accept every valid
// label-matcher list and reject the rest with a ConfigError on
// Config.Selector.
func TestSelectorValidation(t *testing.T) {
	for _, sel := range goodSelectors {
		if _, err := Generate(Config{Selector: sel}); err != nil {
			t.Errorf("Generate(Selector: %s) = %v, want no error", sel, err)
		}
	}
	for _, sel := range badSelectors {
		for name, f := range map[string]func(Config) error{
			"Generate": func(c Config) error { _, err := Generate(c); return err },
			"Queries":  func(c Config) error { _, err := Queries(c); return err },
		} {
			err := f(Config{Selector: sel})
			var ce *core.ConfigError
			if !errors.As(err, &ce) || ce.Field != "Config.Selector" {
				t.Errorf("%s(Selector: %s) = %v, want a ConfigError on Config.Selector", name, sel, err)
			}
		}
	}
}

// TestGoodSelectorsMakeValidPromQL: for every valid selector, promtool
// accepts the generated recording and alerting rules and every panel query
// (its Grafana variables expanded), written as recording rules.
func TestGoodSelectorsMakeValidPromQL(t *testing.T) {
	for i, sel := range goodSelectors {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			cfg := Config{Selector: sel}
			dir := writeRules(t, cfg)
			qs, err := Queries(cfg)
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			b.WriteString("groups:\n  - name: panels\n    rules:\n")
			for j, q := range qs {
				if q.Kind == PanelQuery {
					fmt.Fprintf(&b, "      - record: panel_%d\n        expr: %s\n", j, quote(q.Expand("5m")))
				}
			}
			if err := os.WriteFile(filepath.Join(dir, "panels.yaml"), []byte(b.String()), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := promtool(t, dir, "check", "rules", baseName(RecordingRulesFile), baseName(AlertingRulesFile), "panels.yaml")
			if err != nil {
				t.Fatalf("promtool check rules with Selector %s: %v\n%s", sel, err, out)
			}
		})
	}
}

func TestGrafanaURLAccepted(t *testing.T) {
	for _, u := range []string{"https://grafana.example.com", "http://127.0.0.1:3000/", "https://example.com/grafana/"} {
		if _, err := Generate(Config{GrafanaURL: u}); err != nil {
			t.Errorf("GrafanaURL %q: %v", u, err)
		}
	}
}
