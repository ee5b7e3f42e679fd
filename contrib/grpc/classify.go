package redressgrpc

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/redress-go/redress/core"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// PushbackKey is the trailer in which a server tells the client when to
// retry, in milliseconds (gRFC A6). A negative or malformed value asks the
// client not to retry at all; a value above Config.MaxPushback (even one
// too large for an int64) is capped.
const PushbackKey = "grpc-retry-pushback-ms"

// PreviousAttemptsKey is the request metadata that tells the server how
// many attempts of this call came before (gRFC A6). The interceptors set it
// on every retry.
const PreviousAttemptsKey = "grpc-previous-rpc-attempts"

// codeClass is the default class of each status code, indexed by code.
var codeClass = [...]core.Class{
	codes.OK:                 core.ClassUnknown,
	codes.Canceled:           core.ClassPermanent,
	codes.Unknown:            core.ClassUnknown,
	codes.InvalidArgument:    core.ClassPermanent,
	codes.DeadlineExceeded:   core.ClassTransient,
	codes.NotFound:           core.ClassPermanent,
	codes.AlreadyExists:      core.ClassUnknown,
	codes.PermissionDenied:   core.ClassPermission,
	codes.ResourceExhausted:  core.ClassRateLimit,
	codes.FailedPrecondition: core.ClassPermanent,
	codes.Aborted:            core.ClassUnknown,
	codes.OutOfRange:         core.ClassPermanent,
	codes.Unimplemented:      core.ClassUnknown,
	codes.Internal:           core.ClassServerError,
	codes.Unavailable:        core.ClassTransient,
	codes.DataLoss:           core.ClassServerError,
	codes.Unauthenticated:    core.ClassAuth,
}

// codeNames are the status code names used in labels (rpc.response.status_code).
var codeNames = [...]string{
	"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED",
	"NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED",
	"FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED",
	"INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
}

// codeReasons are the classification reasons ("grpc_unavailable").
var codeReasons [len(codeNames)]string

func init() {
	for i, n := range codeNames {
		b := []byte("grpc_" + n)
		for j, c := range b {
			if c >= 'A' && c <= 'Z' {
				b[j] = c + 'a' - 'A'
			}
		}
		codeReasons[i] = string(b)
	}
}

// CodeName returns the canonical name of c ("UNAVAILABLE"), as the
// rpc.response.status_code label carries it. An out-of-range code is "UNKNOWN".
func CodeName(c codes.Code) string {
	if int(c) < len(codeNames) {
		return codeNames[c]
	}
	return "UNKNOWN"
}

// ClassifyCode maps a gRPC status code to its classification:
//
//   - RESOURCE_EXHAUSTED: rate limit;
//   - UNAVAILABLE, DEADLINE_EXCEEDED: transient (a call stops instead,
//     as the caller's failure, when its own deadline has passed or is
//     within core.DeadlineSlack);
//   - UNAUTHENTICATED: auth; PERMISSION_DENIED: permission;
//   - INVALID_ARGUMENT, FAILED_PRECONDITION, OUT_OF_RANGE, NOT_FOUND:
//     permanent;
//   - INTERNAL, DATA_LOSS: server error;
//   - CANCELLED: permanent (the caller's own cancellation never reaches a
//     classifier: the call stops with core.StopCanceled; a CANCELLED status
//     from the server is not retried);
//   - any other code (UNKNOWN, ALREADY_EXISTS, ABORTED, UNIMPLEMENTED, and
//     OK, which is no failure): unknown. The policy's
//     RetryConfig.MaxUnknownAttempts bounds their retries; the default
//     policy (DefaultPolicyConfig) sets it to 1, so they are not retried.
//     With MaxUnknownAttempts 0 (core's default, no cap of its own) only
//     MaxAttempts bounds them.
//
// The reason is "grpc_" and the lower-case code name ("grpc_unavailable").
func ClassifyCode(c codes.Code) core.Classification {
	if int(c) >= len(codeClass) {
		return core.Classification{Class: core.ClassUnknown, Reason: "grpc_unknown"}
	}
	return core.Classification{Class: codeClass[c], Reason: codeReasons[c]}
}

// Classifier is a core.Classifier for errors of gRPC calls. An error that
// classifies itself (core.Classify and the other markers) keeps its
// classification; an error carrying a gRPC status (status.FromError) is
// classified by its code with ClassifyCode; anything else goes to
// core.DefaultClassifier. Use it directly, or call it from a classifier of
// your own to override some codes.
func Classifier(err error) core.Classification {
	var ce core.Classified
	if errors.As(err, &ce) {
		return ce.RedressClassification()
	}
	if st, ok := statusOf(err); ok {
		return ClassifyCode(st.Code())
	}
	return core.DefaultClassifier(err)
}

// grpcStatuser is implemented by gRPC status errors.
type grpcStatuser interface{ GRPCStatus() *status.Status }

// statusOf returns the gRPC status that err carries, unchanged (unlike
// status.FromError, which rewrites the message of a wrapped status).
func statusOf(err error) (*status.Status, bool) {
	var gs grpcStatuser
	if errors.As(err, &gs) {
		if st := gs.GRPCStatus(); st != nil {
			return st, true
		}
	}
	return nil, false
}

// pushback is what a server's grpc-retry-pushback-ms trailer says.
type pushback struct {
	set   bool          // the trailer is present
	stop  bool          // negative, malformed or repeated: do not retry
	delay time.Duration // otherwise, the delay asked for
}

// maxPushbackDelay is the longest pushback a time.Duration holds, in whole
// milliseconds: a larger value saturates to it (and the cap applies).
const maxPushbackDelay = time.Duration(1<<63-1) / time.Millisecond * time.Millisecond

// parsePushback reads the pushback trailer of md, as grpc-go does: one
// non-negative integer is a delay in milliseconds; anything else (a
// negative value, a malformed one, several values) means do not retry.
// Unlike grpc-go, a non-negative integer too large for an int64 is a delay
// too (saturated, so the cap applies): a hint above the cap is capped,
// never taken for "do not retry".
func parsePushback(md metadata.MD) pushback {
	v := md[PushbackKey]
	switch len(v) {
	case 0:
		return pushback{}
	case 1:
		ms, err := strconv.ParseInt(v[0], 10, 64)
		if err != nil && errors.Is(err, strconv.ErrRange) && nonNegativeInteger(v[0]) {
			// ParseInt reports an overflow before it looks at the rest of
			// the value: only digits make a huge delay.
			ms, err = math.MaxInt64, nil
		}
		if err != nil || ms < 0 {
			return pushback{set: true, stop: true}
		}
		if ms > int64(maxPushbackDelay/time.Millisecond) {
			return pushback{set: true, delay: maxPushbackDelay}
		}
		return pushback{set: true, delay: time.Duration(ms) * time.Millisecond}
	}
	return pushback{set: true, stop: true}
}

// nonNegativeInteger reports whether s is a run of ASCII digits, with an
// optional leading '+' (what strconv.ParseInt accepts as non-negative).
func nonNegativeInteger(s string) bool {
	s = strings.TrimPrefix(s, "+")
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
