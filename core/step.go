package core

import (
	"context"
	"math"
	"time"
)

// Step runs one call under a policy, attempt by attempt, with the attempts
// made by the caller's own code: the engine decides, the caller acts. It
// is the engine itself — Do, Run and Execute are loops over a Step — and
// the way a wrapper drives the engine without handing it a function:
//
//	var s core.Step
//	s.Begin(ctx, p, &call) // call: the per-call options, copied; nil for none
//	defer s.Close()        // settles an attempt that panicked
//	for s.Next() {         // sleeps the backoff, checks, admits the attempt
//		err := attempt(s.Context())
//		s.End(err)         // classifies, decides: retry or stop
//	}
//	return s.Err()
//
// Next reports false when the call is over, Err is then its error: nil, a
// *RetryError wrapping the last failure, or the breaker's
// *CircuitOpenError when it refused before any attempt (the same errors
// Run returns). Between Next and End, SetStatusCode and SetRPCStatusCode
// update the labels that the attempt's events carry.
//
// With no subscriber on the policy's bus, no deadline, attempt timeout,
// abort predicate, hook or timeline, a call that succeeds at once costs a
// context check, the breaker's admission and verdict and the budget's
// deposit: nothing is timed or published. The same code runs every call;
// what a call needs decides what it pays.
//
// A Step is used once, by one goroutine; its zero value is ready for
// Begin. It is meant to live on the caller's stack.
type Step struct {
	p       *Policy
	ctx     context.Context // the caller's
	opCtx   context.Context // the caller's, as operation_start subscribers decorated it
	actx    context.Context // the attempt's
	cancel  context.CancelFunc
	breaker *Breaker
	permit  Permit
	call    Call // the per-call options, copied; Operation resolved
	lastErr error
	lastCl  Classification
	err     error
	re      *RetryError
	last    any   // the value a ResultClassifier turned into the last failure
	fbVal   any   // the value the policy's Fallback supplied
	fbCause error // the error the Fallback replaced
	fbUsed  bool
	fbFault bool // fbVal is a result fault injection supplied, not the Fallback

	t0         time.Time     // the call's start, read from a custom Clock
	m0         time.Duration // the call's start on the monotonic clock (SystemClock)
	astart     time.Duration // the attempt's start, since the call's start, when timed
	aend       time.Duration // the attempt's end, since the call's start, when timed
	adur       time.Duration // the attempt's duration, when timed
	elapsed    time.Duration // the call's duration, once over, when timed
	sleep      time.Duration // the backoff before the next attempt
	prevSleep  time.Duration
	nextDelay  time.Duration // StopScheduled's delay
	slot       int64         // the ConcurrencyLimiter's token of the attempt's slot
	token      int64         // the budget token of the retry about to be made (granted at, ns since the budget's epoch)
	ownHold    int64         // the end of the breaker hold this call's last failure set (ns since the breaker's epoch), 0: none
	waitedHold int64         // the end of the breaker hold this call waited out (HoldWait), 0: none

	maxAtt   int
	attempt  int // the attempt made or being made
	attempts int // attempts made, once over
	unknown  int
	perClass [numClasses]int32
	stop     StopReason
	mask     EventSet
	phase    stepPhase
	timed    bool // the call reads the clock
	endKnown bool // the last attempt's end is the call's end
	hasToken bool
	hasSlot  bool // the attempt holds a slot of the policy's ConcurrencyLimiter
	deposit  bool // the budget has the call's deposit
}

type stepPhase uint8

const (
	stepIdle    stepPhase = iota // not begun
	stepReady                    // begun, no attempt yet
	stepAttempt                  // Next admitted an attempt, End has not ended it
	stepRetry                    // End decided to retry: Next sleeps, then admits
	stepDone                     // the call is over
)

const timedEvents = 1<<EventAttemptEnd | 1<<EventRetry | TerminalEvents

// successEvents are the events a call whose first attempt succeeds may
// publish as it ends.
const successEvents EventSet = 1<<EventAttemptEnd | 1<<EventSuccess

// monoEpoch carries a monotonic clock reading: time.Since(monoEpoch) reads
// only the monotonic clock, cheaper than time.Now, which reads the wall
// clock too. The engine only ever needs durations.
var monoEpoch = time.Now()

// Begin starts a call of p with the per-call options c (nil for none). c is
// copied: the Step never writes to it and does not keep it, so one Call may
// serve many calls at once. (The labels, the bulk of a Call, are read only
// by events and copied only when the call may publish one: a subscriber
// that joins the bus during a call sees its events without them.) A nil p runs one attempt with no policy: Next
// reports true once and Err returns that attempt's error. Calling Begin on
// a Step already begun does nothing.
func (s *Step) Begin(ctx context.Context, p *Policy, c *Call) {
	if s.phase != stepIdle {
		return
	}
	s.begin(ctx, p, c, false)
}

