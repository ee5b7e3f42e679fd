package redresshttp

import (
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"
)

// parseRetryAfter reads delay-seconds and HTTP-dates, caps them at max and
// treats a value too large for any integer type as "at least the cap": a
// hint above the cap is capped, never refused.
func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	date := func(d time.Duration) string { return now.Add(d).Format(http.TimeFormat) }
	const max = 5 * time.Second
	cases := []struct {
		name  string
		value string
		date  string // the Date header, "" for none
		max   time.Duration
		want  time.Duration
	}{
		{"absent", "", "", max, 0},
		{"seconds", "3", "", max, 3 * time.Second},
		{"seconds with spaces", " 2 ", "", max, 2 * time.Second},
		{"zero", "0", "", max, 0},
		{"negative", "-3", "", max, 0},
		{"at the cap", "5", "", max, max},
		{"above the cap", "6", "", max, max},
		{"far above the cap", "86400", "", max, max},
		{"max int64", "9223372036854775807", "", max, max},
		{"overflows int64", "99999999999999999999", "", max, max},
		{"overflows with leading zeros", "000099999999999999999999999999", "", max, max},
		{"negative overflow", "-99999999999999999999", "", max, 0},
		{"sub-second cap", "1", "", 500 * time.Millisecond, 500 * time.Millisecond},
		{"huge cap", "99999999999999999999", "", 1<<63 - 1, 1<<63 - 1},
		{"huge cap, seconds", "7", "", 1<<63 - 1, 7 * time.Second},
		{"date", date(4 * time.Second), "", max, 4 * time.Second},
		{"date from the Date header", date(10 * time.Second), date(8 * time.Second), max, 2 * time.Second},
		{"date above the cap", date(time.Hour), "", max, max},
		{"date far in the future", "Fri, 31 Dec 9999 23:59:59 GMT", "", max, max},
		{"date past", date(-time.Minute), "", max, 0},
		{"malformed", "soon", "", max, 0},
		{"fraction", "1.5", "", max, 0},
		{"digits then junk", "99999999999999999999x", "", max, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			if tc.value != "" {
				h.Set("Retry-After", tc.value)
			}
			if tc.date != "" {
				h.Set("Date", tc.date)
			}
			if got := parseRetryAfter(h, func() time.Time { return now }, tc.max); got != tc.want {
				t.Errorf("parseRetryAfter(%q) = %v, want %v", tc.value, got, tc.want)
			}
		})
	}
}

// FuzzRetryAfterHeader: whatever the header says, the delay is within
// [0, max]; delay-seconds (digits only, any length) give exactly
// min(value, max).
func FuzzRetryAfterHeader(f *testing.F) {
	for _, s := range []string{"0", "1", "5", "6", "120", "9223372036854775807", "9223372036854775808",
		"99999999999999999999", "-1", "+3", " 7", "1e3", "Fri, 31 Dec 9999 23:59:59 GMT",
		"Sun, 06 Nov 1994 08:49:37 GMT", "Sat, 01 Mar 2025 12:00:04 GMT", ""} {
		f.Add(s, int64(5*time.Second))
	}
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string, maxNs int64) {
		if maxNs <= 0 {
			maxNs = int64(DefaultMaxRetryAfter) // validate never passes a cap <= 0
		}
		max := time.Duration(maxNs)
		h := http.Header{"Retry-After": {v}}
		got := parseRetryAfter(h, func() time.Time { return now }, max)
		if got < 0 || got > max {
			t.Fatalf("parseRetryAfter(%q, %v) = %v, outside [0, max]", v, max, got)
		}
		digits := strings.TrimSpace(v)
		if digits == "" || strings.Trim(digits, "0123456789") != "" {
			return
		}
		secs, _ := new(big.Int).SetString(digits, 10)
		want := new(big.Int).Mul(secs, big.NewInt(int64(time.Second)))
		if want.Cmp(big.NewInt(maxNs)) > 0 {
			want.SetInt64(maxNs)
		}
		if got != time.Duration(want.Int64()) {
			t.Fatalf("parseRetryAfter(%q, %v) = %v, want %v", v, max, got, time.Duration(want.Int64()))
		}
	})
}
