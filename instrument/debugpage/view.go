package redressdebug

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/redress-go/redress/core"
	"github.com/redress-go/redress/internal/cowmap"
	"github.com/redress-go/redress/internal/telemetry"
)

// Events is the set of events a Page handles: the terminal events (one per
// call) and the breaker transitions.
const Events = core.TerminalEvents | core.CircuitEvents

// OtherName is the policy and operation name of the bucket that counts the
// operations beyond Config.MaxOperations.
const OtherName = "(other)"

const (
	ringSecs = 60 // per-second buckets of calls and failures
	slotSecs = 15 // width of the slots of attempts and stop reasons
	numSlots = 4  // the slots cover the last 45 to 60 seconds
	numStops = 18 // core.StopNone .. core.StopConcurrencyLimited
	farPast  = -1 << 40
	ellipsis = "…"
)

// Page is a core.Subscriber that keeps a small, bounded view of what every
// policy, operation, breaker and budget it sees is doing, and an
// http.Handler that shows it (see the package doc). It is safe for
// concurrent use.
type Page struct {
	clock          core.Clock
	maxOps         int
	maxFailures    int
	maxTransitions int
	maxErrLen      int
	com            telemetry.Common // Policy and RedactError
	authorize      func(*http.Request) bool

	sysClock bool      // clock is the system clock: read the monotonic clock only
	epoch    time.Time // with sysClock, the wall and monotonic time at New
	epochNs  int64     // epoch.UnixNano()

	ops cowmap.Map[opKey, *opEntry]
	// tracked holds the breakers and budgets already in p.breakers and
	// p.budgets, read without p.mu: an operation whose calls alternate
	// between per-host breakers takes no lock on its success path.
	trackedBrk cowmap.Map[*core.Breaker, struct{}]
	trackedBud cowmap.Map[*core.Budget, struct{}]
	front      [telemetry.FrontSize]atomic.Pointer[opEntry] // see entry
	newMu      sync.Mutex                                   // serialises the creation of entries
	full       atomic.Bool                                  // ops holds maxOps entries: new pairs go to other
	other      *opEntry
	dropped    atomic.Uint64 // events counted in other

	mu       sync.Mutex // guards breakers, budgets and declared
	breakers map[*core.Breaker]*brkEntry
	budgets  map[*core.Budget]string
	// The breakers and budgets seen beyond maxOps, not tracked: each is
	// counted once (up to maxOps of them are remembered for that).
	brkDropped  map[*core.Breaker]struct{}
	budDropped  map[*core.Budget]struct{}
	breakerList []*brkEntry // in order of discovery
}

type opKey struct{ policy, op string }

// second is one second of an operation's ring: the calls in the high 16
// bits, the failures in the low 16; the calls saturate at maxPerSecond.
type second struct{ v atomic.Uint32 }

// maxPerSecond is the most calls a second of the ring counts.
const maxPerSecond = 1<<16 - 1

func (s *second) add(failed bool) {
	d := uint32(1 << 16)
	if failed {
		d++
	}
	for {
		v := s.v.Load()
		if v>>16 == maxPerSecond || s.v.CompareAndSwap(v, v+d) {
			return
		}
	}
}

func (s *second) load() (calls, fails uint32) {
	v := s.v.Load()
	return v >> 16, v & maxPerSecond
}

// slot is slotSecs seconds of an operation's attempts and stops.
type slot struct {
	attempts atomic.Uint32
	stops    [numStops]atomic.Uint32 // stops[StopNone]: successes
}

// opEntry is the view of one (policy, operation).
type opEntry struct {
	policy, op string
	total      atomic.Uint64 // calls since the page started
	lastSec    atomic.Int64  // newest second ring holds
	lastSlot   atomic.Int64  // newest slot index slots hold
	firstSec   atomic.Int64  // the second of the first call counted
	ring       [ringSecs]second
	slots      [numSlots]slot
	seen       telemetry.Seen // the breaker and budget last seen

	mu       sync.Mutex // ring and slot advances, failures
	failures []failure  // ring of the last maxFailures, allocated on the first
	nextFail int
}

// failure is one recent failed call.
type failure struct {
	at       int64 // unix nanoseconds
	attempts int32
	errIdx   uint8 // telemetry.ErrIndex: 0 none, else 1 + class
	stop     core.StopReason
	kind     core.EventKind
	text     string
}

