package redressaws

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/redress-go/redress/contrib/internal/errtree"
	"github.com/redress-go/redress/core"
)

// MaxRetryAfter caps the hint Classifier reads from a response's
// x-amz-retry-after or Retry-After header: a longer one is cut to it, never
// refused. To lower it, cap Classification.RetryAfter in a classifier of
// your own that calls Classifier.
const MaxRetryAfter = 30 * time.Second

// codeClass is the classification of each error code ClassifyCode knows.
var codeClass = map[string]core.Classification{}

func init() {
	for class, codes := range map[core.Class][]string{
		// Throttling: the service asks the caller to slow down (the codes
		// the AWS SDKs treat as throttling).
		core.ClassRateLimit: {
			"Throttling", "ThrottlingException", "ThrottledException",
			"RequestThrottledException", "TooManyRequestsException",
			"ProvisionedThroughputExceededException",
			"TransactionInProgressException", "RequestLimitExceeded",
			"BandwidthLimitExceeded", "LimitExceededException",
			"RequestThrottled", "SlowDown", "PriorRequestNotComplete",
			"EC2ThrottledException",
		},
		// A request that timed out on its way, an identity provider that
		// did not answer, a clock the SDK corrects from the response (the
		// next attempt is signed with the server's time).
		core.ClassTransient: {
			"RequestTimeout", "RequestTimeoutException",
			"IDPCommunicationError",
			"RequestTimeTooSkewed", "RequestExpired", "RequestInTheFuture",
		},
		core.ClassServerError: {
			"InternalError", "InternalFailure", "InternalServerError",
			"InternalServerErrorException", "InternalServiceError",
			"InternalServiceException", "ServiceException",
			"ServiceUnavailable", "ServiceUnavailableException",
		},
		core.ClassConcurrency: {
			"TransactionConflictException", "ConcurrentModificationException",
			"OperationAbortedException",
		},
		core.ClassAuth: {
			"ExpiredToken", "ExpiredTokenException", "InvalidClientTokenId",
			"UnrecognizedClientException", "SignatureDoesNotMatch",
			"InvalidSignatureException", "IncompleteSignature",
			"MissingAuthenticationToken", "MissingAuthenticationTokenException",
			"AuthFailure", "InvalidAccessKeyId", "InvalidToken",
		},
		core.ClassPermission: {
			"AccessDenied", "AccessDeniedException", "UnauthorizedOperation",
			"AuthorizationError",
		},
	} {
		for _, c := range codes {
			codeClass[c] = core.Classification{Class: class, Reason: "aws_" + c}
		}
	}
}

// ClassifyCode maps an AWS error code (smithy.APIError's ErrorCode,
// "ThrottlingException") to its classification, and reports whether it
// knows the code. The codes and their classes are listed in Classifier's
// documentation. The reason is "aws_" and the code
// ("aws_ThrottlingException").
func ClassifyCode(code string) (core.Classification, bool) {
	c, ok := codeClass[code]
	return c, ok
}

// errorCoder and errorFaulter are smithy.APIError's methods, looked for
// separately: an error may carry a code without a fault.
type (
	errorCoder   interface{ ErrorCode() string }
	errorFaulter interface{ ErrorFault() smithy.ErrorFault }
	// httpResponder is smithyhttp.ResponseError (and the SDK's
	// awshttp.ResponseError, which embeds it).
	httpResponder interface {
		HTTPResponse() *smithyhttp.Response
	}
	// connectionErrorer is the SDK's awshttp.RequestSendError: the
	// request could not be sent or its response not read.
	connectionErrorer interface{ ConnectionError() bool }
)

