package redressgrpc

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/redress-go/redress/core"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

func TestClassifyCode(t *testing.T) {
	want := map[codes.Code]core.Class{
		codes.ResourceExhausted:  core.ClassRateLimit,
		codes.Unavailable:        core.ClassTransient,
		codes.DeadlineExceeded:   core.ClassTransient,
		codes.Unauthenticated:    core.ClassAuth,
		codes.PermissionDenied:   core.ClassPermission,
		codes.InvalidArgument:    core.ClassPermanent,
		codes.FailedPrecondition: core.ClassPermanent,
		codes.OutOfRange:         core.ClassPermanent,
		codes.NotFound:           core.ClassPermanent,
		codes.Canceled:           core.ClassPermanent,
		codes.Internal:           core.ClassServerError,
		codes.DataLoss:           core.ClassServerError,
		codes.Unknown:            core.ClassUnknown,
		codes.AlreadyExists:      core.ClassUnknown,
		codes.Aborted:            core.ClassUnknown,
		codes.Unimplemented:      core.ClassUnknown,
		codes.Code(99):           core.ClassUnknown,
	}
	for c, class := range want {
		t.Run(c.String(), func(t *testing.T) {
			got := ClassifyCode(c)
			if got.Class != class {
				t.Errorf("class %s, want %s", got.Class, class)
			}
			if got.Reason == "" || got.RetryAfter != 0 {
				t.Errorf("reason %q retry-after %v, want a reason and no hint", got.Reason, got.RetryAfter)
			}
		})
	}
	if got := ClassifyCode(codes.Unavailable).Reason; got != "grpc_unavailable" {
		t.Errorf("reason = %q, want grpc_unavailable", got)
	}
	if got := CodeName(codes.Canceled); got != "CANCELLED" {
		t.Errorf("CodeName(Canceled) = %q, want CANCELLED", got)
	}
}

func TestClassifier(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want core.Class
	}{
		{"status", status.Error(codes.Unavailable, "x"), core.ClassTransient},
		{"wrapped status", fmt.Errorf("call: %w", status.Error(codes.NotFound, "x")), core.ClassPermanent},
		{"marker wins", core.Transient(status.Error(codes.NotFound, "x")), core.ClassTransient},
		{"not a status", context.DeadlineExceeded, core.ClassTransient},
		{"plain error", errors.New("x"), core.ClassUnknown},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := Classifier(tc.err).Class; got != tc.want {
				t.Errorf("Classifier = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestParsePushback(t *testing.T) {
	cases := []struct {
		name string
		md   metadata.MD
		want pushback
	}{
		{"absent", metadata.MD{}, pushback{}},
		{"delay", metadata.Pairs(PushbackKey, "1500"), pushback{set: true, delay: 1500 * time.Millisecond}},
		{"zero", metadata.Pairs(PushbackKey, "0"), pushback{set: true}},
		{"negative", metadata.Pairs(PushbackKey, "-5"), pushback{set: true, stop: true}},
		{"malformed", metadata.Pairs(PushbackKey, "1s"), pushback{set: true, stop: true}},
		{"empty", metadata.Pairs(PushbackKey, ""), pushback{set: true, stop: true}},
		{"repeated", metadata.Pairs(PushbackKey, "1", PushbackKey, "2"), pushback{set: true, stop: true}},
		{"huge saturates", metadata.Pairs(PushbackKey, "9223372036854775807"), pushback{set: true, delay: maxPushbackDelay}},
		// Too large for an int64: still a delay (the cap applies), not a
		// malformed value that would stop the retries.
		{"overflow saturates", metadata.Pairs(PushbackKey, "99999999999999999999"), pushback{set: true, delay: maxPushbackDelay}},
		{"overflow with sign saturates", metadata.Pairs(PushbackKey, "+99999999999999999999"), pushback{set: true, delay: maxPushbackDelay}},
		{"negative overflow", metadata.Pairs(PushbackKey, "-99999999999999999999"), pushback{set: true, stop: true}},
		{"digits then junk", metadata.Pairs(PushbackKey, "99999999999999999999x"), pushback{set: true, stop: true}},
		{"spaces", metadata.Pairs(PushbackKey, " 5"), pushback{set: true, stop: true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := parsePushback(tc.md); got != tc.want {
				t.Errorf("parsePushback = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestSplitTarget(t *testing.T) {
	cases := []struct {
		in   string
		host string
		port int
	}{
		{"127.0.0.1:50051", "127.0.0.1", 50051},
		{"dns:///api.example.com:443", "api.example.com", 443},
		{"dns://8.8.8.8/api.example.com:443", "api.example.com", 443},
		{"passthrough:///[::1]:9000", "::1", 9000},
		{"unix:///tmp/grpc.sock", "/tmp/grpc.sock", 0},
		{"unix:relative.sock", "relative.sock", 0},
		{"api.example.com", "api.example.com", 0},
	}
	for _, tc := range cases {
		h, p := splitTarget(tc.in)
		if h != tc.host || p != tc.port {
			t.Errorf("splitTarget(%q) = %q %d, want %q %d", tc.in, h, p, tc.host, tc.port)
		}
	}
}

// FuzzRetryAfterPushback: whatever the trailer says, the capped delay is
// within [0, max]; a non-negative integer (any length, optional +) is a
// delay of exactly min(value, max), anything else stops the retries, as in
// gRFC A6 (a value too large for an int64 is a delay, capped).
func FuzzRetryAfterPushback(f *testing.F) {
	for _, s := range []string{"0", "1", "250", "5000", "+7", "-1", "-0", "1.5", "soon", "",
		"9223372036854775807", "9223372036854775808", "99999999999999999999", "-99999999999999999999", " 5"} {
		f.Add(s, int64(5*time.Second))
	}
	f.Fuzz(func(t *testing.T, v string, maxNs int64) {
		if maxNs <= 0 {
			maxNs = int64(DefaultMaxPushback) // validate never passes a cap <= 0
		}
		max := time.Duration(maxNs)
		pb := parsePushback(metadata.MD{PushbackKey: {v}})
		if !pb.set {
			t.Fatalf("parsePushback(%q): not set", v)
		}
		digits := strings.TrimPrefix(v, "+")
		if digits == "" || strings.Trim(digits, "0123456789") != "" {
			if !pb.stop && !(strings.HasPrefix(v, "-") && strings.Trim(v[1:], "0") == "") {
				t.Fatalf("parsePushback(%q) = %+v, want stop", v, pb)
			}
			return
		}
		if pb.stop {
			t.Fatalf("parsePushback(%q) = stop, want a delay", v)
		}
		got := min(pb.delay, max)
		ms, _ := new(big.Int).SetString(digits, 10)
		want := new(big.Int).Mul(ms, big.NewInt(int64(time.Millisecond)))
		if want.Cmp(big.NewInt(maxNs)) > 0 {
			want.SetInt64(maxNs)
		}
		if got < 0 || got != time.Duration(want.Int64()) {
			t.Fatalf("parsePushback(%q) capped at %v = %v, want %v", v, max, got, time.Duration(want.Int64()))
		}
	})
}