// begin is Begin; a nil c: the options are in s.call already (Do, Run and
// Execute apply theirs there). wantElapsed: time the call (Execute reports
// its duration).
func (s *Step) begin(ctx context.Context, p *Policy, c *Call, wantElapsed bool) {
	s.p, s.ctx, s.opCtx, s.actx = p, ctx, ctx, ctx
	s.phase = stepReady
	if p == nil {
		return
	}
	own := c == nil
	if own {
		c = &s.call
	}
	s.call.Operation, s.call.Timeline, s.call.OnAttempt = c.Operation, c.Timeline, c.OnAttempt
	if s.call.Operation == "" {
		s.call.Operation = p.operation
	}
	s.breaker = c.Breaker
	if s.breaker == nil {
		s.breaker = p.breaker
	} else if p.bus != nil && s.breaker != p.breaker {
		s.breaker.attach(p.bus) // a per-call breaker serves the policy's bus from its first use on
	}
	s.maxAtt = p.maxAtt
	if n := c.MaxAttempts; n > 0 && n < s.maxAtt {
		s.maxAtt = n
	}
	mask, timedMask := p.bus.masks()
	s.mask = mask
	// Hooks and timelines get each attempt's duration too.
	s.timed = p.timed || wantElapsed || s.call.Timeline != nil || s.call.OnAttempt != nil ||
		timedMask&timedEvents != 0
	if mask != 0 || s.timed || !own && s.breaker != nil && s.breaker.buses.Load() != nil {
		s.beginObserved(c, own)
	}
}

// beginObserved is the rest of begin for a call that is timed or may
// publish an event: the labels, the bulk of a Call, read only by events,
// are copied when the call may publish one (a subscriber on the policy's
// bus, or a bus the breaker publishes its transitions on); the clock is
// read; operation_start is published. own: the options are s.call's.
func (s *Step) beginObserved(c *Call, own bool) {
	p := s.p
	if !own && (s.mask != 0 || s.breaker != nil && s.breaker.buses.Load() != nil) {
		s.call.Labels = c.Labels
	}
	if s.timed {
		if p.mono {
			s.m0 = time.Since(monoEpoch)
		} else {
			s.t0 = p.clock.Now()
		}
	}
	if s.mask.Has(EventOperationStart) {
		s.publishStart()
	}
}

// The engine's hot paths (begin, next, end) keep what a call that
// publishes nothing runs contiguous: building and publishing an event, and
// each rare branch, are functions of their own, so that an unobserved call
// touches few instruction cache lines.

// publishStart publishes operation_start and takes the context its
// decorators return.
func (s *Step) publishStart() {
	var e Event
	s.event(&e, EventOperationStart, 0)
	s.opCtx = s.p.bus.publishDecorate(s.ctx, &e)
	s.actx = s.opCtx
}

// since is the time since the call's start.
func (s *Step) since() time.Duration {
	if s.p.mono {
		return time.Since(monoEpoch) - s.m0
	}
	return s.p.clock.Now().Sub(s.t0)
}

// Next makes the call ready for its next attempt and reports true, or
// reports false when the call is over (Err then returns its error). Before
// a retry it sleeps the backoff End chose; before every attempt it checks
// the caller's context, the abort predicate and the deadline, asks the
// breaker to admit the attempt and derives the attempt's context
// (Context). A Next while an attempt is open (End not called) ends the call
// as aborted.
func (s *Step) Next() bool {
	if s.phase == stepDone {
		return false
	}
	return s.next()
}

func (s *Step) next() bool {
	switch s.phase {
	case stepReady:
	case stepRetry:
		if !s.sleepBackoff() {
			return false
		}
	case stepAttempt:
		s.abandon()
		return false
	default:
		return false
	}
	p := s.p
	if p == nil {
		s.attempt = 1
		s.phase = stepAttempt
		return true
	}
	prev := s.attempt
	if err := s.ctx.Err(); err != nil {
		s.refund()
		s.finish(StopCanceled, prev, err)
		return false
	}
	// The policy's own checks, and the clock read of a timed call, only
	// where the policy or the call has them (Policy.gated).
	var astart time.Duration
	if p.gated || s.timed {
		var ok bool
		if astart, ok = s.gate(prev); !ok {
			return false
		}
	}
	if br := s.breaker; br != nil {
		permit, closed := br.closedPermit()
		if !closed || br.throttler != nil {
			var ok bool
			if permit, ok = s.admit(br, permit, closed, prev); !ok {
				if s.hasSlot {
					s.releaseSlot(SlotIgnored) // not sent: its slot is free at once
				}
				return false
			}
		}
		s.permit = permit
	}
	s.hasToken = false // the retry is made: its token is spent
	if !s.deposit && p.budget != nil {
		p.budget.Deposit()
		s.deposit = true
	}
	s.attempt = prev + 1
	s.astart = astart
	s.actx = s.opCtx
	if p.attemptTO > 0 || p.deadline > 0 {
		s.attemptTimeout(astart)
	}
	if s.mask.Has(EventAttemptStart) {
		s.publishAttemptStart()
	}
	s.phase = stepAttempt
	if f := p.faults; f != nil && f.on.Load() && !s.injectFault(f) {
		return s.Next() // the fault ended the attempt: the next one, or the end
	}
	return true
}