// Classifier is a core.Classifier for the errors of the AWS SDK for Go v2,
// read through the interfaces of github.com/aws/smithy-go only (no SDK
// dependency). An error that classifies itself (core.Classify and the other
// markers) keeps its classification. Otherwise, in order:
//
//  1. The API error code (smithy.APIError's ErrorCode), with ClassifyCode
//     (the codes below).
//  2. The HTTP status of the response (smithyhttp.ResponseError), with
//     core.ClassifyStatus: 429 rate limit, 5xx but 501 server error, 408
//     transient, 409 concurrency, 401 auth, 403 permission, any other 4xx
//     permanent.
//  3. The API error's fault (ErrorFault): server, a server error; client,
//     permanent (reasons "aws_server_fault", "aws_client_fault").
//  4. An error whose ConnectionError method says so (the SDK's
//     RequestSendError: the request was not sent or its response not
//     read): transient, reason "aws_connection".
//  5. Anything else: core.DefaultClassifier (refused and reset
//     connections, timeouts, io.ErrUnexpectedEOF: transient; context
//     errors as core says).
//
// The codes ClassifyCode knows:
//
//   - rate limit: Throttling, ThrottlingException, ThrottledException,
//     RequestThrottledException, TooManyRequestsException,
//     ProvisionedThroughputExceededException,
//     TransactionInProgressException, RequestLimitExceeded,
//     BandwidthLimitExceeded, LimitExceededException, RequestThrottled,
//     SlowDown, PriorRequestNotComplete, EC2ThrottledException;
//   - transient: RequestTimeout, RequestTimeoutException,
//     IDPCommunicationError, and the clock-skew codes RequestTimeTooSkewed,
//     RequestExpired, RequestInTheFuture (the SDK corrects its clock
//     offset from the response);
//   - server error: InternalError, InternalFailure, InternalServerError,
//     InternalServerErrorException, InternalServiceError,
//     InternalServiceException, ServiceException, ServiceUnavailable,
//     ServiceUnavailableException;
//   - concurrency: TransactionConflictException,
//     ConcurrentModificationException, OperationAbortedException;
//   - auth, never retried: ExpiredToken, ExpiredTokenException,
//     InvalidClientTokenId, UnrecognizedClientException,
//     SignatureDoesNotMatch, InvalidSignatureException,
//     IncompleteSignature, MissingAuthenticationToken,
//     MissingAuthenticationTokenException, AuthFailure, InvalidAccessKeyId,
//     InvalidToken;
//   - permission, never retried: AccessDenied, AccessDeniedException,
//     UnauthorizedOperation, AuthorizationError.
//
// A retryable failure whose response carries x-amz-retry-after (a delay in
// milliseconds, sent by AWS services) or else Retry-After (delay-seconds or
// an HTTP-date, measured from the response's Date header when it has one)
// gets that delay as its RetryAfter hint, capped at MaxRetryAfter; zero,
// malformed or past values give none. A policy honours it through
// core.RetryAfterOr, and the breaker holds its downstream for it on a rate
// limit or a server error.
//
// The SDK retries on its own (3 attempts by default, with a client-side
// retry quota): under a redress policy that retries, give the SDK client
// aws.NopRetryer (or RetryMaxAttempts 1), or every policy attempt is up to
// three requests.
func Classifier(err error) core.Classification {
	f := scan(err)
	if f.marked != nil {
		return f.marked.RedressClassification()
	}
	var resp *http.Response
	if f.resp != nil {
		if r := f.resp.HTTPResponse(); r != nil && r.Response != nil {
			resp = r.Response
		}
	}
	c, ok := f.classify(resp)
	if !ok {
		if f.conn != nil {
			c = core.Classification{Class: core.ClassTransient, Reason: "aws_connection"}
		} else {
			c = core.DefaultClassifier(err)
		}
	}
	if resp != nil && c.Class.Retryable() {
		c.RetryAfter = retryAfter(resp.Header, time.Now)
	}
	return c
}

// found is what one walk of an error tree finds: the first error of each
// kind, as errors.As would return it.
type found struct {
	marked core.Classified
	code   errorCoder
	fault  errorFaulter
	resp   httpResponder
	conn   connectionErrorer // one whose ConnectionError() is true
}

func scan(err error) found {
	var f found
	errtree.Walk(err, func(e error) bool {
		if c, ok := errtree.As[core.Classified](e); ok {
			f.marked = c
			return false
		}
		if f.code == nil {
			f.code, _ = errtree.As[errorCoder](e)
		}
		if f.fault == nil {
			f.fault, _ = errtree.As[errorFaulter](e)
		}
		if f.resp == nil {
			f.resp, _ = errtree.As[httpResponder](e)
		}
		if f.conn == nil {
			if c, ok := errtree.As[connectionErrorer](e); ok && c.ConnectionError() {
				f.conn = c
			}
		}
		return true
	})
	return f
}

// classify applies the rules of the error code, the status and the fault.
func (f *found) classify(resp *http.Response) (core.Classification, bool) {
	if f.code != nil {
		if c, ok := ClassifyCode(f.code.ErrorCode()); ok {
			return c, true
		}
	}
	if resp != nil {
		if c, ok := core.ClassifyStatus(resp.StatusCode); ok {
			return c, true
		}
	}
	if f.fault != nil {
		switch f.fault.ErrorFault() {
		case smithy.FaultServer:
			return core.Classification{Class: core.ClassServerError, Reason: "aws_server_fault"}, true
		case smithy.FaultClient:
			return core.Classification{Class: core.ClassPermanent, Reason: "aws_client_fault"}, true
		}
	}
	return core.Classification{}, false
}

// retryAfter reads the hint of a response's headers: x-amz-retry-after in
// milliseconds, else Retry-After. Zero when there is none, it is malformed
// or already past.
func retryAfter(h http.Header, now func() time.Time) time.Duration {
	if v := strings.TrimSpace(h.Get("X-Amz-Retry-After")); v != "" {
		if ms, ok := digits(v); ok {
			if ms > int64(MaxRetryAfter/time.Millisecond) {
				return MaxRetryAfter
			}
			return time.Duration(ms) * time.Millisecond
		}
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if secs, ok := digits(v); ok {
		if secs > int64(MaxRetryAfter/time.Second) {
			return MaxRetryAfter
		}
		return time.Duration(secs) * time.Second
	}
	at, err := http.ParseTime(v)
	if err != nil {
		return 0
	}
	ref, err := http.ParseTime(h.Get("Date"))
	if err != nil {
		ref = now()
	}
	if d := at.Sub(ref); d > 0 {
		return min(d, MaxRetryAfter)
	}
	return 0
}

// digits parses a run of ASCII digits; a run too long for an int64 gives
// math.MaxInt64 (a delay above any cap).
func digits(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return math.MaxInt64, true // only digits: out of range
	}
	return n, true
}
