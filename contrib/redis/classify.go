package redressredis

import (
	"strings"

	"github.com/redis/go-redis/v9"
	"github.com/redress-go/redress/contrib/internal/errtree"
	"github.com/redress-go/redress/core"
)

// Classifier is a core.Classifier for the errors of go-redis
// (github.com/redis/go-redis/v9) commands. An error that classifies itself
// (core.Classify and the other markers) keeps its classification; a Redis
// error reply is classified by its prefix (the first word Redis sends,
// "LOADING", "WRONGTYPE"); go-redis's own errors by identity; anything else
// (refused, reset or timed-out connections, context errors) goes to
// core.DefaultClassifier. Use it as the policy's classifier, or call it from
// a classifier of your own to override some replies:
//
//	p, _ := core.NewPolicy(core.PolicyConfig{Retry: core.RetryConfig{Classifier: redressredis.Classifier}})
//
// The mapping:
//
//   - LOADING (the server is loading its data set), BUSY (a script or
//     module command is running), MASTERDOWN (a replica lost its master),
//     CLUSTERDOWN (the cluster cannot serve), NOREPLICAS (too few replicas
//     for a write) and OOM (maxmemory reached): server error; the breaker
//     counts them.
//   - TRYAGAIN (a multi-key command during resharding) and READONLY (a
//     write reached a replica, as during a failover; go-redis drops that
//     connection, so the next attempt dials again): transient.
//   - "ERR max number of clients reached", redis.ErrPoolTimeout and
//     redis.ErrPoolExhausted (every connection of the client's pool is in
//     use): rate limit. The command was not sent; the breaker does not count
//     them: a local queue, not a failing server. (A server at its client
//     limit closes the connection after that reply, which go-redis reads
//     during its handshake: the caller usually sees the reset, transient.)
//   - redis.TxFailedErr (a watched key changed, the transaction did not
//     run): concurrency.
//   - NOAUTH, WRONGPASS and a reply that says "unauthenticated" (what
//     redis.IsAuthError also takes for an auth error): auth. NOPERM (the
//     ACL user may not run the command or touch the key): permission.
//   - MOVED and ASK: permanent. A redis.ClusterClient follows redirections
//     itself (up to ClusterOptions.MaxRedirects), so one reaches the caller
//     only from a plain Client pointed at a cluster node, which gets the same
//     redirection on every attempt, or when the cluster client ran out of
//     redirections; the fix is the client, not another attempt.
//   - redis.Nil (the key or element does not exist): permanent, as HTTP 404
//     and gRPC NOT_FOUND are. It is an answer, not a fault: most callers
//     handle it inside the operation and return no error.
//   - redis.ErrClosed (the client was closed): permanent.
//   - every other error reply (WRONGTYPE, EXECABORT, NOSCRIPT, CROSSSLOT,
//     BUSYGROUP, "ERR syntax error", an unknown command, ...): permanent. The
//     server understood the command and refused it; the same command gets
//     the same answer (go-redis does not retry them either).
//   - anything else: core.DefaultClassifier (dial errors, resets, io.EOF,
//     net.Error timeouts: transient; context.DeadlineExceeded of an attempt
//     timeout: transient).
//
// A command that timed out or lost its connection after it was written may
// have been applied. The classifier cannot tell an idempotent command (GET,
// SET) from one that is not (INCR, LPUSH): mark the error of the latter with
// core.NotResendable, or run it under a policy that does not retry.
//
// go-redis retries network errors, pool timeouts and LOADING, READONLY,
// CLUSTERDOWN, TRYAGAIN, MASTERDOWN and NOREPLICAS replies itself
// (Options.MaxRetries, default 3): under a redress policy that retries, set
// MaxRetries to -1, or every policy attempt is up to four commands.
//
// Reasons are "redis_" and the lower-case prefix ("redis_loading",
// "redis_wrongtype"), "redis_max_clients", "redis_unauthenticated",
// "redis_pool_timeout", "redis_pool_exhausted", "redis_tx_failed",
// "redis_nil", "redis_client_closed", and "redis_error" for an error reply
// whose prefix has no rule of its own.
func Classifier(err error) core.Classification {
	if c, ok := classifyRedis(err); ok {
		return c
	}
	return core.DefaultClassifier(err)
}