// brkEntry is the view of one breaker.
type brkEntry struct {
	b      *core.Breaker
	policy string
	name   string
	// hist is a ring of the last maxTransitions transitions; n counts all.
	hist []transition
	n    int
}

type transition struct {
	at       int64
	from, to core.BreakerState
}

// New returns a Page, or a *core.ConfigError naming the invalid field.
func New(cfg Config) (*Page, error) {
	p := &Page{
		clock: cfg.Clock, maxOps: cfg.MaxOperations, maxFailures: cfg.MaxFailures,
		maxTransitions: cfg.MaxTransitions, maxErrLen: cfg.MaxErrorLen,
		authorize: cfg.Authorize,
		breakers:  map[*core.Breaker]*brkEntry{}, budgets: map[*core.Budget]string{},
		brkDropped: map[*core.Breaker]struct{}{}, budDropped: map[*core.Budget]struct{}{},
	}
	if p.clock == nil {
		p.clock = core.SystemClock{}
	}
	if _, ok := p.clock.(core.SystemClock); ok {
		p.sysClock, p.epoch = true, time.Now()
		p.epochNs = p.epoch.UnixNano()
	} else if v := reflect.ValueOf(p.clock); (v.Kind() == reflect.Pointer || v.Kind() == reflect.Func) && v.IsNil() {
		return nil, &core.ConfigError{Field: "Config.Clock", Reason: fmt.Sprintf("is a nil %T (a typed nil, which would panic at the first event): leave it nil for the system clock", cfg.Clock)}
	}
	bound := func(field string, v *int, def, limit int) error {
		switch {
		case *v < 0:
			return &core.ConfigError{Field: field, Reason: fmt.Sprintf("must not be negative, got %d", *v)}
		case *v > limit:
			return &core.ConfigError{Field: field, Reason: fmt.Sprintf("must be at most %d, got %d", limit, *v)}
		case *v == 0:
			*v = def
		}
		return nil
	}
	if err := bound("Config.MaxOperations", &p.maxOps, DefaultMaxOperations, maxMaxOperations); err != nil {
		return nil, err
	}
	if err := bound("Config.MaxFailures", &p.maxFailures, DefaultMaxFailures, maxMaxFailures); err != nil {
		return nil, err
	}
	if err := bound("Config.MaxTransitions", &p.maxTransitions, DefaultMaxTransitions, maxMaxTransitions); err != nil {
		return nil, err
	}
	if err := bound("Config.MaxErrorLen", &p.maxErrLen, DefaultMaxErrorLen, maxMaxErrorLen); err != nil {
		return nil, err
	}
	if err := telemetry.CheckPolicies("Config.Policies", cfg.Policies); err != nil {
		return nil, err
	}
	redact := cfg.RedactError
	if redact == nil {
		redact = DefaultRedactError
	}
	var err error
	if p.com, err = telemetry.NewCommon(telemetry.Common{Events: Events, Policy: cfg.Policy, RedactError: redact}); err != nil {
		return nil, err
	}
	p.other = newOpEntry(OtherName, OtherName)
	for _, pol := range cfg.Policies {
		p.Declare(pol)
	}
	return p, nil
}

// queryRE matches the query string or fragment of a URL inside a text.
var queryRE = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]*://[^\s"'?#]*)[?#][^\s"']*`)

// DefaultRedactError is the default Config.RedactError: err.Error() with
// the query string and fragment of every absolute URL in it cut (the form
// net/http's errors take). It does not recognise a relative request target
// ("GET /v1/users?token=…") or credentials in a URL's userinfo
// ("postgres://user:secret@host"): when errors of yours may carry those,
// set a RedactError that scrubs them.
func DefaultRedactError(err error) string {
	s := err.Error()
	if strings.ContainsAny(s, "?#") {
		s = queryRE.ReplaceAllString(s, "$1")
	}
	return s
}

func newOpEntry(policy, op string) *opEntry {
	e := &opEntry{policy: policy, op: op}
	e.lastSec.Store(farPast)
	e.lastSlot.Store(farPast)
	return e
}

// Events implements core.Subscriber.
func (p *Page) Events() core.EventSet { return Events }

