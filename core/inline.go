package core

import "context"

// Inline is a call whose first attempt the caller makes in its own code,
// rather than in a function the policy calls. It is for wrappers on hot
// paths (a database/sql driver, an HTTP transport): when nothing needs to
// see the attempt start or wrap its context, the call costs a breaker check
// before the attempt and a verdict after it, with no function value, no
// deferred guard in the policy and no extra stack frames around the
// attempt. A failed first attempt hands over to the engine, which goes on
// exactly as RunCall would have after making that attempt itself.
//
//	in, ok, err := p.Inline(ctx, &call)
//	if !ok {
//		return p.RunCall(ctx, &call, attempt) // the full engine
//	}
//	if err != nil {
//		return err // the breaker refused; no attempt was made
//	}
//	defer in.Release() // settles the breaker if the attempt panics
//	if err := attempt(ctx); err != nil {
//		return in.Failed(ctx, &call, err, attempt)
//	}
//	in.Succeeded()
//	return nil
//
// An Inline is used once, by one goroutine.
type Inline struct {
	// No *Call here: Failed leaks what an Inline points to (the policy,
	// the breaker), and a *Call among it would move every caller's Call to
	// the heap; the caller passes it to Failed instead.
	p      *Policy
	ctx    context.Context // for the event of a transition Succeeded makes
	permit Permit
	live   bool // admitted and not yet ended
}

// Inline begins the call c (nil for a call without per-call options) under
// p for a caller that makes the first attempt itself. It reports false,
// having done nothing, when the call must run through RunCall instead: a
// subscriber wants the call's events, the policy has a deadline, an attempt
// timeout, an abort predicate or a hook, c has a hook or a timeline, or ctx
// is done. A Retry.ResultClassifier is not consulted (there is no value), as
// in RunCall. When it reports true, err is the breaker's rejection (the call
// ends with it: no attempt was made, as RunCall returns it) or nil, and then
// the caller makes the attempt on ctx and ends it with Succeeded or Failed.
// A nil p reports false.
func (p *Policy) Inline(ctx context.Context, c *Call) (in Inline, ok bool, err error) {
	if p == nil || !p.fastFor(c) || ctx.Err() != nil {
		return Inline{}, false, nil
	}
	permit, err := p.admitFirst(ctx, c)
	if err != nil {
		return Inline{}, true, err
	}
	return Inline{p: p, ctx: ctx, permit: permit, live: true}, true, nil
}

// admitFirst is the breaker's admission (the breaker of a call with c,
// which may be nil) and the budget's deposit before a call's first attempt
// on the fast path; it returns the breaker's typed rejection, as run does
// before any attempt.
func (p *Policy) admitFirst(ctx context.Context, c *Call) (Permit, error) {
	var permit Permit
	if br := p.breakerFor(c); br != nil {
		if br != p.breaker && p.bus != nil {
			br.attach(p.bus) // a per-call breaker serves the policy's bus from its first use on
		}
		var closed bool
		if permit, closed = br.closedPermit(); !closed {
			var rej error
			var tr transition
			permit, rej, tr = br.allow()
			p.emitTransition(ctx, c, br, tr)
			if rej != nil {
				return Permit{}, rej
			}
		}
	}
	if p.budget != nil {
		p.budget.Deposit()
	}
	return permit, nil
}

// emitTransition emits tr, a transition of br made by the first attempt of
// a call with c (nil: no options) on the fast path.
func (p *Policy) emitTransition(ctx context.Context, c *Call, br *Breaker, tr transition) {
	if !tr.ok {
		return
	}
	if p.bus != nil {
		br.attach(p.bus)
	}
	if !br.wants(tr) {
		br.emit(ctx, tr, nil)
		return
	}
	e := Event{Policy: p.name, Operation: p.operation, Attempt: 1, Budget: p.budget}
	if c != nil {
		if c.Operation != "" {
			e.Operation = c.Operation
		}
		e.Labels = c.Labels
	}
	br.emit(ctx, tr, &e)
}

// firstSucceeded is the verdict on a first attempt of the fast path that
// succeeded (c as given to admitFirst).
func (p *Policy) firstSucceeded(ctx context.Context, c *Call, permit Permit) {
	switch {
	case permit.probe:
		p.emitTransition(ctx, c, permit.b, permit.probeSucceeded())
	case permit.b != nil:
		permit.b.closedSuccess() // success, without a call for a closed breaker
	}
	for _, o := range p.observers {
		o.Observe(false)
	}
}

// Succeeded ends the first attempt as a success: the breaker and the
// policy's adaptive strategies hear of it. The call is over.
func (in *Inline) Succeeded() {
	if !in.live {
		return
	}
	in.live = false
	in.p.firstSucceeded(in.ctx, nil, in.permit)
}

// Failed ends the first attempt with its error, err, and goes on as
// RunCall would have after making that attempt itself: it classifies err,
// tells the breaker, and runs any further attempts through fn, which must
// be the same attempt as a function. c is the Call given to Inline or, when
// that was nil, the call's options from here on (or nil): nothing before
// the first attempt's end reads a call's operation, labels or attempt cap,
// so a caller may build them only when an attempt failed (c.Breaker,
// Timeline and OnAttempt must then be nil, as they were). It returns what
// RunCall would. A nil err is taken as a success (Succeeded) and returns
// nil; after Succeeded or Failed, or without a successful Inline, Failed
// only returns err.
func (in *Inline) Failed(ctx context.Context, c *Call, err error, fn func(context.Context) error) error {
	if !in.live {
		return err
	}
	if err == nil {
		in.Succeeded()
		return nil
	}
	in.live = false
	if c == nil {
		c = new(Call)
	}
	res := runResult{attempts: 1}
	return in.p.runFrom(ctx, c, fn, &res, false, &firstAttempt{err: err, permit: in.permit})
}

// Release ends a first attempt that neither Succeeded nor Failed ended (its
// attempt panicked): the breaker permit is cancelled, so that a half-open
// breaker is not left waiting for a probe's verdict. It does nothing after
// Succeeded or Failed; defer it after Inline reports true with no error.
func (in *Inline) Release() {
	if in.live {
		in.live = false
		in.permit.Cancel()
	}
}