// sentinels are go-redis's own errors, in their order of precedence.
var sentinels = [...]struct {
	err error
	c   core.Classification
}{
	{redis.Nil, classification(core.ClassPermanent, "redis_nil")},
	{redis.TxFailedErr, classification(core.ClassConcurrency, "redis_tx_failed")},
	{redis.ErrPoolTimeout, classification(core.ClassRateLimit, "redis_pool_timeout")},
	{redis.ErrPoolExhausted, classification(core.ClassRateLimit, "redis_pool_exhausted")},
	{redis.ErrClosed, classification(core.ClassPermanent, "redis_client_closed")},
}

// classifyRedis applies the Redis rules only, in one walk of the error
// tree: a core.Classified anywhere first, then the first of the sentinels
// matched anywhere, then the first redis.Error. ok is false when none
// applies.
func classifyRedis(err error) (core.Classification, bool) {
	var (
		marked core.Classified
		reply  redis.Error
		best   = len(sentinels)
	)
	errtree.Walk(err, func(e error) bool {
		if c, ok := errtree.As[core.Classified](e); ok {
			marked = c
			return false
		}
		for i := 0; i < best; i++ {
			if errtree.Is(e, sentinels[i].err) {
				best = i
				break
			}
		}
		if reply == nil {
			reply, _ = errtree.As[redis.Error](e)
		}
		return true
	})
	switch {
	case marked != nil:
		return marked.RedressClassification(), true
	case best < len(sentinels):
		return sentinels[best].c, true
	case reply != nil:
		return ClassifyReply(reply.Error()), true
	}
	return core.Classification{}, false
}

// replyRule is the class and reason of one error prefix.
type replyRule struct {
	class  core.Class
	reason string
}

// replyRules maps the first word of an error reply to its classification.
var replyRules = map[string]replyRule{
	"LOADING":     {core.ClassServerError, "redis_loading"},
	"BUSY":        {core.ClassServerError, "redis_busy"},
	"MASTERDOWN":  {core.ClassServerError, "redis_masterdown"},
	"CLUSTERDOWN": {core.ClassServerError, "redis_clusterdown"},
	"NOREPLICAS":  {core.ClassServerError, "redis_noreplicas"},
	"OOM":         {core.ClassServerError, "redis_oom"},
	"TRYAGAIN":    {core.ClassTransient, "redis_tryagain"},
	"READONLY":    {core.ClassTransient, "redis_readonly"},
	"NOAUTH":      {core.ClassAuth, "redis_noauth"},
	"WRONGPASS":   {core.ClassAuth, "redis_wrongpass"},
	"NOPERM":      {core.ClassPermission, "redis_noperm"},
	"MOVED":       {core.ClassPermanent, "redis_moved"},
	"ASK":         {core.ClassPermanent, "redis_ask"},
	"WRONGTYPE":   {core.ClassPermanent, "redis_wrongtype"},
	"EXECABORT":   {core.ClassPermanent, "redis_execabort"},
	"NOSCRIPT":    {core.ClassPermanent, "redis_noscript"},
	"CROSSSLOT":   {core.ClassPermanent, "redis_crossslot"},
}

// ClassifyReply maps the text of a Redis error reply ("LOADING Redis is
// loading the dataset in memory", without the protocol's leading '-') to
// its classification, with the rules Classifier lists. Classifier calls it
// for every error that go-redis returns as a redis.Error.
func ClassifyReply(msg string) core.Classification {
	if msg == "ERR max number of clients reached" {
		return classification(core.ClassRateLimit, "redis_max_clients")
	}
	prefix, _, _ := strings.Cut(msg, " ")
	if r, ok := replyRules[prefix]; ok {
		return classification(r.class, r.reason)
	}
	if strings.Contains(msg, "unauthenticated") {
		// go-redis takes this for an auth error (a password that changed
		// under a connection), as redis.IsAuthError says.
		return classification(core.ClassAuth, "redis_unauthenticated")
	}
	return classification(core.ClassPermanent, "redis_error")
}

func classification(c core.Class, reason string) core.Classification {
	return core.Classification{Class: c, Reason: reason}
}
