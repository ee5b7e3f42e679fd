package dashboards

import (
	"slices"
	"strings"

	"github.com/redress-go/redress/internal/telemetry"
)

// Prometheus label names, derived from the telemetry name table exactly as
// the OTel Prometheus exporter derives them.
var (
	lPolicy    = telemetry.PromLabel(telemetry.AttrPolicy)
	lOperation = telemetry.PromLabel(telemetry.AttrOperation)
	lEvent     = telemetry.PromLabel(telemetry.AttrEvent)
	lOutcome   = telemetry.PromLabel(telemetry.AttrOutcome)
	lStop      = telemetry.PromLabel(telemetry.AttrStopReason)
	lClass     = telemetry.PromLabel(telemetry.AttrErrorType)
	lState     = telemetry.PromLabel(telemetry.AttrState)
	lBreaker   = telemetry.PromLabel(telemetry.AttrBreaker)
)

// The Grafana template variables every dashboard declares.
const (
	varDatasource = "datasource"
	varJob        = "job"
	varPolicy     = "policy"
	varOperation  = "operation"
)

// series returns the name of a metric's series: the family name, plus a
// suffix for histograms ("_bucket", "_count", "_sum").
func series(m telemetry.Metric, suffix string) string { return m.Prom + suffix }

// has reports whether the table says m carries the attribute attr.
func has(m telemetry.Metric, attr string) bool { return slices.Contains(m.Attrs, attr) }

// matchers joins label matchers into a selector body, skipping empty ones.
func matchers(ms ...string) string {
	out := ms[:0:0]
	for _, m := range ms {
		if m != "" {
			out = append(out, m)
		}
	}
	return strings.Join(out, ", ")
}

// panelSel is the selector of a panel query on m: the dashboard variables
// for the labels m carries, the configured selector, and extra matchers.
func (g *generator) panelSel(m telemetry.Metric, extra ...string) string {
	ms := []string{`job=~"$` + varJob + `"`}
	if has(m, telemetry.AttrPolicy) {
		ms = append(ms, lPolicy+`=~"$`+varPolicy+`"`)
	}
	if has(m, telemetry.AttrOperation) {
		ms = append(ms, lOperation+`=~"$`+varOperation+`"`)
	}
	ms = append(ms, g.cfg.Selector)
	ms = append(ms, extra...)
	return "{" + matchers(ms...) + "}"
}

// ruleSel is the selector of a rule expression: the configured selector and
// extra matchers.
func (g *generator) ruleSel(extra ...string) string {
	m := matchers(append([]string{g.cfg.Selector}, extra...)...)
	if m == "" {
		return ""
	}
	return "{" + m + "}"
}

// by formats a "by (...)" clause.
func by(labels ...string) string { return "by (" + strings.Join(labels, ", ") + ")" }

// eq and re format label matchers.
func eq(label, value string) string { return label + `="` + value + `"` }
func re(label, value string) string { return label + `=~"` + value + `"` }
func ne(label, value string) string { return label + `!="` + value + `"` }

// Grafana's rate interval, used in every panel's rate().
const rateInterval = "$__rate_interval"