// sleepBackoff sleeps the backoff before a retry; false: the sleep was cut
// short and the call is over.
func (s *Step) sleepBackoff() bool {
	if !s.sleepOrStop(s.sleep, s.attempt) {
		return false
	}
	s.prevSleep = s.sleep
	return true
}

// sleepOrStop sleeps d on the policy's Sleeper before the attempt after
// attempt prev (a backoff, a hold, a rate limiter's wait); a sleep cut
// short gives the budget token back and ends the call: canceled by the
// caller, or aborted by the Sleeper.
func (s *Step) sleepOrStop(d time.Duration, prev int) bool {
	if err := s.p.sleeper.Sleep(s.ctx, d); err != nil {
		s.refund()
		if cerr := s.ctx.Err(); cerr != nil {
			s.finish(StopCanceled, prev, cerr)
		} else {
			s.finish(StopAborted, prev, nil)
		}
		return false
	}
	return true
}

// admit is the breaker's admission of the attempt after attempt prev past
// its closed fast path: a breaker not closed (or held), or one with a
// throttler. permit and closed are what closedPermit answered. It returns
// the attempt's permit, or false when the breaker refused and the call is
// over.
func (s *Step) admit(br *Breaker, permit Permit, closed bool, prev int) (Permit, bool) {
	if !closed {
		var rej error
		var tr transition
		if h := br.holdUntil.Load(); (s.ownHold != 0 && h <= s.ownHold) || (s.waitedHold != 0 && h <= s.waitedHold) {
			// The hold is the one this call's own failure set, or one
			// it waited out (HoldWait), and the call has slept it (on
			// its Sleeper's time, which may not be the breaker's
			// clock): it goes on.
			permit, rej, tr = br.allowState()
		} else {
			permit, rej, tr = br.allow()
		}
		s.publishTransition(tr, prev+1)
		if rej != nil {
			s.refund() // the breaker opened (or was held) during the sleep: no retry
			s.finish(rejectionReason(rej), prev, rej)
			return Permit{}, false
		}
	}
	if rej := br.throttle(permit); rej != nil {
		s.refund()
		s.finish(StopThrottled, prev, rej)
		return Permit{}, false
	}
	return permit, true
}

// attemptTimeout derives the attempt's context with its timeout: the
// policy's AttemptTimeout, cut to what remains of its Deadline at astart.
func (s *Step) attemptTimeout(astart time.Duration) {
	p := s.p
	d := p.attemptTO
	if p.deadline > 0 {
		if rem := p.deadline - astart; d == 0 || rem < d {
			d = rem
		}
	}
	s.actx, s.cancel = context.WithTimeout(s.actx, d)
}

// publishAttemptStart publishes attempt_start and takes the context its
// decorators return.
func (s *Step) publishAttemptStart() {
	var e Event
	s.event(&e, EventAttemptStart, s.attempt)
	s.actx = s.p.bus.publishDecorate(s.actx, &e)
}

// gate runs the policy's checks before the attempt after attempt prev:
// the abort predicate, the wait for a hold (HoldWait), the deadline, the
// policy's throttler and its limiter. It returns the attempt's start (since the call's, on
// a timed call; the first attempt starts with the call), or false when a
// check ended the call.
func (s *Step) gate(prev int) (astart time.Duration, ok bool) {
	p := s.p
	if p.abortIf != nil && p.abortIf() {
		s.refund()
		s.finish(StopAborted, prev, nil)
		return 0, false
	}
	if p.holdWait != 0 && !s.waitHold(prev) {
		return 0, false
	}
	// One clock read serves the deadline check, the attempt context and
	// the attempt's start.
	if s.timed && prev > 0 {
		astart = s.since()
	}
	if p.deadline > 0 && astart >= p.deadline {
		s.refund()
		s.finish(StopDeadline, prev, nil)
		return 0, false
	}
	if th := p.throttler; th != nil {
		if ok, prob := th.allow(); !ok {
			s.refund()
			s.finish(StopThrottled, prev, &ThrottledError{Throttler: th.name, Probability: prob})
			return 0, false
		}
	}
	if rl := p.rateWait; rl != nil {
		if astart, ok = s.waitRate(rl, prev, astart); !ok {
			return 0, false
		}
	} else if lm := p.limiter; lm != nil {
		if ok, in := lm.Allow(); !ok {
			s.refund()
			s.finish(StopLimited, prev, &LimitedError{Limiter: lm.Name(), RetryIn: in})
			return 0, false
		}
	}
	if cl := p.conc; cl != nil {
		if astart, ok = s.acquireSlot(cl, prev, astart); !ok {
			return 0, false
		}
	}
	return astart, true
}

