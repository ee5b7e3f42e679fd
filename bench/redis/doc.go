// Package redisbench measures what a fleet-wide retry budget
// (contrib/redis) costs a call against the local core.Budget, in the same
// run: the success path (one deposit) and fail-once-then-succeed (a deposit
// and a withdrawal from the replica's lease). It needs the Redis on
// 127.0.0.1:6379 (REDRESS_REDIS_ADDR), and skips without it.
//
//	cd bench && go test -run '^$' -bench . -benchmem -count 6 -benchtime 300ms ./redis
package redisbench
