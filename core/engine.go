package core

import (
	"context"
	"math"
	"time"
)

// DeadlineSlack is how close to the caller's deadline a failed attempt
// must end to be the caller's failure rather than the downstream's: when
// an attempt fails and the caller's context has a deadline that has passed
// or is at most DeadlineSlack away, the engine treats the failure as the
// end of the caller's time, whatever the error says. The breaker does not
// count it, it is not retried, and the call stops with StopCanceled and
// context.DeadlineExceeded, exactly as when the context's timer has fired.
//
// The slack exists because a failure caused by the caller's deadline often
// arrives before the context's own timer fires: a gRPC server or proxy
// enforces the deadline the client sent (grpc-timeout, which
// implementations may round to the millisecond) and answers
// DEADLINE_EXCEEDED, an HTTP gateway answers 504 on the same clock, and a
// timer fires late on a loaded machine. Counted as the downstream's
// transient failures, those would open a breaker while the downstream is
// healthy. 5ms covers millisecond rounding and timer latency with room to
// spare, and is too short for a useful new attempt over any network; the
// cost is that a genuine downstream failure ending in the last 5ms of a
// caller's deadline is not counted by the breaker.
const DeadlineSlack = 5 * time.Millisecond

// runResult is what run reports besides the error.
type runResult struct {
	attempts  int
	stop      StopReason
	lastClass Class
	elapsed   time.Duration
	nextDelay time.Duration
	re        *RetryError
	tl        *Timeline // Execute's RecordTimeline: the timeline of a Call that has none
}

// callState is one call's bookkeeping. It lives on the caller's stack.
type callState struct {
	p        *Policy
	breaker  *Breaker
	maxAtt   int
	tl       *Timeline
	onAtt    func(AttemptInfo)
	op       string
	mask     EventSet
	timed    bool
	endKnown bool
	t0       time.Time     // the call's start, read from a custom Clock
	m0       time.Duration // the call's start on the monotonic clock (SystemClock)
	aend     time.Duration // end of the last attempt, since the call's start, when timed
	adur     time.Duration // the last attempt's duration, when timed
	lastErr  error
	lastCl   Classification
	perClass [numClasses]int32
	unknown  int
}

const timedEvents = 1<<EventAttemptEnd | 1<<EventRetry | TerminalEvents

func (s *callState) elapsed() time.Duration {
	if !s.timed {
		return 0
	}
	return s.since()
}

// monoEpoch carries a monotonic clock reading: time.Since(monoEpoch) reads
// only the monotonic clock, cheaper than time.Now, which reads the wall
// clock too. The engine only ever needs durations.
var monoEpoch = time.Now()

// begin notes the call's start.
func (s *callState) begin() {
	if s.p.mono {
		s.m0 = time.Since(monoEpoch)
	} else {
		s.t0 = s.p.clock.Now()
	}
}

// since is the time since the call's start.
func (s *callState) since() time.Duration {
	if s.p.mono {
		return time.Since(monoEpoch) - s.m0
	}
	return s.p.clock.Now().Sub(s.t0)
}

// event fills the zero event e (on the caller's stack: events are built in
// place and copied once per subscriber). The call c is passed down rather
// than kept in callState: escape analysis does not tell struct fields
// apart, and callState's strings reach the subscribers, so a *Call kept
// there would move every caller's Call to the heap.
func (s *callState) event(e *Event, c *Call, k EventKind, attempt int) {
	e.Kind = k
	e.Policy = s.p.name
	e.Operation = s.op
	e.Attempt = attempt
	e.Budget = s.p.budget
	e.Labels = c.Labels
	if s.breaker != nil {
		e.Breaker = s.breaker
		e.BreakerState = s.breaker.State()
	}
}

// publishTransition emits tr, a transition of the call's breaker, with the
// call's policy, operation and labels (whatever events the call publishes:
// a transition belongs to the breaker, and the breaker's buses see them all).
func (s *callState) publishTransition(ctx context.Context, c *Call, tr transition, attempt int) {
	if !tr.ok {
		return
	}
	if !s.breaker.wants(tr) {
		s.breaker.emit(ctx, tr, nil)
		return
	}
	var e Event
	s.event(&e, c, transitionKind(tr.to), attempt)
	s.breaker.emit(ctx, tr, &e)
}

// run is the engine. fn is called on this goroutine, once per attempt.
func (p *Policy) run(ctx context.Context, c *Call, fn func(context.Context) error, res *runResult, wantElapsed bool) error {
	return p.runFrom(ctx, c, fn, res, wantElapsed, nil)
}

