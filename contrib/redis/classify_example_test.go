package redressredis_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	redressredis "github.com/redress-go/redress/contrib/redis"
	"github.com/redress-go/redress/core"
)

// Classifier as the policy's classifier: a LOADING reply is retried with
// backoff and counted by the breaker, a pool with no free connection is a
// rate limit, and redis.Nil is an answer, never retried.
func ExampleClassifier() {
	p, err := core.NewPolicy(core.PolicyConfig{Retry: core.RetryConfig{Classifier: redressredis.Classifier}})
	if err != nil {
		panic(err)
	}
	attempts := 0
	_, err = core.Do(context.Background(), p, func(ctx context.Context) (string, error) {
		attempts++
		return "", redis.Nil // what rdb.Get(ctx, key).Result() returns for a missing key
	})
	fmt.Println(attempts, errors.Is(err, redis.Nil))

	for _, err := range []error{redis.Nil, redis.ErrPoolTimeout, redis.TxFailedErr} {
		c := redressredis.Classifier(err)
		fmt.Println(c.Class, c.Reason, c.Class.Retryable())
	}
	// Output:
	// 1 true
	// permanent redis_nil false
	// rate_limit redis_pool_timeout true
	// concurrency redis_tx_failed true
}

// ClassifyReply classifies the text of an error reply, as Classifier does
// for every redis.Error.
func ExampleClassifyReply() {
	for _, msg := range []string{
		"LOADING Redis is loading the dataset in memory",
		"TRYAGAIN Multiple keys request during rehashing of slot",
		"NOPERM User app has no permissions to run the 'flushall' command",
		"WRONGTYPE Operation against a key holding the wrong kind of value",
	} {
		c := redressredis.ClassifyReply(msg)
		fmt.Println(c.Class, c.Reason)
	}
	// Output:
	// server_error redis_loading
	// transient redis_tryagain
	// permission redis_noperm
	// permanent redis_wrongtype
}