// DurationFree implements core.DurationFree: the page never reads the
// events' durations.
func (p *Page) DurationFree() bool { return true }

// Declare shows the breaker and the budget of policy pol before its first
// event. A nil pol is ignored.
func (p *Page) Declare(pol *core.Policy) {
	if pol == nil {
		return
	}
	p.addBreaker(pol.Name(), pol.Breaker())
	p.addBudget(pol.Name(), pol.Budget())
}

// Handle implements core.Subscriber. On a call's success it does a map
// lookup, one clock read and a few atomic adds, and allocates nothing once
// the operation is known.
func (p *Page) Handle(_ context.Context, e core.Event) {
	if !p.com.Wants(e.Policy) {
		return
	}
	switch {
	case e.Kind.Terminal():
		p.terminal(&e)
	case Events.Has(e.Kind):
		p.transition(&e)
	}
}

// now returns the time. With the system clock it reads only the monotonic
// clock (one clock read instead of time.Now's two): the wall time of New
// plus the monotonic time since.
func (p *Page) now() time.Time {
	if p.sysClock {
		return time.Unix(0, p.nowNs())
	}
	return p.clock.Now()
}

// nowNs is now in Unix nanoseconds.
func (p *Page) nowNs() int64 {
	if p.sysClock {
		return p.epochNs + int64(time.Since(p.epoch))
	}
	return p.clock.Now().UnixNano()
}

// entry returns the view of (policy, op). A direct-mapped front, indexed by
// the addresses of the two strings, answers most lookups with one atomic
// load and two short string comparisons; a miss falls back to the map and
// takes the slot over. An operation with a query string always takes the
// map (its entry is named without it).
func (p *Page) entry(policy, op string) *opEntry {
	slot := &p.front[telemetry.FrontIndex(policy, op)%telemetry.FrontSize]
	if en := slot.Load(); en != nil && en.op == op && en.policy == policy {
		return en
	}
	k := opKey{policy, telemetry.CutQuery(op)}
	if en, ok := p.ops.Load(k); ok {
		slot.Store(en)
		return en
	}
	if p.full.Load() {
		p.dropped.Add(1)
		return p.other
	}
	p.newMu.Lock()
	defer p.newMu.Unlock()
	if en, ok := p.ops.Load(k); ok {
		return en
	}
	if p.ops.Len() >= p.maxOps {
		p.full.Store(true)
		p.dropped.Add(1)
		return p.other
	}
	return p.ops.LoadOrStore(k, func() *opEntry { return newOpEntry(strings.Clone(k.policy), strings.Clone(k.op)) })
}

func (p *Page) terminal(e *core.Event) {
	now := p.nowNs()
	en := p.entry(e.Policy, e.Operation)
	if en.seen.NewBreaker(e.Breaker) {
		p.addBreaker(e.Policy, e.Breaker)
	}
	if en.seen.NewBudget(e.Budget) {
		p.addBudget(e.Policy, e.Budget)
	}
	en.total.Add(1)
	sec := now / int64(time.Second)
	failed := e.Kind != core.EventSuccess
	if sec >= 0 { // a clock before 1970 counts in Total only
		en.count(sec, e.Attempt, e.StopReason, failed)
	}
	if failed {
		p.recordFailure(en, e, now)
	}
}

// count counts one call ending in second sec (not negative).
func (en *opEntry) count(sec int64, attempt int, stop core.StopReason, failed bool) {
	if en.advanceRing(sec) {
		en.ring[sec%ringSecs].add(failed)
	}
	q := sec / slotSecs
	if en.advanceSlots(q) {
		sl := &en.slots[q%numSlots]
		if attempt > 0 {
			sl.attempts.Add(uint32(attempt))
		}
		if int(stop) < numStops {
			sl.stops[stop].Add(1)
		}
	}
}

// advanceRing makes the ring hold second sec, zeroing the seconds it moves
// past, and reports whether sec is within the ring.
func (en *opEntry) advanceRing(sec int64) bool {
	if last := en.lastSec.Load(); sec <= last {
		return sec > last-ringSecs
	}
	en.mu.Lock()
	defer en.mu.Unlock()
	last := en.lastSec.Load()
	if sec > last {
		if last == farPast {
			en.firstSec.Store(sec)
		}
		for t := max(last+1, sec-ringSecs+1, 0); t <= sec; t++ {
			en.ring[t%ringSecs].v.Store(0)
		}
		en.lastSec.Store(sec)
		return true
	}
	return sec > last-ringSecs
}