// acquireSlot takes the attempt's slot of the concurrency limiter cl; it
// returns the attempt's start (later by a queue wait, on a timed call), or
// false when there is no slot and the call is over.
func (s *Step) acquireSlot(cl ConcurrencyLimiter, prev int, astart time.Duration) (time.Duration, bool) {
	tok, err := cl.Acquire(s.ctx)
	if err != nil {
		s.refund()
		if cerr := s.ctx.Err(); cerr != nil {
			s.finish(StopCanceled, prev, cerr)
		} else {
			s.finish(StopConcurrencyLimited, prev, err)
		}
		return 0, false
	}
	s.slot, s.hasSlot = tok, true
	if s.timed {
		astart = s.since()
		if p := s.p; p.deadline > 0 && astart >= p.deadline {
			// The queue wait used up the call's timeout: the attempt is not
			// made (not a failure of the downstream's).
			s.releaseSlot(SlotIgnored)
			s.refund()
			s.finish(StopDeadline, prev, nil)
			return 0, false
		}
	}
	return astart, true
}

// releaseSlot gives the attempt's slot back to the concurrency limiter.
func (s *Step) releaseSlot(o SlotOutcome) {
	s.hasSlot = false
	s.p.conc.Release(s.slot, o)
}

// waitRate takes the rate limiter rl's token for the attempt after attempt
// prev, waiting for it when it comes within the limiter's MaxWait, the
// call's timeout and the caller's deadline; it returns the attempt's start
// (later by the wait, on a timed call), or false when the call is over.
func (s *Step) waitRate(rl *RateLimiter, prev int, astart time.Duration) (time.Duration, bool) {
	p := s.p
	limit := time.Duration(math.MaxInt64)
	if p.deadline > 0 {
		limit = p.deadline - astart
	}
	if dl, ok := s.ctx.Deadline(); ok {
		limit = min(limit, time.Until(dl))
	}
	d, r, ok := rl.reserve(limit)
	if !ok {
		s.refund()
		s.finish(StopLimited, prev, &LimitedError{Limiter: rl.name, RetryIn: d})
		return 0, false
	}
	if d == 0 {
		return astart, true
	}
	if s.mask.Has(EventRateLimitWait) {
		var e Event
		s.event(&e, EventRateLimitWait, prev+1)
		e.Sleep = d
		p.bus.publish(s.opCtx, &e)
	}
	if !s.sleepOrStop(d, prev) {
		r.CancelAt(rl.clock.Now()) // the token goes back to the bucket
		return 0, false
	}
	if s.timed {
		astart = s.since()
	}
	return astart, true
}

// Context returns the context of the attempt Next admitted: the caller's,
// with the attempt's timeout and what attempt_start subscribers added. Use
// it for the attempt and nothing else; before the first Next it is the
// caller's context.
func (s *Step) Context() context.Context { return s.actx }

// Attempt returns the number of the attempt Next admitted (1 for the
// first), 0 before the first.
func (s *Step) Attempt() int { return s.attempt }

// SetStatusCode sets the HTTP status code label (Labels.StatusCode) of the
// attempt being made and of the call's later events, until set again.
func (s *Step) SetStatusCode(code int) { s.call.Labels.StatusCode = code }

// SetRPCStatusCode sets the RPC status label (Labels.RPCStatusCode) of the
// attempt being made and of the call's later events, until set again.
func (s *Step) SetRPCStatusCode(code string) { s.call.Labels.RPCStatusCode = code }

// Retrying reports whether the attempt End just ended is to be retried:
// Next will sleep the backoff and admit the next attempt (unless the
// caller's context or the breaker stops it first). A wrapper uses it to
// release what the failed attempt held (a response body, a connection)
// before the sleep.
func (s *Step) Retrying() bool { return s.phase == stepRetry }

// Err returns the call's error once Next has reported false: nil when an
// attempt succeeded or the policy's Fallback supplied the result
// (Fallback returns it), else the error that stopped the call (see
// Policy.Run). Before that it returns nil.
func (s *Step) Err() error { return s.err }

// End ends the attempt Next admitted with its error (nil for a success):
// the breaker and the policy's adaptive strategies hear of it, and the
// policy decides whether to retry (Next then sleeps and admits the next
// attempt) or to stop (Next then reports false). A failure the policy
// retries costs a retry budget token. End without an open attempt does
// nothing.
func (s *Step) End(err error) { s.end(err, nil, false) }

