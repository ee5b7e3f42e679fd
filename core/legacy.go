package core

import "context"

// Transitional: the wrappers move to Step in the following commits, and
// this file goes with them.

// RunCall is Run with the options of c.
//
// Deprecated: use Run with Options, or a Step.
func (p *Policy) RunCall(ctx context.Context, c *Call, fn func(context.Context) error) error {
	_, err := DoCall(ctx, p, c, func(ctx context.Context) (struct{}, error) { return struct{}{}, fn(ctx) })
	return err
}

// DoCall is Do with the options of c; labels the attempt writes to c reach
// its events.
//
// Deprecated: use Do with Options, or a Step.
func DoCall[T any](ctx context.Context, p *Policy, c *Call, fn func(context.Context) (T, error)) (T, error) {
	if c == nil {
		c = new(Call)
	}
	var s Step
	s.Begin(ctx, p, c)
	defer s.Close()
	var v T
	var last any
	for s.Next() {
		var err error
		v, err = fn(s.actx)
		if err == nil && p != nil && p.resultCl != nil {
			if err = p.resultCl(v); err != nil {
				last = v
			}
		}
		s.call.Labels = c.Labels
		s.End(err)
	}
	if s.re != nil && last != nil {
		s.re.LastResult = last
	}
	return v, s.err
}

// Inline is a call whose first attempt the caller makes itself.
//
// Deprecated: use a Step.
type Inline struct{ s Step }

// Inline begins c for a caller that makes the first attempt on ctx.
//
// Deprecated: use a Step.
func (p *Policy) Inline(ctx context.Context, c *Call) (in Inline, ok bool, err error) {
	if p == nil || p.deadline > 0 || p.attemptTO > 0 || p.bus.mask() != 0 || ctx.Err() != nil {
		return Inline{}, false, nil
	}
	in.s.Begin(ctx, p, c)
	if !in.s.Next() {
		return in, true, in.s.err
	}
	return in, true, nil
}

// Succeeded ends the first attempt as a success.
//
// Deprecated: use a Step.
func (in *Inline) Succeeded() { in.s.End(nil) }

// Failed ends the first attempt with err and runs the rest through fn.
//
// Deprecated: use a Step.
func (in *Inline) Failed(ctx context.Context, c *Call, err error, fn func(context.Context) error) error {
	if in.s.phase != stepAttempt {
		return err
	}
	if err == nil {
		in.s.End(nil)
		return nil
	}
	if c != nil {
		in.s.call.Labels = c.Labels
		if c.Operation != "" {
			in.s.call.Operation = c.Operation
		}
		if n := c.MaxAttempts; n > 0 && n < in.s.maxAtt {
			in.s.maxAtt = n
		}
	}
	in.s.End(err)
	for in.s.Next() {
		e := fn(in.s.actx)
		if c != nil {
			in.s.call.Labels = c.Labels
		}
		in.s.End(e)
	}
	return in.s.err
}

// Release settles a first attempt that panicked.
//
// Deprecated: use a Step.
func (in *Inline) Release() { in.s.Close() }
