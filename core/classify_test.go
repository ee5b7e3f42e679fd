package core_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/redress-go/redress/core"
)

type selfClassified struct{}

func (selfClassified) Error() string { return "self" }
func (selfClassified) RedressClassification() core.Classification {
	return core.Classification{Class: core.ClassConcurrency, Reason: "self"}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestDefaultClassifier(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		class  core.Class
		reason string
		hint   time.Duration
	}{
		{"self-classifying, wrapped", fmt.Errorf("ctx: %w", selfClassified{}), core.ClassConcurrency, "self", 0},
		{"marker permanent", core.Permanent(errors.New("x")), core.ClassPermanent, "marked_permanent", 0},
		{"marker rate limited with hint", core.RateLimited(errors.New("x"), 2*time.Second), core.ClassRateLimit, "marked_rate_limit", 2 * time.Second},
		{"marker concurrency", core.Concurrency(errors.New("x")), core.ClassConcurrency, "marked_concurrency", 0},
		{"marker server error", core.ServerError(errors.New("x")), core.ClassServerError, "marked_server_error", 0},
		{"marker transient", core.Transient(errors.New("x")), core.ClassTransient, "marked_transient", 0},
		{"status 401", &core.StatusError{Code: 401}, core.ClassAuth, "status_401", 0},
		{"status 403", &core.StatusError{Code: 403}, core.ClassPermission, "status_403", 0},
		{"status 400", &core.StatusError{Code: 400}, core.ClassPermanent, "status_400", 0},
		{"status 404", &core.StatusError{Code: 404}, core.ClassPermanent, "status_404", 0},
		{"status 422", &core.StatusError{Code: 422}, core.ClassPermanent, "status_422", 0},
		{"status 408", &core.StatusError{Code: 408}, core.ClassTransient, "status_408", 0},
		{"status 409", &core.StatusError{Code: 409}, core.ClassConcurrency, "status_409", 0},
		{"status 429 with hint", &core.StatusError{Code: 429, Hint: time.Second}, core.ClassRateLimit, "status_429", time.Second},
		{"status 500", &core.StatusError{Code: 500}, core.ClassServerError, "status_500", 0},
		{"status 501", &core.StatusError{Code: 501}, core.ClassPermanent, "status_501", 0},
		{"status 503 with hint", &core.StatusError{Code: 503, Hint: 3 * time.Second}, core.ClassServerError, "status_503", 3 * time.Second},
		{"status 599", &core.StatusError{Code: 599}, core.ClassServerError, "status_5xx", 0},
		{"deadline exceeded", fmt.Errorf("op: %w", context.DeadlineExceeded), core.ClassTransient, "timeout", 0},
		{"net timeout", &net.OpError{Op: "read", Err: timeoutErr{}}, core.ClassTransient, "timeout", 0},
		{"connection refused", &net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, core.ClassTransient, "connection_refused", 0},
		{"connection reset", fmt.Errorf("read: %w", syscall.ECONNRESET), core.ClassTransient, "connection_reset", 0},
		{"broken pipe", fmt.Errorf("write: %w", syscall.EPIPE), core.ClassTransient, "broken_pipe", 0},
		{"unexpected EOF", fmt.Errorf("body: %w", io.ErrUnexpectedEOF), core.ClassTransient, "unexpected_eof", 0},
		{"dns not found", &net.DNSError{Err: "no such host", Name: "x.invalid", IsNotFound: true}, core.ClassPermanent, "dns_not_found", 0},
		{"dns temporary", &net.DNSError{Err: "server misbehaving", Name: "x", IsTemporary: true}, core.ClassTransient, "dns", 0},
		{"plain error", errors.New("who knows"), core.ClassUnknown, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := core.DefaultClassifier(tt.err)
			eq(t, "class", c.Class, tt.class)
			eq(t, "reason", c.Reason, tt.reason)
			eq(t, "hint", c.RetryAfter, tt.hint)
		})
	}
}

func TestStrictClassifierUsesOnlyMarkersAndTypes(t *testing.T) {
	eq(t, "marker", core.StrictClassifier(core.Permanent(errors.New("x"))).Class, core.ClassPermanent)
	eq(t, "status", core.StrictClassifier(&core.StatusError{Code: 429}).Class, core.ClassRateLimit)
	eq(t, "self", core.StrictClassifier(selfClassified{}).Class, core.ClassConcurrency)
	eq(t, "deadline", core.StrictClassifier(context.DeadlineExceeded).Class, core.ClassUnknown)
	eq(t, "reset", core.StrictClassifier(syscall.ECONNRESET).Class, core.ClassUnknown)
}

func TestClassifyNilIsNil(t *testing.T) {
	eq(t, "nil", core.Classify(nil, core.Classification{}), error(nil))
	eq(t, "permanent nil", core.Permanent(nil), error(nil))
}

func TestClassNamesRoundTrip(t *testing.T) {
	for _, c := range core.Classes() {
		got, ok := core.ParseClass(c.String())
		if !ok || got != c {
			t.Errorf("ParseClass(%q) = %v, %v", c.String(), got, ok)
		}
	}
	for _, k := range core.EventKinds() {
		got, ok := core.ParseEventKind(k.String())
		if !ok || got != k {
			t.Errorf("ParseEventKind(%q) = %v, %v", k.String(), got, ok)
		}
	}
	eq(t, "retryable", []bool{core.ClassTransient.Retryable(), core.ClassAuth.Retryable(), core.ClassPermanent.Retryable()}, []bool{true, false, false})
	eq(t, "set", core.SetOf(core.ClassAuth, core.ClassTransient).String(), "transient,auth")
	eq(t, "invalid", core.Class(200).String(), "invalid")
}

func TestErrorMessages(t *testing.T) {
	re := &core.RetryError{Reason: core.StopMaxAttempts, Attempts: 3, Err: errors.New("boom")}
	eq(t, "retry error", re.Error(), "redress: stopped (max_attempts) after 3 attempts: boom")
	coe := &core.CircuitOpenError{Breaker: "db", State: core.StateOpen}
	eq(t, "circuit", coe.Error(), `redress: circuit breaker "db" is open`)
	ce := &core.ConfigError{Field: "Retry.MaxAttempts", Reason: "must not be negative"}
	eq(t, "config", ce.Error(), "redress: invalid config: Retry.MaxAttempts must not be negative")
}