// end is End, and EndValue when valued: the attempt returned v.
func (s *Step) end(err error, v any, valued bool) {
	if s.phase != stepAttempt {
		return
	}
	p := s.p
	if p == nil {
		s.err, s.attempts, s.phase = err, 1, stepDone
		return
	}
	if valued && err == nil && p.resultCl != nil {
		err = s.result(v)
	}
	if s.timed {
		s.aend = s.since()
		s.adur = s.aend - s.astart
	}
	if s.cancel != nil {
		s.cancel()
		s.cancel = nil
	}
	attempt := s.attempt
	if err != nil {
		s.failed(err, attempt)
		return
	}
	if s.hasSlot {
		s.releaseSlot(SlotSucceeded)
	}
	if br := s.breaker; br != nil {
		if br.throttler == nil && !s.permit.probe {
			br.closedSuccess()
		} else {
			s.breakerSucceeded(br, attempt)
		}
	}
	if p.throttler != nil || len(p.observers) > 0 {
		s.policySucceeded()
	}
	if !s.timed && s.mask&successEvents == 0 {
		// Nothing to time, record or publish (a hook or a timeline makes
		// the call timed; a subscriber may want other events only, such
		// as a breaker's transitions).
		s.phase, s.attempts = stepDone, attempt
		return
	}
	s.succeeded(attempt)
}

// result is the error the policy's Retry.ResultClassifier makes of the
// value v of the attempt being ended, nil when v is acceptable.
func (s *Step) result(v any) error {
	err := s.p.resultCl(v)
	if err != nil {
		s.last = v
	}
	return err
}

// breakerSucceeded tells the call's breaker br, which has a throttler or
// gave this attempt a probe, that the attempt succeeded.
func (s *Step) breakerSucceeded(br *Breaker, attempt int) {
	br.throttleSuccess()
	if s.permit.probe {
		s.publishTransition(s.permit.probeSucceeded(), attempt)
	} else {
		br.closedSuccess()
	}
}

// policySucceeded tells the policy's throttler and adaptive strategies
// that an attempt succeeded.
func (s *Step) policySucceeded() {
	if th := s.p.throttler; th != nil {
		th.Record(true)
	}
	for _, o := range s.p.observers {
		o.Observe(false)
	}
}

// succeeded ends a call whose attempt succeeded, for a call that times,
// records or publishes: attempt_end, the attempt's record, the terminal
// event.
func (s *Step) succeeded(attempt int) {
	p := s.p
	if s.mask.Has(EventAttemptEnd) {
		s.publishSuccessEnd(attempt)
	}
	if s.call.Timeline != nil || p.onAttempt != nil || s.call.OnAttempt != nil {
		s.record(AttemptRecord{Attempt: attempt, Decision: DecisionSuccess, Duration: s.adur})
	}
	s.endKnown = true // the attempt's end is the call's end
	s.done(StopNone, attempt, nil, math.NaN())
}

// publishSuccessEnd publishes the attempt_end of a successful attempt.
func (s *Step) publishSuccessEnd(attempt int) {
	var e Event
	s.event(&e, EventAttemptEnd, attempt)
	e.AttemptDuration = s.adur
	e.Elapsed = s.aend
	s.p.bus.publish(s.actx, &e)
}

// EndValue is End for an attempt that returned a value v: when err is nil
// and the policy has a Retry.ResultClassifier, the classifier sees v, and
// a value it turns into a failure is retried like an error (and reported
// as the RetryError's LastResult if the call stops on it).
func (s *Step) EndValue(v any, err error) { s.end(err, v, true) }

