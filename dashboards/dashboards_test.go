package dashboards

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"

	"github.com/redress-go/redress/core"
	"github.com/redress-go/redress/internal/telemetry"
	"github.com/redress-go/redress/internal/testenv"
)

func generated(t *testing.T, cfg Config) []File {
	t.Helper()
	files, err := Generate(cfg)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	return files
}

// TestCommittedFilesAreFresh fails when the committed files differ from what
// the generator writes now: run `go generate ./dashboards` and commit.
func TestCommittedFilesAreFresh(t *testing.T) {
	want := map[string]bool{}
	for _, f := range generated(t, Config{}) {
		want[f.Path] = true
		disk, err := os.ReadFile(filepath.FromSlash(f.Path))
		if err != nil {
			t.Errorf("%s is not committed (run go generate ./dashboards): %v", f.Path, err)
			continue
		}
		if !bytes.Equal(disk, f.Data) {
			t.Errorf("%s is stale: run go generate ./dashboards", f.Path)
		}
		emb, err := fs.ReadFile(FS(), f.Path)
		if err != nil || !bytes.Equal(emb, f.Data) {
			t.Errorf("FS() holds a stale %s (err %v)", f.Path, err)
		}
	}
	for _, dir := range []string{"grafana", "prometheus"} {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if p := dir + "/" + e.Name(); !want[p] {
				t.Errorf("%s is not generated any more: delete it", p)
			}
		}
	}
}

func TestGenerateIsDeterministic(t *testing.T) {
	a, b := generated(t, Config{}), generated(t, Config{})
	if len(a) != len(b) {
		t.Fatalf("%d files, then %d", len(a), len(b))
	}
	for i := range a {
		if a[i].Path != b[i].Path || !bytes.Equal(a[i].Data, b[i].Data) {
			t.Errorf("%s differs between two runs", a[i].Path)
		}
	}
}

// TestDashboardsRoundTrip decodes every committed dashboard into the SDK's
// types, validates it, and re-encodes it byte for byte: a field the SDK does
// not know, or a value of the wrong type, would be lost or fail. (The SDK's
// UnmarshalJSONStrict cannot be used: in v0.0.22 a panel's strict decoder
// returns a typed-nil error that makes PanelOrRowPanel drop every panel.)
func TestDashboardsRoundTrip(t *testing.T) {
	plugins.RegisterDefaultPlugins()
	for _, f := range generated(t, Config{}) {
		if !strings.HasSuffix(f.Path, ".json") {
			continue
		}
		t.Run(f.Path, func(t *testing.T) {
			var d dashboard.Dashboard
			if err := json.Unmarshal(f.Data, &d); err != nil {
				t.Fatalf("decode: %v", err)
			}
			if err := sdkErr(d.Validate()); err != nil {
				t.Fatalf("validate: %v", err)
			}
			again, err := marshalDashboard(d)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again, f.Data) {
				t.Fatalf("re-encoded dashboard differs from the generated one")
			}
		})
	}
}

// sdkErr turns the SDK's typed-nil cog.BuildErrors (returned as a non-nil
// error interface when there is no error) into nil.
func sdkErr(err error) error {
	if be, ok := err.(cog.BuildErrors); ok && len(be) == 0 {
		return nil
	}
	return err
}

