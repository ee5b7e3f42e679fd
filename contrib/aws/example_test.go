package redressaws_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	redressaws "github.com/redress-go/redress/contrib/aws"
)

// A throttled DynamoDB call, as the SDK returns it: the throttling code
// makes it a rate limit, and the response's x-amz-retry-after (in
// milliseconds) its retry hint. Expired credentials are never retried.
func ExampleClassifier() {
	resp := &http.Response{
		StatusCode: 400,
		Header:     http.Header{"X-Amz-Retry-After": {"1500"}},
		Body:       io.NopCloser(strings.NewReader("")),
	}
	throttled := &smithy.OperationError{
		ServiceID:     "DynamoDB",
		OperationName: "PutItem",
		Err: &smithyhttp.ResponseError{
			Response: &smithyhttp.Response{Response: resp},
			Err:      &smithy.GenericAPIError{Code: "ProvisionedThroughputExceededException", Fault: smithy.FaultClient},
		},
	}
	c := redressaws.Classifier(throttled)
	fmt.Println(c.Class, c.RetryAfter, c.Reason)

	expired := &smithy.GenericAPIError{Code: "ExpiredTokenException", Fault: smithy.FaultClient}
	c = redressaws.Classifier(expired)
	fmt.Println(c.Class, c.Class.Retryable())
	// Output:
	// rate_limit 1.5s aws_ProvisionedThroughputExceededException
	// auth false
}

func ExampleClassifyCode() {
	for _, code := range []string{"SlowDown", "RequestTimeout", "AccessDenied", "ValidationException"} {
		c, ok := redressaws.ClassifyCode(code)
		fmt.Println(code, c.Class, ok)
	}
	// Output:
	// SlowDown rate_limit true
	// RequestTimeout transient true
	// AccessDenied permission true
	// ValidationException unknown false
}
