package redressaws_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	redressaws "github.com/redress-go/redress/contrib/aws"
	"github.com/redress-go/redress/core"
)

// response builds the *http.Response of a failed call, with headers as
// name, value pairs.
func response(status int, headers ...string) *smithyhttp.Response {
	h := http.Header{}
	for i := 0; i+1 < len(headers); i += 2 {
		h.Add(headers[i], headers[i+1])
	}
	return &smithyhttp.Response{Response: &http.Response{
		StatusCode: status,
		Status:     http.StatusText(status),
		Header:     h,
		Body:       io.NopCloser(strings.NewReader("")),
	}}
}

// sdkError is an API error as the SDK returns it: the operation error,
// around the HTTP response error, around the deserialized API error (nil:
// an unmodeled response with no code).
func sdkError(resp *smithyhttp.Response, api error) error {
	return &smithy.OperationError{
		ServiceID:     "DynamoDB",
		OperationName: "GetItem",
		Err:           &smithyhttp.ResponseError{Response: resp, Err: api},
	}
}

func apiErr(code string, fault smithy.ErrorFault) error {
	return &smithy.GenericAPIError{Code: code, Message: "message of " + code, Fault: fault}
}

// requestSendError has the method of the SDK's awshttp.RequestSendError
// (the request was not sent, or its response not read).
type requestSendError struct{ err error }

func (e *requestSendError) Error() string         { return "request send failed, " + e.err.Error() }
func (e *requestSendError) Unwrap() error         { return e.err }
func (e *requestSendError) ConnectionError() bool { return true }

