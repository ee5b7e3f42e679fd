package core

import "strings"

// Class is the kind of a failure. The policy dispatches on it: each class can
// have its own backoff strategy and attempt cap, and the circuit breaker trips
// only on the classes that signal an unhealthy downstream.
//
// The zero value is ClassUnknown.
type Class uint8

// The failure classes, from the least to the most specific about the cause.
const (
	// ClassUnknown is a failure nothing recognised. It is retried, bounded
	// by PolicyConfig.Retry.MaxUnknownAttempts.
	ClassUnknown Class = iota
	// ClassTransient is a passing fault: a timeout, a reset connection.
	ClassTransient
	// ClassServerError is a fault of the downstream (HTTP 5xx, gRPC INTERNAL).
	ClassServerError
	// ClassRateLimit is the downstream asking the caller to slow down.
	ClassRateLimit
	// ClassConcurrency is a conflict with concurrent work (HTTP 409, a
	// serialization failure, a deadlock victim): retrying may succeed.
	ClassConcurrency
	// ClassPermanent is a request that will fail again unchanged (HTTP 400,
	// 404, 422). Never retried.
	ClassPermanent
	// ClassPermission is a caller that is known but not allowed. Never retried.
	ClassPermission
	// ClassAuth is a caller that is not authenticated. Never retried.
	ClassAuth

	numClasses = int(ClassAuth) + 1
)

var classNames = [numClasses]string{
	ClassUnknown:     "unknown",
	ClassTransient:   "transient",
	ClassServerError: "server_error",
	ClassRateLimit:   "rate_limit",
	ClassConcurrency: "concurrency",
	ClassPermanent:   "permanent",
	ClassPermission:  "permission",
	ClassAuth:        "auth",
}

// String returns the stable, lower-case name of the class used in telemetry
// ("rate_limit", "server_error", ...).
func (c Class) String() string {
	if int(c) < numClasses {
		return classNames[c]
	}
	return "invalid"
}

// Retryable reports whether a failure of this class may be retried at all.
// Auth, permission and permanent failures never are.
func (c Class) Retryable() bool {
	return c < ClassPermanent
}

// Valid reports whether c is one of the declared classes.
func (c Class) Valid() bool { return int(c) < numClasses }

// Classes returns every declared class, in declaration order.
func Classes() []Class {
	out := make([]Class, numClasses)
	for i := range out {
		out[i] = Class(i)
	}
	return out
}

// ParseClass returns the class with the given String name.
func ParseClass(s string) (Class, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	for i, n := range classNames {
		if n == s {
			return Class(i), true
		}
	}
	return 0, false
}

// ClassSet is a set of classes, as a bit mask. The zero value is empty.
type ClassSet uint16

// SetOf returns the set holding the given classes.
func SetOf(classes ...Class) ClassSet {
	var s ClassSet
	for _, c := range classes {
		s |= 1 << c
	}
	return s
}

// Has reports whether c is in the set.
func (s ClassSet) Has(c Class) bool { return s&(1<<c) != 0 }

// String lists the classes in the set, comma separated.
func (s ClassSet) String() string {
	var b strings.Builder
	for i := 0; i < numClasses; i++ {
		if s.Has(Class(i)) {
			if b.Len() > 0 {
				b.WriteByte(',')
			}
			b.WriteString(classNames[i])
		}
	}
	return b.String()
}