// failed is End for a failed attempt.
func (s *Step) failed(err error, attempt int) {
	p := s.p
	// The caller's cancellation is not the downstream's fault, nor is a
	// failure at the caller's deadline (DeadlineSlack).
	s.lastErr = err
	cerr := s.ctx.Err()
	if cerr == nil && atCallerDeadline(s.ctx) {
		cerr = context.DeadlineExceeded
	}
	if s.hasSlot && (cerr != nil || IsAbort(err)) {
		s.releaseSlot(SlotIgnored)
	}
	if cerr != nil {
		s.permit.Cancel()
		s.lastCl = Classification{Class: ClassUnknown, Reason: "canceled"}
		s.attemptEnd(attempt, s.lastCl)
		s.finish(StopCanceled, attempt, cerr)
		return
	}
	if IsAbort(err) {
		s.permit.Cancel()
		s.attemptEnd(attempt, Classification{Reason: "aborted"})
		s.finish(StopAborted, attempt, nil)
		return
	}
	cl := p.classify(err)
	if !cl.Class.Valid() {
		cl.Class = ClassUnknown
	}
	if !cl.NoRetry && IsNoRetry(err) {
		cl.NoRetry = true
	}
	s.lastCl = cl
	if s.hasSlot {
		o := SlotSucceeded
		if againstHealth(cl.Class) {
			o = SlotFailed
		}
		s.releaseSlot(o)
	}
	for _, o := range p.observers {
		o.Observe(true)
	}
	if p.budget != nil && p.budget.adaptive && againstHealth(cl.Class) {
		p.budget.Failed()
	}
	if th := p.throttler; th != nil {
		th.Record(!againstHealth(cl.Class))
	}
	s.attemptEnd(attempt, cl)
	if br := s.breaker; br != nil {
		br.throttleFailure(cl.Class)
		if cl.RetryAfter > 0 && (cl.Class == ClassRateLimit || cl.Class == ClassServerError) {
			s.ownHold = br.hold(cl.RetryAfter) // the downstream asked every caller to wait
		}
		if br.trips(cl.Class) {
			s.publishTransition(s.permit.failure(cl.Class, br.clock.Now()), attempt)
		} else {
			s.publishTransition(s.permit.success(), attempt)
		}
	}
	if r := s.retryVerdict(cl, err, attempt); r != StopNone {
		s.finish(r, attempt, nil)
		return
	}
	strat := p.strategies[cl.Class]
	if strat == nil {
		s.finish(StopNoStrategy, attempt, nil)
		return
	}
	in := BackoffInput{Attempt: attempt, Class: cl.Class, Classification: cl, PrevSleep: s.prevSleep, Err: err}
	var elapsed time.Duration
	if p.deadline > 0 {
		elapsed = s.since()
		in.HasDeadline = true
		in.Remaining = max(p.deadline-elapsed, 0)
	}
	delay := max(strat.Backoff(in), 0)
	if p.deadline > 0 && delay >= p.deadline-elapsed {
		s.finish(StopDeadline, attempt, nil)
		return
	}
	// Likewise the caller's own deadline: sleeping past it would only end
	// in a cancellation, so refuse up front (as rate.Limiter.Wait does).
	if dl, ok := s.ctx.Deadline(); ok && delay >= time.Until(dl) {
		s.finish(StopDeadline, attempt, nil)
		return
	}
	if p.abortIf != nil && p.abortIf() {
		s.finish(StopAborted, attempt, nil)
		return
	}
	// A breaker that will still be open when the sleep ends would only
	// reject the next attempt: stop now, without a token or a sleep.
	if br := s.breaker; br != nil {
		if wait := br.heldFor(); wait > delay && br.holdUntil.Load() > s.ownHold {
			if !s.mayWaitHold(wait, elapsed) {
				s.finish(StopHeld, attempt, &HeldError{Breaker: br.name, RetryIn: wait})
				return
			}
			delay = wait // HoldWait: sleep the hold instead of the backoff
			s.waitedHold = br.holdUntil.Load()
		}
		if wait := br.openFor(); wait > delay {
			s.finish(StopCircuitOpen, attempt, &CircuitOpenError{Breaker: br.name, State: StateOpen, RetryIn: wait})
			return
		}
	}
	remaining := math.NaN()
	if b := p.budget; b != nil {
		var ok bool
		var granted int64
		ok, remaining, granted = b.withdraw()
		if !ok {
			s.decide(attempt, DecisionRaise, StopBudgetExhausted, 0)
			s.done(StopBudgetExhausted, attempt, nil, remaining)
			return
		}
		s.token, s.hasToken = granted, true
	}
	if s.mask.Has(EventRetry) {
		var e Event
		s.event(&e, EventRetry, attempt)
		e.Class, e.Reason, e.Err, e.Sleep = cl.Class, cl.Reason, err, delay
		if s.timed {
			e.Elapsed = s.since()
		}
		if p.budget != nil {
			e.BudgetRemaining = remaining
		}
		p.bus.publish(s.opCtx, &e)
	}
	info := SleepInfo{Policy: p.name, Operation: s.call.Operation, Attempt: attempt, Classification: cl, Delay: delay, Err: err}
	if p.sleepH != nil {
		switch p.sleepH(s.opCtx, info) {
		case SleepDefer:
			s.nextDelay = delay
			s.decide(attempt, DecisionScheduled, StopScheduled, delay)
			s.done(StopScheduled, attempt, nil, math.NaN())
			return
		case SleepAbort:
			s.refund()
			s.finish(StopAborted, attempt, nil)
			return
		}
	}
	s.decide(attempt, DecisionRetry, StopNone, delay)
	if p.beforeS != nil {
		p.beforeS(s.opCtx, info)
	}
	s.sleep = delay
	s.phase = stepRetry
}

// againstHealth reports whether a failure of class c says the downstream
// is unhealthy (an adaptive budget scales its ratio down): it failed, timed
// out or asked callers to slow down; it answered the other classes.
func againstHealth(c Class) bool {
	switch c {
	case ClassTransient, ClassServerError, ClassRateLimit, ClassUnknown:
		return true
	}
	return false
}

