// Package redressaws classifies the errors of the AWS SDK for Go v2 for
// redress policies: throttling codes are rate limits, 5xx responses and
// internal errors are server errors, timeouts and broken connections are
// transient, expired or invalid credentials are auth failures and denied
// access is a permission failure (neither is ever retried), and a
// response's x-amz-retry-after or Retry-After header becomes the retry
// hint. It reads errors through the interfaces of github.com/aws/smithy-go
// (smithy.APIError, smithyhttp.ResponseError), so it does not depend on the
// SDK itself.
//
//	p, err := core.NewPolicy(core.PolicyConfig{Retry: core.RetryConfig{
//		Classifier: redressaws.Classifier,
//		Strategy:   core.RetryAfterOr(core.DecorrelatedJitter(100*time.Millisecond, 5*time.Second), 0),
//	}})
//	if err != nil {
//		return err
//	}
//	// One retry layer: give the SDK client aws.NopRetryer.
//	u, err := core.Do(ctx, p, func(ctx context.Context) (User, error) {
//		return client.GetUser(ctx, id) // an SDK call
//	})
//	serve(u, err)
//
// Classifier and ClassifyCode are plain functions with no state: safe for
// concurrent use.
package redressaws
