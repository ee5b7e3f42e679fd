package dashboards

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/statetimeline"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"

	"github.com/redress-go/redress/core"
	"github.com/redress-go/redress/internal/telemetry"
)

func strp(s string) *string { return &s }

var dsRef = common.DataSourceRef{Type: strp("prometheus"), Uid: strp("${" + varDatasource + "}")}

// variables returns the dashboard's template variables: data source, job,
// policy and operation, each narrowing the next.
func (g *generator) variables() []cog.Builder[dashboard.VariableModel] {
	calls := series(telemetry.OperationDuration, "_count")
	q := func(name, label, query string) cog.Builder[dashboard.VariableModel] {
		return dashboard.NewQueryVariableBuilder(name).
			Label(label).
			Datasource(dsRef).
			Query(dashboard.StringOrMap{String: strp(query)}).
			Definition(query).
			Multi(true).
			IncludeAll(true).
			AllValue(".*").
			Refresh(dashboard.VariableRefreshOnTimeRangeChanged).
			Sort(dashboard.VariableSortAlphabeticalAsc)
	}
	sel := func(ms ...string) string {
		if m := matchers(append(ms, g.cfg.Selector)...); m != "" {
			return "{" + m + "}"
		}
		return ""
	}
	return []cog.Builder[dashboard.VariableModel]{
		dashboard.NewDatasourceVariableBuilder(varDatasource).Label("Data source").Type("prometheus"),
		q(varJob, "Job", fmt.Sprintf("label_values(%s%s, job)", calls, sel())),
		q(varPolicy, "Policy", fmt.Sprintf("label_values(%s%s, %s)", calls, sel(`job=~"$`+varJob+`"`), lPolicy)),
		q(varOperation, "Operation", fmt.Sprintf("label_values(%s%s, %s)", calls,
			sel(`job=~"$`+varJob+`"`, lPolicy+`=~"$`+varPolicy+`"`), lOperation)),
	}
}

func legend() *common.VizLegendOptionsBuilder {
	return common.NewVizLegendOptionsBuilder().
		ShowLegend(true).
		DisplayMode(common.LegendDisplayModeTable).
		Placement(common.LegendPlacementBottom).
		Calcs([]string{"mean", "max", "lastNotNull"})
}

func tooltip() *common.VizTooltipOptionsBuilder {
	return common.NewVizTooltipOptionsBuilder().Mode(common.TooltipDisplayModeMulti).Sort(common.SortOrderDescending)
}

func thresholds(steps []step) *dashboard.ThresholdsConfigBuilder {
	if len(steps) == 0 {
		steps = []step{{color: "green"}}
	}
	ts := make([]dashboard.Threshold, len(steps))
	for i, s := range steps {
		ts[i] = dashboard.Threshold{Value: s.value, Color: s.color}
	}
	return dashboard.NewThresholdsConfigBuilder().Mode(dashboard.ThresholdsModeAbsolute).Steps(ts)
}

func queries(p panel) []cog.Builder[variants.Dataquery] {
	out := make([]cog.Builder[variants.Dataquery], len(p.targets))
	for i, t := range p.targets {
		b := prometheus.NewDataqueryBuilder().
			Datasource(dsRef).
			Expr(t.expr).
			LegendFormat(t.legend).
			RefId(string(rune('A' + i))).
			Range()
		if t.exemplar {
			b.Exemplar(true)
		}
		out[i] = b
	}
	return out
}

// breakerMappings turn the 0/1/2 breaker state encoding into names.
func breakerMappings() []dashboard.ValueMapping {
	res := func(s core.BreakerState, color string, idx int32) dashboard.ValueMappingResult {
		return dashboard.ValueMappingResult{Text: strp(s.String()), Color: strp(color), Index: &idx}
	}
	return []dashboard.ValueMapping{{ValueMap: &dashboard.ValueMap{
		Type: dashboard.MappingTypeValueToText,
		Options: map[string]dashboard.ValueMappingResult{
			"0": res(core.StateClosed, "green", 0),
			"1": res(core.StateHalfOpen, "yellow", 1),
			"2": res(core.StateOpen, "red", 2),
		},
	}}}
}