// firstAttempt is the outcome of a first attempt made on the fast path
// (runFast, or a caller of Policy.Inline).
type firstAttempt struct {
	err    error
	permit Permit
}

// runFrom is run; when first is not nil, the fast path (runFast or
// Inline) made the first attempt and it failed with first.err.
func (p *Policy) runFrom(ctx context.Context, c *Call, fn func(context.Context) error, res *runResult, wantElapsed bool, first *firstAttempt) error {
	var mask, timedMask EventSet // runFast saw no subscriber; one added since does not see a call whose start it missed
	if first == nil {
		mask, timedMask = p.bus.masks()
	}
	s := callState{p: p, tl: c.Timeline, onAtt: c.OnAttempt, op: c.Operation, mask: mask}
	if s.tl == nil {
		s.tl = res.tl
	}
	if s.op == "" {
		s.op = p.operation
	}
	s.breaker, s.maxAtt = p.breakerFor(c), p.maxAtt
	if s.breaker != nil && p.bus != nil {
		s.breaker.attach(p.bus) // a per-call breaker serves the policy's bus from its first use on
	}
	if c.MaxAttempts > 0 && c.MaxAttempts < s.maxAtt {
		s.maxAtt = c.MaxAttempts
	}
	// Hooks get each attempt's duration too.
	s.timed = p.deadline > 0 || wantElapsed || s.tl != nil ||
		p.onAttempt != nil || c.OnAttempt != nil || timedMask&timedEvents != 0
	if s.timed {
		s.begin()
	}
	opCtx := ctx
	if s.mask.Has(EventOperationStart) {
		var e Event
		s.event(&e, c, EventOperationStart, 0)
		opCtx = p.bus.publishDecorate(ctx, &e)
	}
	var prevSleep time.Duration
	deposited := false
	// The budget token of the retry about to be made (granted at token, ns
	// since the budget's epoch): given back when the retry is not made
	// after all (the sleep cancelled or aborted, or a check before the
	// attempt stops the call).
	var token int64
	hasToken := false
	refund := func() {
		if hasToken {
			hasToken = false
			p.budget.refund(token)
		}
	}
	for attempt := 1; ; attempt++ {
		var (
			permit Permit
			actx   = opCtx
			cancel context.CancelFunc
			astart time.Duration // since the call's start
			err    error
		)
		if attempt == 1 && first != nil {
			// runFast made the first attempt, with the checks due before it
			// (no subscriber, deadline, timeout, abort predicate or hook
			// asked for more).
			permit, err = first.permit, first.err
			deposited = p.budget != nil
			res.attempts = 1
		} else {
			res.attempts = attempt - 1
			// Before the attempt: the caller, the abort predicate, the deadline.
			if err := ctx.Err(); err != nil {
				refund()
				return s.stop(opCtx, c, res, StopCanceled, attempt-1, err)
			}
			if p.abortIf != nil && p.abortIf() {
				refund()
				return s.stop(opCtx, c, res, StopAborted, attempt-1, nil)
			}
			// One clock read serves the deadline check, the attempt context and
			// the attempt's start; the first attempt reuses the call's start.
			if s.timed && attempt > 1 {
				astart = s.since()
			}
			if p.deadline > 0 && astart >= p.deadline {
				refund()
				return s.stop(opCtx, c, res, StopDeadline, attempt-1, nil)
			}
			if s.breaker != nil {
				var rej error
				var tr transition
				permit, rej, tr = s.breaker.allow()
				s.publishTransition(opCtx, c, tr, attempt)
				if rej != nil {
					refund() // the breaker opened during the sleep: no retry
					return s.stop(opCtx, c, res, StopCircuitOpen, attempt-1, rej)
				}
			}
			hasToken = false // the retry is made: its token is spent
			if !deposited && p.budget != nil {
				p.budget.Deposit()
				deposited = true
			}
			res.attempts = attempt

			// The attempt.
			if p.attemptTO > 0 || p.deadline > 0 {
				d := p.attemptTO
				if p.deadline > 0 {
					if rem := p.deadline - astart; d == 0 || rem < d {
						d = rem
					}
				}
				actx, cancel = context.WithTimeout(actx, d)
			}
			if s.mask.Has(EventAttemptStart) {
				var e Event
				s.event(&e, c, EventAttemptStart, attempt)
				actx = p.bus.publishDecorate(actx, &e)
			}
			err = runAttempt(fn, actx, &permit, cancel)
		}
		if s.timed {
			s.aend = s.since()
			s.adur = s.aend - astart
		}
		if cancel != nil {
			cancel()
		}

		if err == nil {
			if s.breaker != nil {
				s.publishTransition(opCtx, c, permit.success(), attempt)
			}
			for _, o := range p.observers {
				o.Observe(false)
			}
			if s.mask.Has(EventAttemptEnd) {
				var e Event
				s.event(&e, c, EventAttemptEnd, attempt)
				e.AttemptDuration = s.adur
				e.Elapsed = s.aend
				p.bus.publish(actx, &e)
			}
			if s.tl != nil || p.onAttempt != nil || s.onAtt != nil {
				s.record(AttemptRecord{Attempt: attempt, Decision: DecisionSuccess, Duration: s.adur})
			}
			res.stop = StopNone
			s.endKnown = true // the attempt's end is the call's end
			s.finish(opCtx, c, res, StopNone, attempt, nil)
			return nil
		}

		// A failure. The caller's cancellation is not the downstream's fault,
		// nor is a failure at the caller's deadline (DeadlineSlack).
		s.lastErr = err
		cerr := ctx.Err()
		if cerr == nil && atCallerDeadline(ctx) {
			cerr = context.DeadlineExceeded
		}
		if cerr != nil {
			permit.Cancel()
			s.lastCl = Classification{Class: ClassUnknown, Reason: "canceled"}
			res.lastClass = ClassUnknown
			s.attemptEnd(actx, c, attempt, s.lastCl)
			return s.stop(opCtx, c, res, StopCanceled, attempt, cerr)
		}
		if IsAbort(err) {
			permit.Cancel()
			s.attemptEnd(actx, c, attempt, Classification{Reason: "aborted"})
			return s.stop(opCtx, c, res, StopAborted, attempt, nil)
		}
		cl := p.classify(err)
		if !cl.Class.Valid() {
			cl.Class = ClassUnknown
		}
		if !cl.NoRetry && IsNoRetry(err) {
			cl.NoRetry = true
		}
		s.lastCl = cl
		res.lastClass = cl.Class
		for _, o := range p.observers {
			o.Observe(true)
		}
		s.attemptEnd(actx, c, attempt, cl)
		if s.breaker != nil {
			if s.breaker.trips(cl.Class) {
				s.publishTransition(opCtx, c, permit.failure(cl.Class, s.breaker.clock.Now()), attempt)
			} else {
				s.publishTransition(opCtx, c, permit.success(), attempt)
			}
		}

		// Should we retry at all?
		if !cl.Class.Retryable() || cl.NoRetry {
			return s.stop(opCtx, c, res, StopNonRetryableClass, attempt, nil)
		}
		s.perClass[cl.Class]++
		if lim := p.perClass[cl.Class]; lim >= 0 && s.perClass[cl.Class] >= max(lim, 1) {
			return s.stop(opCtx, c, res, StopMaxAttemptsPerClass, attempt, nil)
		}
		if cl.Class == ClassUnknown {
			s.unknown++
			if p.maxUnknown > 0 && s.unknown >= p.maxUnknown {
				return s.stop(opCtx, c, res, StopMaxUnknownAttempts, attempt, nil)
			}
		}
		if attempt >= s.maxAtt {
			return s.stop(opCtx, c, res, StopMaxAttempts, attempt, nil)
		}
		strat := p.strategies[cl.Class]
		if strat == nil {
			return s.stop(opCtx, c, res, StopNoStrategy, attempt, nil)
		}
		in := BackoffInput{Attempt: attempt, Class: cl.Class, Classification: cl, PrevSleep: prevSleep, Err: err}
		var elapsed time.Duration
		if p.deadline > 0 {
			elapsed = s.elapsed()
			in.HasDeadline = true
			in.Remaining = max(p.deadline-elapsed, 0)
		}
		delay := strat.Backoff(in)
		if delay < 0 {
			delay = 0
		}
		if p.deadline > 0 && delay >= p.deadline-elapsed {
			return s.stop(opCtx, c, res, StopDeadline, attempt, nil)
		}
		// Likewise the caller's own deadline: sleeping past it would only end
		// in a cancellation, so refuse up front (as rate.Limiter.Wait does).
		if dl, ok := ctx.Deadline(); ok && delay >= time.Until(dl) {
			return s.stop(opCtx, c, res, StopDeadline, attempt, nil)
		}
		if p.abortIf != nil && p.abortIf() {
			return s.stop(opCtx, c, res, StopAborted, attempt, nil)
		}
		// A breaker that will still be open when the sleep ends would only
		// reject the next attempt: stop now, without a token or a sleep.
		if s.breaker != nil {
			if wait := s.breaker.openFor(); wait > delay {
				return s.stop(opCtx, c, res, StopCircuitOpen, attempt, &CircuitOpenError{Breaker: s.breaker.name, State: StateOpen, RetryIn: wait})
			}
		}
		remaining := math.NaN()
		if p.budget != nil {
			var ok bool
			granted := p.budget.clock.Now()
			ok, remaining = p.budget.TryWithdrawAt(granted)
			if !ok {
				return s.stopBudget(opCtx, c, res, attempt, remaining)
			}
			token, hasToken = int64(granted.Sub(p.budget.epoch)), true
		}
		if s.mask.Has(EventRetry) {
			var e Event
			s.event(&e, c, EventRetry, attempt)
			e.Class, e.Reason, e.Err, e.Sleep = cl.Class, cl.Reason, err, delay
			e.Elapsed = s.elapsed()
			if p.budget != nil {
				e.BudgetRemaining = remaining
			}
			p.bus.publish(opCtx, &e)
		}
		info := SleepInfo{Policy: p.name, Operation: s.op, Attempt: attempt, Classification: cl, Delay: delay, Err: err}
		if p.sleepH != nil {
			switch p.sleepH(opCtx, info) {
			case SleepDefer:
				res.nextDelay = delay
				s.decide(attempt, DecisionScheduled, StopScheduled, delay)
				return s.terminal(opCtx, c, res, StopScheduled, attempt, nil, delay)
			case SleepAbort:
				refund()
				return s.stop(opCtx, c, res, StopAborted, attempt, nil)
			}
		}
		s.decide(attempt, DecisionRetry, StopNone, delay)
		if p.beforeS != nil {
			p.beforeS(opCtx, info)
		}
		if err := p.sleeper.Sleep(ctx, delay); err != nil {
			refund()
			if cerr := ctx.Err(); cerr != nil {
				return s.stop(opCtx, c, res, StopCanceled, attempt, cerr)
			}
			return s.stop(opCtx, c, res, StopAborted, attempt, nil)
		}
		prevSleep = delay
	}
}

