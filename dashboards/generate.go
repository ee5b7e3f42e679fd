package dashboards

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

//go:generate go run ./internal/gen

//go:embed grafana/*.json prometheus/*.yaml
var files embed.FS

// FS returns the committed files, generated with the default Config:
// grafana/*.json (one dashboard each) and prometheus/*.yaml (recording
// rules, alerting rules and their promtool unit tests). Serve it, or copy it
// into Grafana's and Prometheus's provisioning directories.
func FS() fs.FS { return files }

// The paths of the generated files, relative to this directory.
const (
	RecordingRulesFile = "prometheus/redress-recording.yaml"
	AlertingRulesFile  = "prometheus/redress-alerts.yaml"
	RuleTestsFile      = "prometheus/redress-alerts.test.yaml"
)

// File is one generated file.
type File struct {
	// Path is relative to the dashboards directory ("grafana/redress-overview.json").
	Path string
	// Data is the file's content.
	Data []byte
}

// Generate builds every dashboard and rule file for cfg, in a stable order.
// It returns a *core.ConfigError naming the first invalid field of cfg.
func Generate(cfg Config) ([]File, error) {
	g, err := newGenerator(cfg)
	if err != nil {
		return nil, err
	}
	var out []File
	for _, bd := range g.boards() {
		d, err := g.build(bd)
		if err != nil {
			return nil, fmt.Errorf("dashboards: building %s: %w", bd.uid, err)
		}
		data, err := marshalDashboard(d)
		if err != nil {
			return nil, fmt.Errorf("dashboards: encoding %s: %w", bd.uid, err)
		}
		out = append(out, File{Path: bd.file, Data: data})
	}
	out = append(out,
		File{Path: RecordingRulesFile, Data: g.rulesYAML(g.recording())},
		File{Path: AlertingRulesFile, Data: g.rulesYAML(g.alerts())},
		File{Path: RuleTestsFile, Data: g.ruleTestsYAML(baseName(RecordingRulesFile), baseName(AlertingRulesFile))},
	)
	return out, nil
}

func baseName(p string) string { return p[strings.LastIndexByte(p, '/')+1:] }

func newGenerator(cfg Config) (*generator, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return &generator{cfg: c}, nil
}

// QueryKind says where a query comes from.
type QueryKind int

// The query kinds.
const (
	// PanelQuery is a query of a dashboard panel; it holds Grafana
	// variables (see Query.Expand).
	PanelQuery QueryKind = iota
	// RecordingRule is the expression of a recording rule.
	RecordingRule
	// AlertingRule is the expression of an alerting rule.
	AlertingRule
)

// String returns "panel", "recording rule" or "alerting rule".
func (k QueryKind) String() string {
	switch k {
	case PanelQuery:
		return "panel"
	case RecordingRule:
		return "recording rule"
	case AlertingRule:
		return "alerting rule"
	}
	return "invalid"
}

// Query is one PromQL expression of the generated files.
type Query struct {
	// Kind says whether it is a panel query or a rule expression.
	Kind QueryKind
	// File is the generated file that holds it.
	File string
	// Name is "<dashboard title> / <panel title>" or the rule's name.
	Name string
	// Expr is the PromQL expression, as written in the file.
	Expr string
}

var grafanaVar = regexp.MustCompile(`\$(__rate_interval|__interval|__range|\{?[a-z_]+\}?)`)

// Expand replaces the Grafana variables of a panel query: $__rate_interval,
// $__interval and $__range by window, every other variable ($job, $policy,
// $operation) by ".*", as Grafana does when "All" is selected. A rule's
// expression holds no variable and is returned unchanged.
func (q Query) Expand(window string) string {
	if q.Kind != PanelQuery {
		return q.Expr
	}
	return grafanaVar.ReplaceAllStringFunc(q.Expr, func(v string) string {
		switch v {
		case "$__rate_interval", "$__interval", "$__range":
			return window
		}
		return ".*"
	})
}

// Queries returns every panel query and rule expression Generate(cfg)
// writes, so that they can be checked against a real Prometheus.
func Queries(cfg Config) ([]Query, error) {
	g, err := newGenerator(cfg)
	if err != nil {
		return nil, err
	}
	var out []Query
	for _, bd := range g.boards() {
		for _, r := range bd.rows {
			for _, p := range r.panels {
				for _, t := range p.targets {
					out = append(out, Query{Kind: PanelQuery, File: bd.file, Name: bd.title + " / " + p.title, Expr: t.expr})
				}
			}
		}
	}
	for _, gr := range []ruleGroup{g.recording(), g.alerts()} {
		for _, r := range gr.rules {
			q := Query{Kind: RecordingRule, File: RecordingRulesFile, Name: r.record, Expr: r.expr}
			if r.alert != "" {
				q = Query{Kind: AlertingRule, File: AlertingRulesFile, Name: r.alert, Expr: r.expr}
			}
			out = append(out, q)
		}
	}
	return out, nil
}

// Alerts returns the names of the generated alerts, sorted.
func Alerts() []string {
	g := &generator{}
	var out []string
	for _, r := range g.alerts().rules {
		out = append(out, r.alert)
	}
	sort.Strings(out)
	return out
}

// Write writes files under dir, creating dir and the folders the paths name
// (grafana/, prometheus/). It returns the first error, naming the file.
func Write(dir string, files []File) error {
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("dashboards: writing %s: %w", f.Path, err)
		}
		if err := os.WriteFile(p, f.Data, 0o644); err != nil {
			return fmt.Errorf("dashboards: writing %s: %w", f.Path, err)
		}
	}
	return nil
}
