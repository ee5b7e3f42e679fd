package telemetry

import (
	"slices"
	"testing"

	"github.com/redress-go/redress/core"
)

// TestNamesCoversTheTable: Names has a row for every instrument, attribute
// key, event kind, stop reason and class, in the declared order, with the
// Prometheus labels PromLabel gives.
func TestNamesCoversTheTable(t *testing.T) {
	n := Names()
	if len(n.Metrics) != len(Metrics) {
		t.Fatalf("%d metric rows, %d metrics", len(n.Metrics), len(Metrics))
	}
	for i, m := range Metrics {
		r := n.Metrics[i]
		if r.Name != m.Name || r.Prom != m.Prom || r.Unit != m.Unit || r.Kind != m.Kind.String() || !slices.Equal(r.Attrs, m.Attrs) {
			t.Errorf("row %d = %+v, metric %+v", i, r, m)
		}
		for j, a := range m.Attrs {
			if r.Labels[j] != PromLabel(a) {
				t.Errorf("%s: label %d = %q, want %q", m.Name, j, r.Labels[j], PromLabel(a))
			}
		}
		wantSeries := 1
		if m.Kind == Histogram {
			wantSeries = 3
		}
		if len(r.Series) != wantSeries || r.Series[0][:len(m.Prom)] != m.Prom {
			t.Errorf("%s: series %v", m.Name, r.Series)
		}
		if got := len(r.OwnAttrs()) + len(WrapperAttrs)*btoi(r.Wrapper); got != len(m.Attrs) {
			t.Errorf("%s: OwnAttrs %v, wrapper %v", m.Name, r.OwnAttrs(), r.Wrapper)
		}
	}
	if !n.Metrics[1].Wrapper || n.Metrics[0].Wrapper {
		t.Errorf("wrapper flags: attempt duration %v, operation duration %v", n.Metrics[1].Wrapper, n.Metrics[0].Wrapper)
	}
	for _, m := range Metrics {
		for _, a := range m.Attrs {
			i := slices.IndexFunc(n.Attributes, func(r AttrRow) bool { return r.Attr == a })
			if i < 0 || !slices.Contains(n.Attributes[i].Metrics, m.Name) {
				t.Errorf("attribute %s of %s: not in the attribute rows", a, m.Name)
			}
		}
	}
	kinds := core.EventKinds()
	if len(n.Events) != len(kinds) {
		t.Fatalf("%d event rows, %d kinds", len(n.Events), len(kinds))
	}
	for i, k := range kinds {
		if e := n.Events[i]; e.Name != k.String() || e.Terminal != k.Terminal() || e.Rejection != k.Rejection() || e.Counted != DefaultEvents.Has(k) {
			t.Errorf("event row %d = %+v, kind %s", i, e, k)
		}
	}
	stops := core.StopReasons()
	if len(n.StopReasons) != len(stops) {
		t.Fatalf("%d stop rows, %d reasons", len(n.StopReasons), len(stops))
	}
	for i, r := range stops {
		if s := n.StopReasons[i]; s.Name != r.String() || s.Event != r.Event().String() {
			t.Errorf("stop row %d = %+v, reason %s", i, s, r)
		}
	}
	if len(n.Classes) != len(core.Classes()) {
		t.Errorf("%d class rows, %d classes", len(n.Classes), len(core.Classes()))
	}
	if want := []string{"success", "success_after_retry", "failure", "rejected"}; !slices.Equal(n.Outcomes, want) {
		t.Errorf("outcomes %v, want %v", n.Outcomes, want)
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