func TestClassifier(t *testing.T) {
	refused := func() error {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		_, err = net.Dial("tcp", addr)
		if err == nil {
			t.Fatal("dial of a closed port succeeded")
		}
		return err
	}()
	cases := []struct {
		name   string
		err    error
		class  core.Class
		reason string
		hint   time.Duration
	}{
		// Throttling codes, whatever the status they come with.
		{"Throttling 400", sdkError(response(400), apiErr("Throttling", smithy.FaultClient)), core.ClassRateLimit, "aws_Throttling", 0},
		{"ThrottlingException", sdkError(response(400), apiErr("ThrottlingException", smithy.FaultClient)), core.ClassRateLimit, "aws_ThrottlingException", 0},
		{"ProvisionedThroughputExceeded", sdkError(response(400), apiErr("ProvisionedThroughputExceededException", smithy.FaultClient)), core.ClassRateLimit, "aws_ProvisionedThroughputExceededException", 0},
		{"SlowDown 503", sdkError(response(503), apiErr("SlowDown", smithy.FaultServer)), core.ClassRateLimit, "aws_SlowDown", 0},
		{"TooManyRequests 429", sdkError(response(429), apiErr("TooManyRequestsException", smithy.FaultClient)), core.ClassRateLimit, "aws_TooManyRequestsException", 0},
		{"RequestLimitExceeded", sdkError(response(503), apiErr("RequestLimitExceeded", smithy.FaultUnknown)), core.ClassRateLimit, "aws_RequestLimitExceeded", 0},
		{"TransactionInProgress", sdkError(response(400), apiErr("TransactionInProgressException", smithy.FaultClient)), core.ClassRateLimit, "aws_TransactionInProgressException", 0},
		{"EC2Throttled", sdkError(response(503), apiErr("EC2ThrottledException", smithy.FaultServer)), core.ClassRateLimit, "aws_EC2ThrottledException", 0},
		{"throttling code without a response", apiErr("ThrottledException", smithy.FaultClient), core.ClassRateLimit, "aws_ThrottledException", 0},

		// Transient and server codes.
		{"RequestTimeout 400", sdkError(response(400), apiErr("RequestTimeout", smithy.FaultClient)), core.ClassTransient, "aws_RequestTimeout", 0},
		{"RequestTimeTooSkewed 403", sdkError(response(403), apiErr("RequestTimeTooSkewed", smithy.FaultClient)), core.ClassTransient, "aws_RequestTimeTooSkewed", 0},
		{"InternalError 500", sdkError(response(500), apiErr("InternalError", smithy.FaultServer)), core.ClassServerError, "aws_InternalError", 0},
		{"ServiceUnavailable", sdkError(response(503), apiErr("ServiceUnavailable", smithy.FaultServer)), core.ClassServerError, "aws_ServiceUnavailable", 0},
		{"TransactionConflict", sdkError(response(400), apiErr("TransactionConflictException", smithy.FaultClient)), core.ClassConcurrency, "aws_TransactionConflictException", 0},

		// Credentials and access: never retried.
		{"ExpiredToken 400", sdkError(response(400), apiErr("ExpiredToken", smithy.FaultClient)), core.ClassAuth, "aws_ExpiredToken", 0},
		{"ExpiredTokenException", sdkError(response(400), apiErr("ExpiredTokenException", smithy.FaultClient)), core.ClassAuth, "aws_ExpiredTokenException", 0},
		{"InvalidClientTokenId 403", sdkError(response(403), apiErr("InvalidClientTokenId", smithy.FaultClient)), core.ClassAuth, "aws_InvalidClientTokenId", 0},
		{"UnrecognizedClient", sdkError(response(400), apiErr("UnrecognizedClientException", smithy.FaultClient)), core.ClassAuth, "aws_UnrecognizedClientException", 0},
		{"SignatureDoesNotMatch 403", sdkError(response(403), apiErr("SignatureDoesNotMatch", smithy.FaultClient)), core.ClassAuth, "aws_SignatureDoesNotMatch", 0},
		{"AuthFailure", sdkError(response(401), apiErr("AuthFailure", smithy.FaultClient)), core.ClassAuth, "aws_AuthFailure", 0},
		{"AccessDenied 403", sdkError(response(403), apiErr("AccessDenied", smithy.FaultClient)), core.ClassPermission, "aws_AccessDenied", 0},
		{"AccessDeniedException 400", sdkError(response(400), apiErr("AccessDeniedException", smithy.FaultClient)), core.ClassPermission, "aws_AccessDeniedException", 0},
		{"auth with a retry hint", sdkError(response(403, "X-Amz-Retry-After", "500"), apiErr("ExpiredToken", smithy.FaultClient)), core.ClassAuth, "aws_ExpiredToken", 0},

		// Codes no rule knows: the status, then the fault.
		{"unknown code 400", sdkError(response(400), apiErr("ValidationException", smithy.FaultClient)), core.ClassPermanent, "status_400", 0},
		{"unknown code 404", sdkError(response(404), apiErr("ResourceNotFoundException", smithy.FaultClient)), core.ClassPermanent, "status_404", 0},
		{"unknown code 409", sdkError(response(409), apiErr("BucketAlreadyOwnedByYou", smithy.FaultClient)), core.ClassConcurrency, "status_409", 0},
		{"unknown code 502", sdkError(response(502), apiErr("BadGateway", smithy.FaultServer)), core.ClassServerError, "status_502", 0},
		{"unknown code 501", sdkError(response(501), apiErr("NotImplemented", smithy.FaultServer)), core.ClassPermanent, "status_501", 0},
		{"server fault without a response", apiErr("SomeServiceFailure", smithy.FaultServer), core.ClassServerError, "aws_server_fault", 0},
		{"client fault without a response", apiErr("SomeBadInput", smithy.FaultClient), core.ClassPermanent, "aws_client_fault", 0},
		{"unknown fault without a response", apiErr("Mystery", smithy.FaultUnknown), core.ClassUnknown, "", 0},
		{"a response with no API error 503", sdkError(response(503), nil), core.ClassServerError, "status_503", 0},
		{"a response with no API error 400", sdkError(response(400), nil), core.ClassPermanent, "status_400", 0},
		{"a nil response", &smithyhttp.ResponseError{Err: apiErr("Throttling", smithy.FaultClient)}, core.ClassRateLimit, "aws_Throttling", 0},

		// Hints: x-amz-retry-after in milliseconds first, then Retry-After.
		{"x-amz-retry-after", sdkError(response(503, "x-amz-retry-after", "1500"), apiErr("ServiceUnavailable", smithy.FaultServer)), core.ClassServerError, "aws_ServiceUnavailable", 1500 * time.Millisecond},
		{"x-amz-retry-after on a throttle", sdkError(response(400, "x-amz-retry-after", "250"), apiErr("ThrottlingException", smithy.FaultClient)), core.ClassRateLimit, "aws_ThrottlingException", 250 * time.Millisecond},
		{"x-amz-retry-after over both", sdkError(response(429, "x-amz-retry-after", "100", "Retry-After", "7"), nil), core.ClassRateLimit, "status_429", 100 * time.Millisecond},
		{"x-amz-retry-after capped", sdkError(response(503, "x-amz-retry-after", "3600000"), nil), core.ClassServerError, "status_503", redressaws.MaxRetryAfter},
		{"x-amz-retry-after beyond int64", sdkError(response(503, "x-amz-retry-after", "99999999999999999999999"), nil), core.ClassServerError, "status_503", redressaws.MaxRetryAfter},
		{"x-amz-retry-after zero", sdkError(response(503, "x-amz-retry-after", "0"), nil), core.ClassServerError, "status_503", 0},
		{"x-amz-retry-after malformed, Retry-After", sdkError(response(503, "x-amz-retry-after", "soon", "Retry-After", "2"), nil), core.ClassServerError, "status_503", 2 * time.Second},
		{"x-amz-retry-after negative", sdkError(response(503, "x-amz-retry-after", "-5"), nil), core.ClassServerError, "status_503", 0},
		{"Retry-After seconds", sdkError(response(429, "Retry-After", "3"), apiErr("TooManyRequestsException", smithy.FaultClient)), core.ClassRateLimit, "aws_TooManyRequestsException", 3 * time.Second},
		{"Retry-After date", sdkError(response(503, "Date", "Wed, 21 Oct 2026 07:28:00 GMT", "Retry-After", "Wed, 21 Oct 2026 07:28:04 GMT"), nil), core.ClassServerError, "status_503", 4 * time.Second},
		{"Retry-After date past", sdkError(response(503, "Date", "Wed, 21 Oct 2026 07:28:00 GMT", "Retry-After", "Wed, 21 Oct 2026 07:27:00 GMT"), nil), core.ClassServerError, "status_503", 0},
		{"Retry-After capped", sdkError(response(503, "Retry-After", "86400"), nil), core.ClassServerError, "status_503", redressaws.MaxRetryAfter},
		{"Retry-After on a permanent failure", sdkError(response(400, "Retry-After", "3"), apiErr("ValidationException", smithy.FaultClient)), core.ClassPermanent, "status_400", 0},

		// Network faults and the caller's context, through smithy-go's wrappers.
		{"connection refused", &smithy.OperationError{ServiceID: "S3", OperationName: "GetObject", Err: refused}, core.ClassTransient, "connection_refused", 0},
		{"connection error", &smithy.OperationError{ServiceID: "S3", OperationName: "GetObject", Err: &requestSendError{errors.New("http2: client connection lost")}}, core.ClassTransient, "aws_connection", 0},
		{"truncated body", &smithy.DeserializationError{Err: io.ErrUnexpectedEOF}, core.ClassTransient, "unexpected_eof", 0},
		{"canceled", &smithy.CanceledError{Err: context.Canceled}, core.ClassTransient, "canceled", 0},
		{"deadline", &smithy.OperationError{ServiceID: "S3", OperationName: "GetObject", Err: context.DeadlineExceeded}, core.ClassTransient, "timeout", 0},
		{"plain error", errors.New("boom"), core.ClassUnknown, "", 0},

		// A marker wins over everything.
		{"marked", core.Permanent(sdkError(response(503), apiErr("ServiceUnavailable", smithy.FaultServer))), core.ClassPermanent, "marked_permanent", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, err := range []error{c.err, fmt.Errorf("get item: %w", c.err)} {
				got := redressaws.Classifier(err)
				if got.Class != c.class || got.Reason != c.reason || got.RetryAfter != c.hint {
					t.Errorf("Classifier(%v) = %s %q hint %v, want %s %q hint %v", err, got.Class, got.Reason, got.RetryAfter, c.class, c.reason, c.hint)
				}
			}
		})
	}
}

