package coretest

import (
	"context"

	"github.com/redress-go/redress/core"
)

// RunCall runs fn under p with the options of c, driving a core.Step as a
// wrapper does. fn may update c.Labels.StatusCode and RPCStatusCode while
// it runs: they are set on the running call before the attempt ends, so
// that a test stands in for a wrapper's labels without a Step of its own.
func RunCall(p *core.Policy, ctx context.Context, c *core.Call, fn func(context.Context) error) error {
	_, err := DoCall(ctx, p, c, func(ctx context.Context) (struct{}, error) { return struct{}{}, fn(ctx) })
	return err
}

// DoCall is RunCall for an operation that returns a value (a policy's
// Retry.ResultClassifier sees it).
func DoCall[T any](ctx context.Context, p *core.Policy, c *core.Call, fn func(context.Context) (T, error)) (T, error) {
	if c == nil {
		c = new(core.Call)
	}
	var s core.Step
	s.Begin(ctx, p, c)
	defer s.Close()
	var v T
	for s.Next() {
		var err error
		v, err = fn(s.Context())
		s.SetStatusCode(c.Labels.StatusCode)
		s.SetRPCStatusCode(c.Labels.RPCStatusCode)
		s.EndValue(v, err)
	}
	return v, s.Err()
}