func (g *generator) panelBuilder(p panel, id uint32) cog.Builder[dashboard.Panel] {
	switch p.kind {
	case kindStat:
		b := stat.NewPanelBuilder().Id(id).Title(p.title).Description(p.desc).
			Datasource(dsRef).Targets(queries(p)).Unit(p.unit).Span(p.width).Height(8).
			Thresholds(thresholds(p.thresholds)).
			ColorMode(common.BigValueColorModeValue).GraphMode(common.BigValueGraphModeArea).
			ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"}))
		if p.min != nil {
			b.Min(*p.min)
		}
		if p.max != nil {
			b.Max(*p.max)
		}
		return b
	case kindStateTimeline:
		return statetimeline.NewPanelBuilder().Id(id).Title(p.title).Description(p.desc).
			Datasource(dsRef).Targets(queries(p)).Span(p.width).Height(7).
			Mappings(breakerMappings()).
			Thresholds(thresholds(nil)).
			ColorScheme(dashboard.NewFieldColorBuilder().Mode(dashboard.FieldColorModeIdThresholds)).
			MergeValues(true).ShowValue(common.VisibilityModeAuto).
			Legend(common.NewVizLegendOptionsBuilder().ShowLegend(true).DisplayMode(common.LegendDisplayModeList).Placement(common.LegendPlacementBottom)).
			Tooltip(tooltip())
	}
	b := timeseries.NewPanelBuilder().Id(id).Title(p.title).Description(p.desc).
		Datasource(dsRef).Targets(queries(p)).Unit(p.unit).Span(p.width).Height(8).
		Thresholds(thresholds(p.thresholds)).
		Legend(legend()).Tooltip(tooltip()).
		FillOpacity(10).LineWidth(1).ShowPoints(common.VisibilityModeNever)
	if len(p.thresholds) > 1 {
		b.ThresholdsStyle(common.NewGraphThresholdsStyleConfigBuilder().Mode(common.GraphThresholdsStyleModeLine))
	}
	if p.kind == kindBars {
		b.DrawStyle(common.GraphDrawStyleBars).FillOpacity(80)
	}
	if p.stacked {
		b.Stacking(common.NewStackingConfigBuilder().Mode(common.StackingModeNormal))
	}
	if p.min != nil {
		b.Min(*p.min)
	}
	if p.max != nil {
		b.Max(*p.max)
	}
	return b
}

// build turns a board into a Grafana dashboard through the SDK's builders.
func (g *generator) build(bd board) (dashboard.Dashboard, error) {
	b := dashboard.NewDashboardBuilder(bd.title).
		Uid(bd.uid).
		Description(bd.desc).
		Tags(bd.tags).
		Editable().
		Tooltip(dashboard.DashboardCursorSyncCrosshair).
		Refresh("30s").
		Time("now-1h", "now").
		Timezone(common.TimeZoneBrowser).
		Variables(g.variables()).
		Link(dashboard.NewDashboardLinkBuilder("redress dashboards").
			Type(dashboard.DashboardLinkTypeDashboards).
			Tags(bd.tags).
			AsDropdown(true).
			IncludeVars(true).
			KeepTime(true))
	id := uint32(1)
	for _, r := range bd.rows {
		b.WithRow(dashboard.NewRowBuilder(r.title).Id(id))
		id++
		for _, p := range r.panels {
			b.WithPanel(g.panelBuilder(p, id))
			id++
		}
	}
	return b.Build()
}

// marshalDashboard encodes d as the committed files are: indented, with a
// final newline, no HTML escaping (PromQL has '<' and '>').
func marshalDashboard(d dashboard.Dashboard) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(d); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