// advanceSlots is advanceRing for the slots, q being sec/slotSecs.
func (en *opEntry) advanceSlots(q int64) bool {
	if last := en.lastSlot.Load(); q <= last {
		return q > last-numSlots
	}
	en.mu.Lock()
	defer en.mu.Unlock()
	last := en.lastSlot.Load()
	if q > last {
		for t := max(last+1, q-numSlots+1, 0); t <= q; t++ {
			sl := &en.slots[t%numSlots]
			sl.attempts.Store(0)
			for i := range sl.stops {
				sl.stops[i].Store(0)
			}
		}
		en.lastSlot.Store(q)
		return true
	}
	return q > last-numSlots
}

func (p *Page) recordFailure(en *opEntry, e *core.Event, now int64) {
	var text string
	if err := e.Err; err != nil {
		// The page shows the stop reason and the attempts itself: show the
		// last failure, not the RetryError's summary of it.
		if re, ok := err.(*core.RetryError); ok && re.Err != nil {
			err = re.Err
		}
		text = p.cut(p.com.RedactError(err))
	}
	f := failure{
		at: now, attempts: int32(min(e.Attempt, 1<<30)), errIdx: uint8(telemetry.ErrIndex(e)),
		stop: e.StopReason, kind: e.Kind, text: text,
	}
	en.mu.Lock()
	if en.failures == nil {
		en.failures = make([]failure, 0, p.maxFailures)
	}
	if len(en.failures) < p.maxFailures {
		en.failures = append(en.failures, f)
	} else {
		en.failures[en.nextFail] = f
	}
	en.nextFail = (en.nextFail + 1) % p.maxFailures
	en.mu.Unlock()
}

// cut bounds s to maxErrLen bytes, at a rune boundary, in a copy of its
// own (so that the page never holds a larger error text alive).
func (p *Page) cut(s string) string {
	if len(s) <= p.maxErrLen {
		return strings.Clone(s)
	}
	n := p.maxErrLen - len(ellipsis)
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:max(n, 0)] + ellipsis
}

