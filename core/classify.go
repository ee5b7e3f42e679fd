package core

import (
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"syscall"
	"time"
)

// Classification is what a Classifier says of one failure.
type Classification struct {
	// Class is the kind of failure.
	Class Class
	// RetryAfter is the downstream's hint of when to retry (HTTP Retry-After,
	// gRPC pushback). Zero means no hint. RetryAfterOr honours it.
	RetryAfter time.Duration
	// Reason is a short, low-cardinality explanation ("status_503",
	// "connection_refused"). It may be empty. It is never an error message.
	Reason string
	// HasRetryAfter makes a zero RetryAfter a hint too ("retry now"): by
	// default a zero RetryAfter means no hint.
	HasRetryAfter bool
	// NoRetry stops the call after this failure whatever its class, with
	// StopNonRetryableClass, while the breaker and telemetry still see the
	// real class: for failures that are unsafe to retry (a request that
	// may have been applied, a stream already consumed, a server that
	// said not to retry). NoRetry(err) sets it.
	NoRetry bool
}

// Classifier maps a failure to its classification. It is called only with a
// non-nil error and must be safe for concurrent use.
type Classifier func(err error) Classification

// Classified is implemented by errors that know their own class. Both
// classifiers look for it anywhere in the error chain (errors.As), before any
// other rule.
type Classified interface {
	error
	// RedressClassification returns the error's class, reason and hint.
	RedressClassification() Classification
}

// StatusCoder is implemented by errors that carry an HTTP status code.
// DefaultClassifier and StrictClassifier map the code to a class.
type StatusCoder interface {
	// StatusCode returns the HTTP status code (e.g. 503).
	StatusCode() int
}

// RetryAfterer is implemented by errors that carry a retry hint.
type RetryAfterer interface {
	// RetryAfter returns how long the downstream asked callers to wait
	// (zero: no hint).
	RetryAfter() time.Duration
}

// classifiedError is the error the marker constructors return.
type classifiedError struct {
	err error
	c   Classification
}

func (e *classifiedError) Error() string {
	if e.err == nil {
		return "redress: " + e.c.Class.String()
	}
	return e.err.Error()
}
func (e *classifiedError) Unwrap() error                         { return e.err }
func (e *classifiedError) RedressClassification() Classification { return e.c }

// Classify marks err as a failure of the given classification. The result
// wraps err (errors.Is and errors.As reach it) and is understood by every
// classifier. Classify(nil, ...) returns nil.
func Classify(err error, c Classification) error {
	if err == nil {
		return nil
	}
	return &classifiedError{err: err, c: c}
}

// noRetryError is the error NoRetry returns.
type noRetryError struct{ err error }

func (e *noRetryError) Error() string { return e.err.Error() }
func (e *noRetryError) Unwrap() error { return e.err }

// NoRetry marks err so that the call stops after it without a retry,
// keeping the class the classifier gives err (the breaker counts it, and
// telemetry reports it, as what it is). The stop reason is
// StopNonRetryableClass. NoRetry(nil) returns nil.
func NoRetry(err error) error {
	if err == nil {
		return nil
	}
	return &noRetryError{err: err}
}

// IsNoRetry reports whether err was marked by NoRetry.
func IsNoRetry(err error) bool {
	_, ok := errors.AsType[*noRetryError](err)
	return ok
}

// notResendableError is the error NotResendable returns.
type notResendableError struct{ err error }

func (e *notResendableError) Error() string { return e.err.Error() }
func (e *notResendableError) Unwrap() error { return e.err }

// NotResendable marks err, the failure of an attempt that must not be sent
// again (a request that is not idempotent, a stream whose messages can no
// longer be replayed, a statement inside a transaction), so that the call
// stops after it with StopNotResendable, where a retry would otherwise have
// been made. The class the classifier gives err is kept (the breaker counts
// it, telemetry reports it); a failure that would not have been retried
// anyway stops with its own reason (StopNonRetryableClass, StopMaxAttempts,
// ...). NotResendable(nil) returns nil.
func NotResendable(err error) error {
	if err == nil {
		return nil
	}
	return &notResendableError{err: err}
}

// IsNotResendable reports whether err was marked by NotResendable.
func IsNotResendable(err error) bool {
	_, ok := errors.AsType[*notResendableError](err)
	return ok
}

// Permanent marks err as a permanent failure: it is never retried.
func Permanent(err error) error {
	return Classify(err, Classification{Class: ClassPermanent, Reason: "marked_permanent"})
}

// Transient marks err as a transient failure.
func Transient(err error) error {
	return Classify(err, Classification{Class: ClassTransient, Reason: "marked_transient"})
}

// ServerError marks err as a server error.
func ServerError(err error) error {
	return Classify(err, Classification{Class: ClassServerError, Reason: "marked_server_error"})
}

