package typednil_test

import (
	"io"
	"net/http"
	"testing"

	"github.com/redress-go/redress/internal/typednil"
)

func TestIs(t *testing.T) {
	var nilTransport *http.Transport
	var nilFunc http.HandlerFunc
	var nilMap map[string]int
	for _, tc := range []struct {
		name string
		v    any
		want bool
	}{
		{"nil", nil, false},
		{"nil pointer in interface", http.RoundTripper(nilTransport), true},
		{"nil func", nilFunc, true},
		{"nil map", nilMap, true},
		{"value", 3, false},
		{"non-nil pointer", &http.Transport{}, false},
		{"non-nil func", http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), false},
		{"struct value", struct{}{}, false},
		{"interface value", io.Discard, false},
	} {
		if got := typednil.Is(tc.v); got != tc.want {
			t.Errorf("%s: Is = %v, want %v", tc.name, got, tc.want)
		}
	}
}