func decode(t *testing.T, data []byte) dashboard.Dashboard {
	t.Helper()
	plugins.RegisterDefaultPlugins()
	var d dashboard.Dashboard
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

// TestDashboardShape checks what every dashboard must have:
// variables for data source, job, policy and operation; every panel bound to
// the data source variable, with a unit (but state timelines), a legend
// and at least one query.
func TestDashboardShape(t *testing.T) {
	for _, f := range generated(t, Config{}) {
		if !strings.HasSuffix(f.Path, ".json") {
			continue
		}
		t.Run(f.Path, func(t *testing.T) {
			d := decode(t, f.Data)
			var vars []string
			for _, v := range d.Templating.List {
				vars = append(vars, v.Name)
			}
			if want := []string{varDatasource, varJob, varPolicy, varOperation}; !slices.Equal(vars, want) {
				t.Errorf("variables %v, want %v", vars, want)
			}
			panels := 0
			for _, pr := range d.Panels {
				p := pr.Panel
				if p == nil {
					continue
				}
				panels++
				title := *p.Title
				if p.Datasource == nil || p.Datasource.Uid == nil || *p.Datasource.Uid != "${datasource}" {
					t.Errorf("%q: data source is not the variable", title)
				}
				if len(p.Targets) == 0 {
					t.Errorf("%q: no query", title)
				}
				for _, tg := range p.Targets {
					q, ok := tg.(*prometheus.Dataquery)
					if !ok || q.Expr == "" {
						t.Errorf("%q: target %T is not a Prometheus query", title, tg)
					}
				}
				if p.Description == nil || *p.Description == "" {
					t.Errorf("%q: no description", title)
				}
				if p.Type != "state-timeline" && (p.FieldConfig == nil || p.FieldConfig.Defaults.Unit == nil || *p.FieldConfig.Defaults.Unit == "") {
					t.Errorf("%q: no unit", title)
				}
				if p.Type == "timeseries" || p.Type == "state-timeline" {
					opts, _ := json.Marshal(p.Options)
					if !bytes.Contains(opts, []byte(`"showLegend":true`)) {
						t.Errorf("%q: legend off: %s", title, opts)
					}
				}
			}
			if panels < 5 {
				t.Errorf("only %d panels", panels)
			}
		})
	}
}

// TestEveryMetricIsShown guards the point of generating from the table: each
// instrument of the name table appears in at least one overview panel.
func TestEveryMetricIsShown(t *testing.T) {
	qs, err := Queries(Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range telemetry.Metrics {
		found := false
		for _, q := range qs {
			if q.Kind == PanelQuery && strings.HasPrefix(q.Name, "redress / overview") && strings.Contains(q.Expr, m.Prom) {
				found = true
			}
		}
		if !found {
			t.Errorf("no overview panel shows %s (%s)", m.Prom, m.Name)
		}
	}
}

func TestQueriesMatchFiles(t *testing.T) {
	files := map[string][]byte{}
	for _, f := range generated(t, Config{}) {
		files[f.Path] = f.Data
	}
	qs, err := Queries(Config{})
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[QueryKind]int{}
	for _, q := range qs {
		kinds[q.Kind]++
		enc, _ := json.Marshal(q.Expr) // both the JSON and the YAML quote like JSON
		body := strings.Trim(strings.ReplaceAll(string(enc), `\u003c`, "<"), `"`)
		body = strings.ReplaceAll(body, `\u003e`, ">")
		body = strings.ReplaceAll(body, `\u0026`, "&")
		if !bytes.Contains(files[q.File], []byte(body)) {
			t.Errorf("%s %q: expression not in %s", q.Kind, q.Name, q.File)
		}
	}
	if kinds[PanelQuery] < 20 || kinds[RecordingRule] == 0 || kinds[AlertingRule] != len(Alerts()) {
		t.Errorf("query counts %v", kinds)
	}
}

func TestQueryExpand(t *testing.T) {
	tests := []struct {
		name string
		q    Query
		want string
	}{
		{"panel variables", Query{Kind: PanelQuery, Expr: `rate(x{job=~"$job", p=~"$policy"}[$__rate_interval])`}, `rate(x{job=~".*", p=~".*"}[1m])`},
		{"braced variable", Query{Kind: PanelQuery, Expr: `x{o=~"${operation}"}[$__range]`}, `x{o=~".*"}[1m]`},
		{"rule untouched", Query{Kind: AlertingRule, Expr: `a > 0`}, `a > 0`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.q.Expand("1m"); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name  string
		cfg   Config
		field string
	}{
		{"negative window", Config{RateWindow: -time.Second}, "Config.RateWindow"},
		{"fractional window", Config{RateWindow: 1500 * time.Millisecond}, "Config.RateWindow"},
		{"negative circuit for", Config{CircuitOpenFor: -1}, "Config.CircuitOpenFor"},
		{"negative for", Config{For: -1}, "Config.For"},
		{"retry ratio too high", Config{RetryRatio: 11}, "Config.RetryRatio"},
		{"retry ratio negative", Config{RetryRatio: -1}, "Config.RetryRatio"},
		{"amplification 1", Config{RetryAmplification: 1}, "Config.RetryAmplification"},
		{"amplification below 1", Config{RetryAmplification: 0.5}, "Config.RetryAmplification"},
		{"amplification too high", Config{RetryAmplification: 11}, "Config.RetryAmplification"},
		{"amplification NaN", Config{RetryAmplification: math.NaN()}, "Config.RetryAmplification"},
		{"non-retryable ratio 1", Config{NonRetryableRatio: 1}, "Config.NonRetryableRatio"},
		{"limiter rejection ratio 1", Config{LimiterRejectionRatio: 1}, "Config.LimiterRejectionRatio"},
		{"limiter rejection ratio NaN", Config{LimiterRejectionRatio: math.NaN()}, "Config.LimiterRejectionRatio"},
		{"latency above buckets", Config{LatencyP99: time.Minute}, "Config.LatencyP99"},
		{"latency below buckets", Config{LatencyP99: time.Millisecond}, "Config.LatencyP99"},
		{"selector with braces", Config{Selector: `{job="x"}`}, "Config.Selector"},
		{"retry ratio NaN", Config{RetryRatio: math.NaN()}, "Config.RetryRatio"},
		{"non-retryable ratio NaN", Config{NonRetryableRatio: math.NaN()}, "Config.NonRetryableRatio"},
		{"grafana URL without scheme", Config{GrafanaURL: "grafana.example.com"}, "Config.GrafanaURL"},
		{"grafana URL with another scheme", Config{GrafanaURL: "ftp://grafana.example.com"}, "Config.GrafanaURL"},
		{"grafana URL with a query", Config{GrafanaURL: "https://grafana.example.com/?orgId=1"}, "Config.GrafanaURL"},
		{"grafana URL with a template", Config{GrafanaURL: "https://grafana.example.com/{{ $x }}"}, "Config.GrafanaURL"},
		{"grafana URL unparsable", Config{GrafanaURL: "https://gra fana.example.com"}, "Config.GrafanaURL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Generate(tt.cfg)
			var ce *core.ConfigError
			if !errors.As(err, &ce) || ce.Field != tt.field {
				t.Fatalf("err = %v, want a ConfigError on %s", err, tt.field)
			}
		})
	}
}

func TestSelectorAndURLReachEveryQuery(t *testing.T) {
	cfg := Config{Selector: `namespace="prod"`, GrafanaURL: "https://grafana.example/"}
	qs, err := Queries(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range qs {
		if q.Kind == RecordingRule && !strings.Contains(q.Expr, "redress_") {
			continue
		}
		if !strings.Contains(q.Expr, `namespace="prod"`) && !strings.Contains(q.Expr, ":") {
			t.Errorf("%s %q lacks the selector: %s", q.Kind, q.Name, q.Expr)
		}
	}
	for _, f := range generated(t, cfg) {
		if f.Path == AlertingRulesFile && !bytes.Contains(f.Data, []byte(`dashboard_url: "https://grafana.example/d/redress-overview/`)) {
			t.Errorf("alerts do not link to the configured Grafana")
		}
	}
}

// writeRules writes the rule files and tests of cfg into a temp directory.
func writeRules(t *testing.T, cfg Config) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range generated(t, cfg) {
		if strings.HasPrefix(f.Path, "prometheus/") {
			if err := os.WriteFile(filepath.Join(dir, baseName(f.Path)), f.Data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}

func promtool(t *testing.T, dir string, args ...string) (string, error) {
	t.Helper()
	bin := testenv.LookPath(t, "promtool", "prometheus")
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestPromtool runs `promtool check rules` and `promtool test rules` on the
// committed files and on a non-default configuration (the unit tests follow
// the configuration).
func TestPromtool(t *testing.T) {
	cases := []struct {
		name string
		dir  string
	}{
		{"committed", "prometheus"},
		{"compressed config", writeRules(t, Config{RateWindow: 10 * time.Second, For: 20 * time.Second,
			CircuitOpenFor: 30 * time.Second, RetryRatio: 2, RetryAmplification: 3, NonRetryableRatio: 0.5, LimiterRejectionRatio: 0.3, LatencyP99: 300 * time.Millisecond})},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if out, err := promtool(t, c.dir, "check", "rules", baseName(RecordingRulesFile), baseName(AlertingRulesFile)); err != nil {
				t.Fatalf("promtool check rules: %v\n%s", err, out)
			}
			out, err := promtool(t, c.dir, "test", "rules", baseName(RuleTestsFile))
			if err != nil {
				t.Fatalf("promtool test rules: %v\n%s", err, out)
			}
			if !strings.Contains(out, "SUCCESS") {
				t.Fatalf("promtool test rules did not report success:\n%s", out)
			}
		})
	}
}

// TestPromtoolCatchesWrongThresholds proves the unit tests can fail: the
// tests written for the default thresholds must fail against alerts
// generated with thresholds no input series reaches.
func TestPromtoolCatchesWrongThresholds(t *testing.T) {
	dir := writeRules(t, Config{})
	strict := generated(t, Config{RetryRatio: 10, RetryAmplification: 10, NonRetryableRatio: 0.99, LimiterRejectionRatio: 0.99, LatencyP99: 9 * time.Second, For: 10 * time.Minute})
	for _, f := range strict {
		if f.Path == AlertingRulesFile {
			if err := os.WriteFile(filepath.Join(dir, baseName(f.Path)), f.Data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	out, err := promtool(t, dir, "test", "rules", baseName(RuleTestsFile))
	if err == nil {
		t.Fatalf("promtool test rules passed against wrong thresholds:\n%s", out)
	}
	for _, a := range []string{alertRetryStorm, alertAmplification, alertNonRetryable, alertHighLatency, alertBudgetExhausted, alertLimiter, alertFaultInjection} {
		if !strings.Contains(out, a) {
			t.Errorf("promtool output does not mention %s failing:\n%s", a, out)
		}
	}
}

// TestWrapperBoardsAreScoped: every panel query of a wrapper dashboard is
// restricted to that wrapper's series (its scope label non-empty, directly
// or through a join), and the dashboards group by the wrapper attributes
// that the name table lists on the attempt-level
// instruments.
func TestWrapperBoardsAreScoped(t *testing.T) {
	g, err := newGenerator(Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		uid    string
		scope  string
		groups [][]string // each must be the grouping of some panel query
	}{
		{uidHTTP, telemetry.AttrHTTPMethod, [][]string{
			{telemetry.AttrServerAddress, telemetry.AttrHTTPRoute},
			{telemetry.AttrServerAddress, telemetry.AttrHTTPRoute, telemetry.AttrHTTPStatusCode},
		}},
		{uidGRPC, telemetry.AttrRPCMethod, [][]string{
			{telemetry.AttrRPCMethod},
			{telemetry.AttrRPCMethod, telemetry.AttrRPCStatusCode},
		}},
		{uidSQL, telemetry.AttrDBSystem, [][]string{
			{telemetry.AttrDBOperation, telemetry.AttrDBSystem},
		}},
	} {
		t.Run(tc.uid, func(t *testing.T) {
			var exprs []string
			for _, bd := range g.boards() {
				if bd.uid != tc.uid {
					continue
				}
				for _, r := range bd.rows {
					for _, p := range r.panels {
						for _, tg := range p.targets {
							exprs = append(exprs, tg.expr)
							if !strings.Contains(tg.expr, telemetry.PromLabel(tc.scope)+`!=""`) {
								t.Errorf("panel %q is not scoped to the wrapper's series: %s", p.title, tg.expr)
							}
						}
					}
				}
			}
			if len(exprs) == 0 {
				t.Fatal("no such dashboard")
			}
			for _, grp := range tc.groups {
				for _, a := range grp {
					if !has(telemetry.AttemptDuration, a) || !has(telemetry.Events, a) {
						t.Errorf("the name table does not list %s on the attempt-level instruments", a)
					}
				}
				want := "sum " + by(promLabels(grp)...) + " "
				found := false
				for _, e := range exprs {
					found = found || strings.HasPrefix(e, want)
				}
				if !found {
					t.Errorf("no panel groups %s", want)
				}
			}
		})
	}
}

// TestAmplificationPanels: the overview and every wrapper board have a
// retry amplification panel (attempts over calls) whose red line is the
// alert's threshold, which follows Config.RetryAmplification.
func TestAmplificationPanels(t *testing.T) {
	const thr = 3.5
	g, err := newGenerator(Config{RetryAmplification: thr})
	if err != nil {
		t.Fatal(err)
	}
	for _, bd := range g.boards() {
		found := 0
		for _, r := range bd.rows {
			for _, p := range r.panels {
				if !strings.HasPrefix(p.title, "Retry amplification") {
					continue
				}
				found++
				if len(p.thresholds) != 2 || p.thresholds[1].value == nil || *p.thresholds[1].value != thr {
					t.Errorf("%s / %s: thresholds %v, want a red line at %g", bd.uid, p.title, p.thresholds, thr)
				}
				if e := p.targets[0].expr; !strings.Contains(e, series(telemetry.AttemptDuration, "_count")) || !strings.Contains(e, ") / sum by") {
					t.Errorf("%s / %s: not attempts over calls: %s", bd.uid, p.title, e)
				}
			}
		}
		if found != 1 {
			t.Errorf("%s: %d retry amplification panels, want 1", bd.uid, found)
		}
	}
	for _, r := range g.alerts().rules {
		if r.alert == alertAmplification && !strings.HasSuffix(r.expr, " > 3.5") {
			t.Errorf("%s: %s does not use the configured threshold", r.alert, r.expr)
		}
	}
}

// TestLatencyPanelsShowExemplars: every histogram_quantile panel asks for
// the exemplars of exactly one of its queries, the p99, so that each
// exemplar (redressprom's trace_id) is drawn once; no other query asks.
func TestLatencyPanelsShowExemplars(t *testing.T) {
	for _, f := range generated(t, Config{}) {
		if !strings.HasSuffix(f.Path, ".json") {
			continue
		}
		t.Run(f.Path, func(t *testing.T) {
			d := decode(t, f.Data)
			latency := 0
			for _, pr := range d.Panels {
				p := pr.Panel
				if p == nil {
					continue
				}
				var with []string
				quantile := false
				for _, tg := range p.Targets {
					q := tg.(*prometheus.Dataquery)
					if strings.HasPrefix(q.Expr, "histogram_quantile(") {
						quantile = true
					}
					if q.Exemplar != nil && *q.Exemplar {
						with = append(with, q.Expr)
					}
				}
				switch {
				case quantile:
					latency++
					if len(with) != 1 || !strings.HasPrefix(with[0], "histogram_quantile("+exemplarQuantile+",") {
						t.Errorf("%q: exemplars on %q, want on the p99 query only", *p.Title, with)
					}
					if !strings.Contains(*p.Description, "exemplar") {
						t.Errorf("%q: the description does not explain the exemplars", *p.Title)
					}
				case len(with) > 0:
					t.Errorf("%q: exemplars on %q, which is no latency query", *p.Title, with)
				}
			}
			if latency == 0 {
				t.Error("no latency panel")
			}
		})
	}
}