// TestClassifyCode: every code the SDK's standard retryer treats as
// throttling is a rate limit; auth and permission codes are never retried;
// an unknown code is not claimed.
func TestClassifyCode(t *testing.T) {
	for _, code := range []string{
		"Throttling", "ThrottlingException", "ThrottledException",
		"RequestThrottledException", "TooManyRequestsException",
		"ProvisionedThroughputExceededException", "TransactionInProgressException",
		"RequestLimitExceeded", "BandwidthLimitExceeded", "LimitExceededException",
		"RequestThrottled", "SlowDown", "PriorRequestNotComplete", "EC2ThrottledException",
	} {
		if c, ok := redressaws.ClassifyCode(code); !ok || c.Class != core.ClassRateLimit || c.Reason != "aws_"+code {
			t.Errorf("%s: %s %q %v, want rate_limit", code, c.Class, c.Reason, ok)
		}
	}
	for _, code := range []string{"RequestTimeout", "RequestTimeoutException"} {
		if c, ok := redressaws.ClassifyCode(code); !ok || c.Class != core.ClassTransient {
			t.Errorf("%s: %s %v, want transient", code, c.Class, ok)
		}
	}
	for _, code := range []string{"ExpiredToken", "InvalidClientTokenId", "UnrecognizedClientException", "SignatureDoesNotMatch", "AuthFailure", "AccessDenied", "AccessDeniedException"} {
		if c, ok := redressaws.ClassifyCode(code); !ok || c.Class.Retryable() {
			t.Errorf("%s: %s %v, want a class never retried", code, c.Class, ok)
		}
	}
	if c, ok := redressaws.ClassifyCode("ValidationException"); ok {
		t.Errorf("ValidationException: claimed as %s", c.Class)
	}
}