// runFast is run for a call that needs nothing of the engine before its
// first attempt but the context check, the breaker and the budget: no
// subscriber (nothing to time or publish), no deadline or attempt timeout,
// no abort predicate, hook or timeline. A first attempt that succeeds ends
// here, in a few instructions; one that fails goes on in runFrom, which
// takes over from the attempt's outcome. Kept apart so that the common case
// runs through a small function rather than the whole engine.
func (p *Policy) runFast(ctx context.Context, c *Call, fn func(context.Context) error, res *runResult) error {
	if ctx.Err() != nil {
		return p.run(ctx, c, fn, res, false) // it stops the call as canceled
	}
	permit, rej := p.admitFirst(ctx, c)
	if rej != nil {
		return rej // the typed rejection, as run returns it before any attempt
	}
	err := runAttempt(fn, ctx, &permit, nil)
	if err == nil {
		p.firstSucceeded(ctx, c, permit)
		res.attempts = 1
		return nil
	}
	res.attempts = 1
	return p.runFrom(ctx, c, fn, res, false, &firstAttempt{err: err, permit: permit})
}

// atCallerDeadline reports whether ctx has a deadline that has passed or is
// at most DeadlineSlack away (its timer may not have fired yet).
func atCallerDeadline(ctx context.Context) bool {
	dl, ok := ctx.Deadline()
	return ok && time.Until(dl) <= DeadlineSlack
}

