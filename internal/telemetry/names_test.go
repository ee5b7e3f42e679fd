package telemetry

import (
	"reflect"
	"testing"

	"github.com/redress-go/redress/core"
)

// HasWrapper must agree with WrapperOf: one label set, then each field of
// Labels set alone.
func TestHasWrapperAgreesWithWrapperOf(t *testing.T) {
	check := func(name string, l core.Labels) {
		t.Helper()
		if got, want := HasWrapper(&l), WrapperOf(&l) != (Wrapper{}); got != want {
			t.Errorf("%s: HasWrapper = %v, WrapperOf says %v", name, got, want)
		}
	}
	check("zero", core.Labels{})
	typ := reflect.TypeOf(core.Labels{})
	for i := range typ.NumField() {
		var l core.Labels
		f := reflect.ValueOf(&l).Elem().Field(i)
		switch f.Kind() {
		case reflect.String:
			f.SetString("x")
		case reflect.Int:
			f.SetInt(200)
		default:
			t.Fatalf("Labels.%s: kind %s not covered by this test", typ.Field(i).Name, f.Kind())
		}
		check(typ.Field(i).Name, l)
	}
}