// retryVerdict is the stop reason that forbids a retry of err, a failure
// of class cl, after attempt attempts, StopNone when a retry is allowed
// (the class, the caps of the class, of unknown failures and of the call,
// and last whether the operation may be sent again).
func (s *Step) retryVerdict(cl Classification, err error, attempt int) StopReason {
	p := s.p
	if !cl.Class.Retryable() || cl.NoRetry {
		return StopNonRetryableClass
	}
	s.perClass[cl.Class]++
	if lim := p.perClass[cl.Class]; lim >= 0 && s.perClass[cl.Class] >= max(lim, 1) {
		return StopMaxAttemptsPerClass
	}
	if cl.Class == ClassUnknown {
		s.unknown++
		if p.maxUnknown > 0 && s.unknown >= p.maxUnknown {
			return StopMaxUnknownAttempts
		}
	}
	if attempt >= s.maxAtt {
		return StopMaxAttempts
	}
	if IsNotResendable(err) {
		return StopNotResendable
	}
	if !p.nested && CallerRetries(s.ctx) {
		return StopCallerRetries
	}
	return StopNone
}

// Close ends a call its caller left unfinished: an attempt that panicked
// (or that End never ended) has its breaker permit and context released,
// so that a half-open breaker is not left waiting for a probe's verdict
// and no timer leaks, and publishes nothing (the panic goes on); a retry
// End decided but Next never made gives its budget token back and ends
// the call as aborted. After a call Next ended it does nothing. Defer it
// after Begin.
func (s *Step) Close() {
	if s.phase != stepDone {
		s.close()
	}
}

func (s *Step) close() {
	switch s.phase {
	case stepAttempt:
		s.phase = stepDone
		if s.hasSlot {
			s.releaseSlot(SlotIgnored)
		}
		s.permit.Cancel()
		if s.cancel != nil {
			s.cancel()
			s.cancel = nil
		}
	case stepRetry:
		s.refund()
		s.finish(StopAborted, s.attempt, nil)
	case stepReady:
		s.phase = stepDone
	}
}

// abandon ends a call whose caller asked for the next attempt without
// ending the current one.
func (s *Step) abandon() {
	if s.hasSlot {
		s.releaseSlot(SlotIgnored)
	}
	s.permit.Cancel()
	if s.cancel != nil {
		s.cancel()
		s.cancel = nil
	}
	if s.p == nil {
		s.phase = stepDone
		return
	}
	s.finish(StopAborted, s.attempt, nil)
}

// holdToWait returns how long the call waits before its attempt for its
// breaker's hold to end (RetryConfig.HoldWait), or 0: no hold, a hold the
// call set or already waited out, or one too long to wait.
// waitHold waits out a breaker hold that ends in time (RetryConfig.HoldWait)
// before the attempt after attempt prev; false: the wait was cut short and
// the call is over.
func (s *Step) waitHold(prev int) bool {
	w := s.holdToWait()
	if w <= 0 {
		return true
	}
	if !s.sleepOrStop(w, prev) {
		return false
	}
	s.waitedHold = s.breaker.holdUntil.Load()
	return true
}

func (s *Step) holdToWait() time.Duration {
	br := s.breaker
	if br == nil || s.p.holdWait == 0 {
		return 0
	}
	if h := br.holdUntil.Load(); h == 0 || h <= s.ownHold || h <= s.waitedHold {
		return 0
	}
	w := br.heldFor()
	if w <= 0 || !s.mayWaitHold(w, s.since()) {
		return 0
	}
	return w
}

// mayWaitHold reports whether the policy waits out a hold of w, the call
// being elapsed old: w is at most HoldWait and ends before the policy's
// deadline and the caller's.
func (s *Step) mayWaitHold(w, elapsed time.Duration) bool {
	p := s.p
	if w > p.holdWait {
		return false
	}
	if p.deadline > 0 && elapsed+w >= p.deadline {
		return false
	}
	if dl, ok := s.ctx.Deadline(); ok && w >= time.Until(dl) {
		return false
	}
	return true
}

// refund gives back the budget token of a retry that is not made after
// all (the sleep cancelled or aborted, or a check before the attempt
// stopped the call).
func (s *Step) refund() {
	if s.hasToken {
		s.hasToken = false
		s.p.budget.refund(s.token)
	}
}

// event fills the zero event e (on the caller's stack: events are built
// in place and copied once per subscriber).
func (s *Step) event(e *Event, k EventKind, attempt int) {
	e.Kind = k
	e.Policy = s.p.name
	e.Operation = s.call.Operation
	e.Attempt = attempt
	e.Budget = s.p.budget
	e.Labels = s.call.Labels
	if s.breaker != nil {
		e.Breaker = s.breaker
		e.BreakerState = s.breaker.State()
	}
}

