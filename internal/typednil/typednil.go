// Package typednil finds typed nils: interface values that are not nil
// themselves but hold a nil pointer, function, map, channel, slice or
// interface (a nil *http.Transport given as an http.RoundTripper). Calling
// a method on one panics later; constructors reject them up front.
package typednil

import "reflect"

// Is reports whether v is a non-nil interface holding a nil value.
func Is(v any) bool {
	if v == nil {
		return false
	}
	switch rv := reflect.ValueOf(v); rv.Kind() {
	case reflect.Pointer, reflect.Func, reflect.Map, reflect.Chan, reflect.Slice, reflect.Interface, reflect.UnsafePointer:
		return rv.IsNil()
	}
	return false
}
