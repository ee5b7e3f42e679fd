package redressotel

import (
	"reflect"
	"testing"

	"github.com/redress-go/redress/core"
)

// noSpanLabels reads core.Labels field by field: every field but the
// response status must make it false, so that a field added to core.Labels
// cannot be mistaken for an empty request label set.
func TestNoSpanLabelsReadsEveryRequestLabel(t *testing.T) {
	if !noSpanLabels(&core.Labels{StatusCode: 503, RPCStatusCode: "UNAVAILABLE"}) {
		t.Fatal("response status counted as a request label")
	}
	typ := reflect.TypeFor[core.Labels]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		if f.Name == "StatusCode" || f.Name == "RPCStatusCode" {
			continue
		}
		var l core.Labels
		v := reflect.ValueOf(&l).Elem().Field(i)
		switch v.Kind() {
		case reflect.String:
			v.SetString("x")
		case reflect.Int:
			v.SetInt(1)
		default:
			t.Fatalf("core.Labels.%s: unexpected kind %s", f.Name, v.Kind())
		}
		if noSpanLabels(&l) {
			t.Errorf("core.Labels.%s is not read", f.Name)
		}
	}
}