// Concurrency marks err as a concurrency conflict (retryable).
func Concurrency(err error) error {
	return Classify(err, Classification{Class: ClassConcurrency, Reason: "marked_concurrency"})
}

// RateLimited marks err as a rate-limit failure with an optional retry hint
// (zero for none).
func RateLimited(err error, retryAfter time.Duration) error {
	return Classify(err, Classification{Class: ClassRateLimit, RetryAfter: retryAfter, Reason: "marked_rate_limit"})
}

// StatusError is an error carrying an HTTP status code and an optional retry
// hint. Wrappers and users may return it so that the classifiers see the code.
type StatusError struct {
	// Code is the HTTP status code the classifiers map to a class.
	Code int
	// Hint is the retry hint (a Retry-After), zero for none.
	Hint time.Duration
	// Err is the underlying error, if any (Unwrap returns it).
	Err error
}

// Error implements error.
func (e *StatusError) Error() string {
	if e.Err != nil {
		return "status " + strconv.Itoa(e.Code) + ": " + e.Err.Error()
	}
	return "status " + strconv.Itoa(e.Code)
}

// Unwrap returns the wrapped error, if any.
func (e *StatusError) Unwrap() error { return e.Err }

// StatusCode implements StatusCoder.
func (e *StatusError) StatusCode() int { return e.Code }

// RetryAfter implements RetryAfterer.
func (e *StatusError) RetryAfter() time.Duration { return e.Hint }

// ClassifyStatus maps an HTTP status code to its classification: 401 auth,
// 403 permission, 400/404/405/410/422 permanent, 408 transient, 409
// concurrency, 429 rate limit, 501 permanent, other 5xx server error. A code
// below 400 is not a failure and yields ok == false, as does any other 4xx.
func ClassifyStatus(code int) (c Classification, ok bool) {
	switch {
	case code == 401:
		return Classification{Class: ClassAuth, Reason: "status_401"}, true
	case code == 403:
		return Classification{Class: ClassPermission, Reason: "status_403"}, true
	case code == 400 || code == 404 || code == 405 || code == 410 || code == 422:
		return Classification{Class: ClassPermanent, Reason: statusReason(code)}, true
	case code == 408:
		return Classification{Class: ClassTransient, Reason: "status_408"}, true
	case code == 409:
		return Classification{Class: ClassConcurrency, Reason: "status_409"}, true
	case code == 429:
		return Classification{Class: ClassRateLimit, Reason: "status_429"}, true
	case code == 501:
		return Classification{Class: ClassPermanent, Reason: "status_501"}, true
	case code >= 500 && code <= 599:
		return Classification{Class: ClassServerError, Reason: statusReason(code)}, true
	case code >= 400 && code <= 499:
		return Classification{Class: ClassPermanent, Reason: "status_4xx"}, true
	}
	return Classification{}, false
}

func statusReason(code int) string {
	switch code {
	case 400:
		return "status_400"
	case 404:
		return "status_404"
	case 405:
		return "status_405"
	case 410:
		return "status_410"
	case 422:
		return "status_422"
	case 500:
		return "status_500"
	case 502:
		return "status_502"
	case 503:
		return "status_503"
	case 504:
		return "status_504"
	}
	return "status_5xx"
}

// statusError and retryAfterError are the typed interfaces the
// classifiers look for, as errors.As targets.
type (
	statusError interface {
		error
		StatusCoder
	}
	retryAfterError interface {
		error
		RetryAfterer
	}
)

// defaultSentinels are DefaultClassifier's errors.Is rules, in their order
// of precedence: the first rule matched anywhere in the tree wins.
var defaultSentinels = [...]struct {
	target error
	c      Classification
}{
	{context.DeadlineExceeded, Classification{Class: ClassTransient, Reason: "timeout"}},
	{context.Canceled, Classification{Class: ClassTransient, Reason: "canceled"}},
	{syscall.ECONNREFUSED, Classification{Class: ClassTransient, Reason: "connection_refused"}},
	{syscall.ECONNRESET, Classification{Class: ClassTransient, Reason: "connection_reset"}},
	{syscall.ECONNABORTED, Classification{Class: ClassTransient, Reason: "connection_aborted"}},
	{syscall.EPIPE, Classification{Class: ClassTransient, Reason: "broken_pipe"}},
	{io.ErrUnexpectedEOF, Classification{Class: ClassTransient, Reason: "unexpected_eof"}},
	{io.EOF, Classification{Class: ClassTransient, Reason: "unexpected_eof"}},
}