// publishTransition emits tr, a transition of the call's breaker, with the
// call's policy, operation and labels (whatever events the call publishes:
// a transition belongs to the breaker, and the breaker's buses see them
// all). Every transition made is emitted exactly once.
func (s *Step) publishTransition(tr transition, attempt int) {
	if tr.by == 0 {
		return
	}
	if !s.breaker.wants(tr) {
		s.breaker.emit(s.opCtx, tr, nil)
		return
	}
	var e Event
	s.event(&e, transitionKind(tr.to), attempt)
	s.breaker.emit(s.opCtx, tr, &e)
}

// attemptEnd publishes attempt_end for a failed attempt and records it.
func (s *Step) attemptEnd(attempt int, cl Classification) {
	if s.mask.Has(EventAttemptEnd) {
		var e Event
		s.event(&e, EventAttemptEnd, attempt)
		e.Class, e.Reason, e.Err = cl.Class, cl.Reason, s.lastErr
		e.AttemptDuration = s.adur
		e.Elapsed = s.aend
		s.p.bus.publish(s.actx, &e)
	}
	s.record(AttemptRecord{Attempt: attempt, Classification: cl, Err: s.lastErr, Decision: DecisionRaise, Duration: s.adur})
}

// record appends to the timeline, if any.
func (s *Step) record(r AttemptRecord) {
	if tl := s.call.Timeline; tl != nil {
		tl.Attempts = append(tl.Attempts, r)
	}
	if r.Decision == DecisionSuccess {
		s.hook(r)
	}
}

// decide sets the decision of the attempt just recorded and calls the hooks.
func (s *Step) decide(attempt int, d AttemptDecision, stop StopReason, sleep time.Duration) {
	var r AttemptRecord
	if tl := s.call.Timeline; tl != nil && len(tl.Attempts) > 0 && tl.Attempts[len(tl.Attempts)-1].Attempt == attempt {
		last := &tl.Attempts[len(tl.Attempts)-1]
		last.Decision, last.StopReason, last.Sleep = d, stop, sleep
		r = *last
	} else {
		r = AttemptRecord{Attempt: attempt, Classification: s.lastCl, Err: s.lastErr, Decision: d, StopReason: stop, Sleep: sleep, Duration: s.adur}
	}
	s.hook(r)
}

func (s *Step) hook(r AttemptRecord) {
	p := s.p
	if p.onAttempt == nil && s.call.OnAttempt == nil {
		return
	}
	a := AttemptInfo{
		Policy: p.name, Operation: s.call.Operation, Attempt: r.Attempt, Err: r.Err,
		Classification: r.Classification, Decision: r.Decision, StopReason: r.StopReason,
		Sleep: r.Sleep, Duration: r.Duration,
	}
	if p.onAttempt != nil {
		p.onAttempt(a)
	}
	if s.call.OnAttempt != nil {
		s.call.OnAttempt(a)
	}
}

// finish ends the call with a failure found before an attempt (or the
// caller's cancellation after one), with cause: the caller's context error
// or the breaker's rejection, if that is why.
func (s *Step) finish(r StopReason, attempts int, cause error) {
	if attempts > 0 && !r.rejection() && r != StopCanceled {
		d := DecisionRaise
		if r == StopAborted {
			d = DecisionAborted
		}
		s.decide(attempts, d, r, 0)
	}
	s.done(r, attempts, cause, math.NaN())
}

// done ends the call with r and publishes its terminal event. remaining is
// the budget's balance when a budget decision ended it (NaN otherwise).
func (s *Step) done(r StopReason, attempts int, cause error, remaining float64) {
	s.phase = stepDone
	s.attempts = attempts
	s.stop = r
	var err error
	switch {
	case r == StopNone:
	case r.rejection() && attempts == 0:
		err = cause // the typed rejection itself
	default:
		s.re = &RetryError{Reason: r, Class: s.lastCl.Class, Attempts: attempts, Err: s.lastErr, NextDelay: s.nextDelay, LastResult: s.last, cause: cause}
		err = s.re
	}
	s.err = err
	if s.p.fallback != nil && r.fallsBack() {
		s.err = s.fallback(r, attempts, err)
	}
	if s.timed {
		s.elapsed = s.aend
		if !s.endKnown {
			s.elapsed = s.since()
		}
	}
	k := terminalFor(r)
	if !s.mask.Has(k) {
		return
	}
	var e Event
	s.event(&e, k, attempts)
	e.StopReason = r
	e.Err = err
	e.Elapsed = s.elapsed
	e.Sleep = s.nextDelay
	if r != StopNone {
		e.Class, e.Reason = s.lastCl.Class, s.lastCl.Reason
	}
	switch {
	case r == StopNone && attempts <= 1:
		e.Outcome = OutcomeSuccess
	case r == StopNone:
		e.Outcome = OutcomeSuccessAfterRetry
	case r.rejection():
		e.Outcome = OutcomeRejected
	default:
		e.Outcome = OutcomeFailure
	}
	if !math.IsNaN(remaining) {
		e.BudgetRemaining = remaining
	}
	s.p.bus.publish(s.opCtx, &e)
}