// TestHintHoldsTheBreaker: under a policy, a throttled response's
// x-amz-retry-after holds the breaker's downstream: the next call is not
// sent until the hint has passed.
func TestHintHoldsTheBreaker(t *testing.T) {
	br, err := core.NewBreaker(core.BreakerConfig{Name: "dynamodb"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := core.NewPolicy(core.PolicyConfig{
		Breaker: br,
		Retry:   core.RetryConfig{MaxAttempts: 1, Classifier: redressaws.Classifier},
	})
	if err != nil {
		t.Fatal(err)
	}
	throttled := sdkError(response(400, "x-amz-retry-after", "60000"), apiErr("ThrottlingException", smithy.FaultClient))
	sent := 0
	call := func() error {
		_, err := core.Do(context.Background(), p, func(context.Context) (struct{}, error) {
			sent++
			return struct{}{}, throttled
		})
		return err
	}
	call()
	err = call()
	if sent != 1 {
		t.Fatalf("%d requests sent, want 1 (the second held by the hint)", sent)
	}
	if !errors.Is(err, core.ErrHeld) {
		t.Fatalf("second call: %v, want core.ErrHeld", err)
	}
}

// BenchmarkClassifier: a throttled SDK error against core.DefaultClassifier
// on the same error (the baseline: what a policy pays without this package).
func BenchmarkClassifier(b *testing.B) {
	err := sdkError(response(400, "x-amz-retry-after", "250"), apiErr("ThrottlingException", smithy.FaultClient))
	b.Run("default", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			core.DefaultClassifier(err)
		}
	})
	b.Run("redressaws", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			redressaws.Classifier(err)
		}
	})
}