// errorScan is what one walk of an error tree finds, in the pre-order
// errors.Is and errors.As use: the first node of each type the classifiers
// look for (as errors.As would return it) and the first of
// defaultSentinels matched anywhere (as a sequence of errors.Is would). One
// walk replaces the ten errors.Is/As walks the rules would make: a plain
// error is classified in a few comparisons.
type errorScan struct {
	strict     bool // StrictClassifier: only the typed interfaces
	sentinel   int  // index of the first defaultSentinels rule matched; len: none
	classified Classified
	status     statusError
	retryAfter retryAfterError
	dns        *net.DNSError
	netErr     net.Error
	opErr      *net.OpError
}

func (s *errorScan) walk(err error) {
	for err != nil {
		s.visit(err)
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				s.walk(e)
			}
			return
		default:
			return
		}
	}
}

// visit applies errors.Is's and errors.As's test of one node. The six As
// tests are written out: a generic helper (any(e).(T) through the shape's
// dictionary) made a plain error's classification twice as slow.
func (s *errorScan) visit(e error) {
	asm, hasAs := e.(interface{ As(any) bool })
	if s.classified == nil {
		if c, ok := e.(Classified); ok {
			s.classified = c
		} else if hasAs {
			var c Classified // allocated only for an error with an As method
			if asm.As(&c) {
				s.classified = c
			}
		}
	}
	if s.status == nil {
		if c, ok := e.(statusError); ok {
			s.status = c
		} else if hasAs {
			var c statusError // allocated only for an error with an As method
			if asm.As(&c) {
				s.status = c
			}
		}
	}
	if s.retryAfter == nil {
		if c, ok := e.(retryAfterError); ok {
			s.retryAfter = c
		} else if hasAs {
			var c retryAfterError // allocated only for an error with an As method
			if asm.As(&c) {
				s.retryAfter = c
			}
		}
	}
	if s.strict {
		return
	}
	ism, hasIs := e.(interface{ Is(error) bool })
	for i := 0; i < s.sentinel; i++ {
		// The targets' types are comparable: == never panics.
		if t := defaultSentinels[i].target; e == t || (hasIs && ism.Is(t)) {
			s.sentinel = i
			break
		}
	}
	if s.dns == nil {
		if c, ok := e.(*net.DNSError); ok {
			s.dns = c
		} else if hasAs {
			var c *net.DNSError // allocated only for an error with an As method
			if asm.As(&c) {
				s.dns = c
			}
		}
	}
	if s.netErr == nil {
		if c, ok := e.(net.Error); ok {
			s.netErr = c
		} else if hasAs {
			var c net.Error // allocated only for an error with an As method
			if asm.As(&c) {
				s.netErr = c
			}
		}
	}
	if s.opErr == nil {
		if c, ok := e.(*net.OpError); ok {
			s.opErr = c
		} else if hasAs {
			var c *net.OpError // allocated only for an error with an As method
			if asm.As(&c) {
				s.opErr = c
			}
		}
	}
}

// typed is StrictClassifier's rules on a scan.
func (s *errorScan) typed() (Classification, bool) {
	if s.classified != nil {
		return s.classified.RedressClassification(), true
	}
	if s.status != nil {
		if c, ok := ClassifyStatus(s.status.StatusCode()); ok {
			if s.retryAfter != nil {
				c.RetryAfter = s.retryAfter.RetryAfter()
			}
			return c, true
		}
	}
	return Classification{}, false
}

// StrictClassifier understands only explicit markers (Classify, Permanent,
// RateLimited, ...) and typed interfaces (Classified, StatusCoder). Anything
// else is ClassUnknown.
func StrictClassifier(err error) Classification {
	s := errorScan{strict: true}
	s.walk(err)
	if c, ok := s.typed(); ok {
		return c
	}
	return Classification{Class: ClassUnknown}
}

// DefaultClassifier applies StrictClassifier's rules, then what Go itself
// tells about an error:
//
//   - context.DeadlineExceeded (an attempt timeout; the caller's own
//     cancellation never reaches a classifier) and net.Error timeouts are
//     transient;
//   - connection refused, reset, aborted, broken pipe, io.ErrUnexpectedEOF
//     and io.EOF mid-exchange are transient;
//   - a DNS "not found" is permanent; other DNS errors are transient;
//   - anything else is unknown.
func DefaultClassifier(err error) Classification {
	s := errorScan{sentinel: len(defaultSentinels)}
	s.walk(err)
	if c, ok := s.typed(); ok {
		return c
	}
	if s.sentinel < len(defaultSentinels) {
		return defaultSentinels[s.sentinel].c
	}
	if s.dns != nil {
		if s.dns.IsNotFound {
			return Classification{Class: ClassPermanent, Reason: "dns_not_found"}
		}
		return Classification{Class: ClassTransient, Reason: "dns"}
	}
	if s.netErr != nil && s.netErr.Timeout() {
		return Classification{Class: ClassTransient, Reason: "timeout"}
	}
	if s.opErr != nil {
		return Classification{Class: ClassTransient, Reason: "network"}
	}
	return Classification{Class: ClassUnknown}
}