// runAttempt calls fn. If fn panics, the breaker permit and the attempt's
// context are released before the panic goes on, so that a half-open
// breaker is not left waiting for a verdict and no timer leaks.
func runAttempt(fn func(context.Context) error, actx context.Context, permit *Permit, cancel context.CancelFunc) error {
	done := false
	defer func() {
		if !done {
			permit.Cancel()
			if cancel != nil {
				cancel()
			}
		}
	}()
	err := fn(actx)
	done = true
	return err
}

// attemptEnd publishes attempt_end for a failed attempt and records it.
func (s *callState) attemptEnd(actx context.Context, c *Call, attempt int, cl Classification) {
	if s.mask.Has(EventAttemptEnd) {
		var e Event
		s.event(&e, c, EventAttemptEnd, attempt)
		e.Class, e.Reason, e.Err = cl.Class, cl.Reason, s.lastErr
		e.AttemptDuration = s.adur
		e.Elapsed = s.aend
		s.p.bus.publish(actx, &e)
	}
	s.record(AttemptRecord{Attempt: attempt, Classification: cl, Err: s.lastErr, Decision: DecisionRaise, Duration: s.adur})
}

// record appends to the timeline, if any.
func (s *callState) record(r AttemptRecord) {
	if s.tl != nil {
		s.tl.Attempts = append(s.tl.Attempts, r)
	}
	if r.Decision == DecisionSuccess {
		s.hook(r)
	}
}