func (p *Page) addBreaker(policy string, b *core.Breaker) {
	if b == nil {
		return
	}
	if _, ok := p.trackedBrk.Load(b); ok {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.breakerLocked(policy, b)
}

// breakerLocked returns the entry of b, adding it if there is room; p.mu
// must be held.
func (p *Page) breakerLocked(policy string, b *core.Breaker) *brkEntry {
	if be, ok := p.breakers[b]; ok {
		return be
	}
	if len(p.breakers) >= p.maxOps {
		if len(p.brkDropped) < p.maxOps {
			p.brkDropped[b] = struct{}{}
		}
		return nil
	}
	be := &brkEntry{b: b, policy: strings.Clone(policy), name: b.Name()}
	p.breakers[b] = be
	p.trackedBrk.LoadOrStore(b, func() struct{} { return struct{}{} })
	p.breakerList = append(p.breakerList, be)
	return be
}

func (p *Page) addBudget(policy string, b *core.Budget) {
	if b == nil {
		return
	}
	if _, ok := p.trackedBud.Load(b); ok {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.budgets[b]; ok {
		return
	}
	if len(p.budgets) >= p.maxOps {
		if len(p.budDropped) < p.maxOps {
			p.budDropped[b] = struct{}{}
		}
		return
	}
	p.budgets[b] = strings.Clone(policy)
	p.trackedBud.LoadOrStore(b, func() struct{} { return struct{}{} })
}

func (p *Page) transition(e *core.Event) {
	if e.Breaker == nil {
		return
	}
	now := p.nowNs()
	p.mu.Lock()
	defer p.mu.Unlock()
	be := p.breakerLocked(e.Policy, e.Breaker)
	if be == nil {
		return
	}
	t := transition{at: now, from: e.PrevBreakerState, to: e.BreakerState}
	if len(be.hist) < p.maxTransitions {
		be.hist = append(be.hist, t)
	} else {
		be.hist[be.n%p.maxTransitions] = t
	}
	be.n++
}

// --- the snapshot ---

// View is what the page shows, and its JSON form (?format=json).
type View struct {
	// Time is when the view was taken.
	Time time.Time `json:"time"`
	// WindowSeconds is the span of the per-second series (60).
	WindowSeconds int `json:"window_seconds"`
	// Operations are sorted by policy, then operation; the "(other)"
	// bucket, if anything was counted in it, comes last.
	Operations []OperationView `json:"operations"`
	// Breakers are sorted open first, then half-open, then closed; then
	// by policy and name.
	Breakers []BreakerView `json:"breakers"`
	// Budgets are sorted by policy.
	Budgets []BudgetView `json:"budgets"`
	// Limits are the page's bounds and what went past them.
	Limits Limits `json:"limits"`
}

// Limits are the page's bounds, and the counts of what went past them.
type Limits struct {
	// MaxOperations is Config.MaxOperations (defaults applied).
	MaxOperations int `json:"max_operations"`
	// MaxFailures is Config.MaxFailures (defaults applied).
	MaxFailures int `json:"max_failures"`
	// OtherCalls is the number of calls counted in the "(other)" bucket.
	OtherCalls uint64 `json:"other_calls"`
	// UntrackedBreakers is the number of distinct breakers seen past
	// MaxOperations (counted up to MaxOperations of them).
	UntrackedBreakers int `json:"untracked_breakers"`
	// UntrackedBudgets is the number of distinct budgets seen past
	// MaxOperations (counted up to MaxOperations of them).
	UntrackedBudgets int `json:"untracked_budgets"`
}

// OperationView is one (policy, operation).
type OperationView struct {
	// Policy is the policy's name (redress.policy).
	Policy string `json:"policy"`
	// Operation is the operation's name (redress.operation), without any
	// query string.
	Operation string `json:"operation"`
	// Calls is the number of calls in the last minute.
	Calls uint64 `json:"calls"`
	// Total is the number of calls since the page started.
	Total uint64 `json:"total"`
	// Rate is Calls per second over the last minute (over the time since
	// the operation's first call, if that is shorter).
	Rate float64 `json:"rate"`
	// SuccessRatio is the share of the last minute's calls that succeeded
	// (1 when there were none).
	SuccessRatio float64 `json:"success_ratio"`
	// AttemptsPerCall is the mean attempts per call over the last 45 to
	// 60 seconds (15-second slots); a call refused before any attempt
	// counts 0.
	AttemptsPerCall float64 `json:"attempts_per_call"`
	// StopReasons counts the calls that failed, per stop reason
	// ("max_attempts", "circuit_open", ...), over the last 45 to 60
	// seconds.
	StopReasons map[string]uint64 `json:"stop_reasons"`
	// CallsPerSecond is the calls of each of the last 60 seconds, oldest
	// first, the current (partial) second last.
	CallsPerSecond []uint32 `json:"calls_per_second"`
	// FailuresPerSecond is the failed calls of each of the same seconds.
	FailuresPerSecond []uint32 `json:"failures_per_second"`
	// Breaker is the name of the breaker the operation's calls last went
	// through, "" if none.
	Breaker string `json:"breaker,omitempty"`
	// RecentFailures are the last failed calls, newest first.
	RecentFailures []FailureView `json:"recent_failures"`
}

// FailureView is one failed call.
type FailureView struct {
	// Time is when the call ended.
	Time time.Time `json:"time"`
	// Event is the call's terminal event ("max_attempts_exceeded", ...).
	Event string `json:"event"`
	// Class is the failure class (error.type), "" when no attempt failed
	// (a rejection).
	Class string `json:"class,omitempty"`
	// StopReason is why the call stopped ("max_attempts", ...).
	StopReason string `json:"stop_reason"`
	// Attempts is the number of attempts made (0 for a rejection).
	Attempts int `json:"attempts"`
	// Error is the redacted, bounded error text.
	Error string `json:"error,omitempty"`
}

// BreakerView is one breaker.
type BreakerView struct {
	// Policy is the name of the policy the breaker was first seen with.
	Policy string `json:"policy"`
	// Name is the breaker's name (for the HTTP wrapper's per-host
	// breakers, "<template name>:<host>").
	Name string `json:"name"`
	// State is the breaker's state when the view was taken.
	State string `json:"state"`
	// Since is the time of the last transition the page saw (nil: none
	// since the page started watching).
	Since *time.Time `json:"since,omitempty"`
	// Rejections is the number of calls the breaker refused, ever.
	Rejections uint64 `json:"rejections"`
	// Transitions are the last Config.MaxTransitions, newest first.
	Transitions []TransitionView `json:"transitions"`
	// TransitionsTotal counts all the transitions the page saw.
	TransitionsTotal int `json:"transitions_total"`
	// StatesPerSecond is the state at the end of each of the last 60
	// seconds, oldest first, derived from the transitions seen.
	StatesPerSecond []string `json:"states_per_second"`
}

// TransitionView is one breaker state change.
type TransitionView struct {
	// Time is when the page saw the transition.
	Time time.Time `json:"time"`
	// From is the state before ("closed", "open", "half_open").
	From string `json:"from"`
	// To is the state after.
	To string `json:"to"`
}

// BudgetView is one retry budget.
type BudgetView struct {
	// Policy is the name of the policy the budget was first seen with.
	Policy string `json:"policy"`
	// Utilization is the share of the budget in use, from 0 to 1.
	Utilization float64 `json:"utilization"`
	// Remaining is the number of retries the budget still allows now.
	Remaining float64 `json:"remaining"`
	// Denied is the number of retries the budget refused, ever.
	Denied uint64 `json:"denied"`
}

// Snapshot returns the current view.
func (p *Page) Snapshot() View {
	now := p.now()
	v := View{Time: now, WindowSeconds: ringSecs}
	for _, en := range p.ops.Snapshot() {
		v.Operations = append(v.Operations, en.view(now))
	}
	slices.SortFunc(v.Operations, func(a, b OperationView) int {
		return cmp.Or(cmp.Compare(a.Policy, b.Policy), cmp.Compare(a.Operation, b.Operation))
	})
	if p.dropped.Load() > 0 {
		v.Operations = append(v.Operations, p.other.view(now))
	}

	type brk struct {
		be   brkEntry
		hist []transition
	}
	p.mu.Lock()
	brks := make([]brk, 0, len(p.breakerList))
	for _, be := range p.breakerList {
		brks = append(brks, brk{*be, be.ordered()})
	}
	type bud struct {
		b      *core.Budget
		policy string
	}
	buds := make([]bud, 0, len(p.budgets))
	for b, pol := range p.budgets {
		buds = append(buds, bud{b, pol})
	}
	v.Limits = Limits{MaxOperations: p.maxOps, MaxFailures: p.maxFailures, OtherCalls: p.dropped.Load(),
		UntrackedBreakers: len(p.brkDropped), UntrackedBudgets: len(p.budDropped)}
	p.mu.Unlock()

	for _, x := range brks {
		st := x.be.b.State()
		bv := BreakerView{Policy: x.be.policy, Name: x.be.name, State: st.String(), Rejections: x.be.b.Rejections(),
			TransitionsTotal: x.be.n, Transitions: []TransitionView{}}
		for i := len(x.hist) - 1; i >= 0; i-- {
			t := x.hist[i]
			bv.Transitions = append(bv.Transitions, TransitionView{Time: time.Unix(0, t.at).In(now.Location()), From: t.from.String(), To: t.to.String()})
		}
		if len(x.hist) > 0 {
			at := time.Unix(0, x.hist[len(x.hist)-1].at).In(now.Location())
			bv.Since = &at
		}
		bv.StatesPerSecond = statesPerSecond(now, st, x.hist)
		v.Breakers = append(v.Breakers, bv)
	}
	slices.SortFunc(v.Breakers, func(a, b BreakerView) int {
		return cmp.Or(-cmp.Compare(severity(a.State), severity(b.State)), cmp.Compare(a.Policy, b.Policy), cmp.Compare(a.Name, b.Name))
	})
	for _, x := range buds {
		v.Budgets = append(v.Budgets, BudgetView{Policy: x.policy, Utilization: x.b.Utilization(), Remaining: x.b.Remaining(), Denied: x.b.Denied()})
	}
	slices.SortFunc(v.Budgets, func(a, b BudgetView) int { return cmp.Compare(a.Policy, b.Policy) })
	if v.Operations == nil {
		v.Operations = []OperationView{}
	}
	if v.Breakers == nil {
		v.Breakers = []BreakerView{}
	}
	if v.Budgets == nil {
		v.Budgets = []BudgetView{}
	}
	return v
}

func severity(state string) int {
	switch state {
	case core.StateOpen.String():
		return 2
	case core.StateHalfOpen.String():
		return 1
	}
	return 0
}

// ordered returns the transitions of be, oldest first; p.mu must be held.
func (be *brkEntry) ordered() []transition {
	if be.n <= len(be.hist) {
		return slices.Clone(be.hist)
	}
	i := be.n % len(be.hist)
	return append(slices.Clone(be.hist[i:]), be.hist[:i]...)
}

// statesPerSecond returns the state at the end of each of the 60 seconds
// ending at now, from the transitions (oldest first) and the current state.
func statesPerSecond(now time.Time, cur core.BreakerState, hist []transition) []string {
	out := make([]string, ringSecs)
	end := now.UnixNano()
	for i := range out {
		t := end - int64(ringSecs-1-i)*int64(time.Second)
		st := cur
		// The state at t: after the last transition at or before t; before
		// the first one, the state it left.
		j := len(hist) - 1
		for j >= 0 && hist[j].at > t {
			j--
		}
		switch {
		case j >= 0:
			st = hist[j].to
		case len(hist) > 0:
			st = hist[0].from
		}
		out[i] = st.String()
	}
	return out
}

func (en *opEntry) view(now time.Time) OperationView {
	sec := now.Unix()
	q := sec / slotSecs
	ov := OperationView{
		Policy: en.policy, Operation: en.op, Total: en.total.Load(),
		CallsPerSecond: make([]uint32, ringSecs), FailuresPerSecond: make([]uint32, ringSecs),
		StopReasons: map[string]uint64{}, RecentFailures: []FailureView{},
	}
	if b := en.seen.Breaker(); b != nil {
		ov.Breaker = b.Name()
	}
	en.mu.Lock()
	last := en.lastSec.Load()
	var calls, fails uint64
	for i := range ringSecs {
		t := sec - int64(ringSecs-1-i)
		if t < 0 || t > last || t <= last-ringSecs {
			continue
		}
		ov.CallsPerSecond[i], ov.FailuresPerSecond[i] = en.ring[t%ringSecs].load()
		calls += uint64(ov.CallsPerSecond[i])
		fails += uint64(ov.FailuresPerSecond[i])
	}
	lastQ := en.lastSlot.Load()
	var sCalls, sAttempts uint64
	for t := q - numSlots + 1; t <= q; t++ {
		if t < 0 || t > lastQ || t <= lastQ-numSlots {
			continue
		}
		sl := &en.slots[t%numSlots]
		sAttempts += uint64(sl.attempts.Load())
		for r := range numStops {
			n := uint64(sl.stops[r].Load())
			sCalls += n
			if n > 0 && r > 0 {
				ov.StopReasons[core.StopReason(r).String()] += n
			}
		}
	}
	n := len(en.failures)
	for i := range n {
		f := en.failures[(en.nextFail-1-i+2*n)%n] // newest first
		ov.RecentFailures = append(ov.RecentFailures, FailureView{
			Time: time.Unix(0, f.at).In(now.Location()), Event: f.kind.String(), Class: telemetry.ErrorType(int(f.errIdx)),
			StopReason: f.stop.String(), Attempts: int(f.attempts), Error: f.text,
		})
	}
	en.mu.Unlock()
	ov.Calls = calls
	span := int64(ringSecs)
	if first := en.firstSec.Load(); en.lastSec.Load() != farPast && sec-first+1 < span {
		span = max(sec-first+1, 1) // a young operation: per second since its first call
	}
	ov.Rate = float64(calls) / float64(span)
	ov.SuccessRatio = 1
	if calls > 0 {
		ov.SuccessRatio = float64(calls-min(fails, calls)) / float64(calls)
	}
	if sCalls > 0 {
		ov.AttemptsPerCall = float64(sAttempts) / float64(sCalls)
	}
	return ov
}