// decide sets the decision of the attempt just recorded and calls the hooks.
func (s *callState) decide(attempt int, d AttemptDecision, stop StopReason, sleep time.Duration) {
	var r AttemptRecord
	if tl := s.tl; tl != nil && len(tl.Attempts) > 0 && tl.Attempts[len(tl.Attempts)-1].Attempt == attempt {
		last := &tl.Attempts[len(tl.Attempts)-1]
		last.Decision, last.StopReason, last.Sleep = d, stop, sleep
		r = *last
	} else {
		r = AttemptRecord{Attempt: attempt, Classification: s.lastCl, Err: s.lastErr, Decision: d, StopReason: stop, Sleep: sleep, Duration: s.adur}
	}
	s.hook(r)
}

func (s *callState) hook(r AttemptRecord) {
	if s.p.onAttempt == nil && s.onAtt == nil {
		return
	}
	a := AttemptInfo{
		Policy: s.p.name, Operation: s.op, Attempt: r.Attempt, Err: r.Err,
		Classification: r.Classification, Decision: r.Decision, StopReason: r.StopReason,
		Sleep: r.Sleep, Duration: r.Duration,
	}
	if s.p.onAttempt != nil {
		s.p.onAttempt(a)
	}
	if s.onAtt != nil {
		s.onAtt(a)
	}
}

func (s *callState) stopBudget(ctx context.Context, c *Call, res *runResult, attempt int, remaining float64) error {
	s.decide(attempt, DecisionRaise, StopBudgetExhausted, 0)
	return s.terminalWith(ctx, c, res, StopBudgetExhausted, attempt, nil, 0, remaining)
}

// stop ends the call with a failure. cause is the caller's context error or
// the breaker's rejection, if that is why.
func (s *callState) stop(ctx context.Context, c *Call, res *runResult, r StopReason, attempts int, cause error) error {
	if attempts > 0 && r != StopCircuitOpen && r != StopCanceled {
		d := DecisionRaise
		if r == StopAborted {
			d = DecisionAborted
		}
		s.decide(attempts, d, r, 0)
	}
	return s.terminal(ctx, c, res, r, attempts, cause, 0)
}

func (s *callState) terminal(ctx context.Context, c *Call, res *runResult, r StopReason, attempts int, cause error, next time.Duration) error {
	return s.terminalWith(ctx, c, res, r, attempts, cause, next, math.NaN())
}

func (s *callState) terminalWith(ctx context.Context, c *Call, res *runResult, r StopReason, attempts int, cause error, next time.Duration, remaining float64) error {
	res.attempts = attempts
	res.stop = r
	var err error
	if r == StopCircuitOpen && attempts == 0 {
		err = cause // the typed rejection itself
	} else {
		re := &RetryError{Reason: r, Class: s.lastCl.Class, Attempts: attempts, Err: s.lastErr, NextDelay: next, cause: cause}
		res.re = re
		err = re
	}
	s.finishWith(ctx, c, res, r, attempts, err, remaining)
	return err
}

func (s *callState) finish(ctx context.Context, c *Call, res *runResult, r StopReason, attempts int, err error) {
	s.finishWith(ctx, c, res, r, attempts, err, math.NaN())
}

func (s *callState) finishWith(ctx context.Context, c *Call, res *runResult, r StopReason, attempts int, err error, remaining float64) {
	if s.timed {
		end := s.aend
		if !s.endKnown {
			end = s.since()
		}
		res.elapsed = end
	}
	k := terminalFor(r)
	if !s.mask.Has(k) {
		return
	}
	var e Event
	s.event(&e, c, k, attempts)
	e.StopReason = r
	e.Err = err
	e.Elapsed = res.elapsed
	e.Sleep = res.nextDelay
	if r != StopNone {
		e.Class, e.Reason = s.lastCl.Class, s.lastCl.Reason
	}
	switch {
	case r == StopNone && attempts <= 1:
		e.Outcome = OutcomeSuccess
	case r == StopNone:
		e.Outcome = OutcomeSuccessAfterRetry
	case r == StopCircuitOpen:
		e.Outcome = OutcomeRejected
	default:
		e.Outcome = OutcomeFailure
	}
	if !math.IsNaN(remaining) {
		e.BudgetRemaining = remaining
	}
	s.p.bus.publish(ctx, &e)
}
