package redressprom

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync/atomic"

	"github.com/redress-go/redress/internal/typednil"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/redress-go/redress/core"
	"github.com/redress-go/redress/instrument/internal/observed"
	"github.com/redress-go/redress/internal/cowmap"
	"github.com/redress-go/redress/internal/telemetry"
)

// DefaultEvents is the set of events a Subscriber handles by default: every
// event but the operation_start and attempt_start markers.
const DefaultEvents = telemetry.DefaultEvents

// Subscriber is a core.Subscriber that turns events into Prometheus metrics,
// with the series names, label names and units the OTel Prometheus exporter
// derives from the redress OTel instruments, so one dashboard serves both
// pipelines. Breaker state and budget utilization are read at scrape time
// from the breakers and budgets the subscriber has seen or been told about,
// one series per label set: distinct budgets under one policy name report
// the highest utilization, distinct breakers under one (policy, breaker
// name) the worst state.
//
// A Subscriber is safe for concurrent use. Handle allocates nothing once the
// label children of a (policy, operation) pair are resolved.
type Subscriber struct {
	reg   prometheus.Registerer
	com   telemetry.Common
	colls []prometheus.Collector

	opDur, attDur, delay                *prometheus.HistogramVec
	retries, evs, budRej, trans, brkRej *prometheus.CounterVec
	state                               *stateCollector

	ops   cowmap.Map[opKey, *opEntry]
	front [frontSize]atomic.Pointer[opEntry] // see entry
}

// frontSize is the number of slots of the lock-free front of the
// (policy, operation) lookup.
const frontSize = 64

type opKey struct{ policy, op string }

type counterBox struct{ c prometheus.Counter }
type observerBox struct{ o prometheus.Observer }

// noWrapper are the wrapper label values of an event without wrapper labels.
var noWrapper [telemetry.NumWrapperAttrs]string

// opEntry holds the resolved label children of one (policy, operation).
type opEntry struct {
	key     opKey
	raw     opKey // the names as the event carried them (op may have had a query)
	attempt [telemetry.NumErrorTypes]atomic.Pointer[observerBox]
	delay   [telemetry.NumErrorTypes]atomic.Pointer[observerBox]
	retries [telemetry.NumErrorTypes]atomic.Pointer[counterBox]
	events  [telemetry.MaxEventKinds][telemetry.NumErrorTypes]atomic.Pointer[counterBox]
	wAtt    cowmap.Map[telemetry.WrapperKey, prometheus.Observer]     // attempts with wrapper labels
	wEv     cowmap.Map[telemetry.WrapperEventKey, prometheus.Counter] // events with wrapper labels
	opDur   cowmap.Map[uint32, prometheus.Observer]
	opOK    atomic.Pointer[observerBox] // opDur's child for a plain success
	budRej  atomic.Pointer[counterBox]
	brkRej  cowmap.Map[string, prometheus.Counter]
	breaker atomic.Pointer[core.Breaker]
	budget  atomic.Pointer[core.Budget]
}

func labelNames(attrs []string) []string {
	out := make([]string, len(attrs))
	for i, a := range attrs {
		out[i] = telemetry.PromLabel(a)
	}
	return out
}

// New returns a subscriber whose collectors are registered on
// cfg.Registerer, or a *core.ConfigError naming the invalid field, or the
// registration error, which matches ErrConflict. On error nothing stays
// registered.
func New(cfg Config) (*Subscriber, error) {
	if cfg.Registerer == nil {
		return nil, &core.ConfigError{Field: "Config.Registerer", Reason: "must not be nil (pass prometheus.DefaultRegisterer explicitly to use the global registry)"}
	}
	if typednil.Is(cfg.Registerer) {
		return nil, &core.ConfigError{Field: "Config.Registerer", Reason: fmt.Sprintf("is a nil %T (a typed nil, which would panic at registration)", cfg.Registerer)}
	}
	buckets := cfg.Buckets
	if len(buckets) == 0 {
		buckets = telemetry.Buckets
	}
	for i, b := range buckets {
		if math.IsNaN(b) || math.IsInf(b, 0) {
			return nil, &core.ConfigError{Field: "Config.Buckets", Reason: fmt.Sprintf("must be finite numbers, but [%d] is %g (the +Inf bucket is implicit)", i, b)}
		}
		if i > 0 && !(b > buckets[i-1]) {
			return nil, &core.ConfigError{Field: "Config.Buckets", Reason: "must be strictly increasing"}
		}
	}
	com, err := telemetry.NewCommon(telemetry.Common{Events: cfg.Events, Policy: cfg.Policy, RedactError: cfg.RedactError, OnError: cfg.OnError})
	if err != nil {
		return nil, err
	}
	if err := telemetry.CheckDeclared(cfg.DeclarePolicies); err != nil {
		return nil, err
	}
	buckets = append([]float64(nil), buckets...)
	s := &Subscriber{reg: cfg.Registerer, com: com}
	hist := func(m telemetry.Metric) *prometheus.HistogramVec {
		return prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: m.Prom, Help: m.Description, Buckets: buckets,
		}, labelNames(m.Attrs))
	}
	ctr := func(m telemetry.Metric) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: m.Prom, Help: m.Description,
		}, labelNames(m.Attrs))
	}
	s.opDur = hist(telemetry.OperationDuration)
	s.attDur = hist(telemetry.AttemptDuration)
	s.delay = hist(telemetry.RetryDelay)
	s.retries = ctr(telemetry.Retries)
	s.evs = ctr(telemetry.Events)
	s.budRej = ctr(telemetry.BudgetRejections)
	s.trans = ctr(telemetry.BreakerTransitions)
	s.brkRej = ctr(telemetry.BreakerRejections)
	s.state = newStateCollector()
	s.colls = []prometheus.Collector{s.opDur, s.attDur, s.retries, s.delay, s.evs, s.budRej, s.state, s.trans, s.brkRej}
	for i, c := range s.colls {
		if err := cfg.Registerer.Register(c); err != nil {
			for _, done := range s.colls[:i] {
				cfg.Registerer.Unregister(done)
			}
			return nil, fmt.Errorf("%w: %w", ErrConflict, err)
		}
	}
	for _, p := range cfg.DeclarePolicies {
		s.Declare(p)
	}
	return s, nil
}

// Unregister removes the subscriber's collectors from its Registerer. It
// reports whether all of them were registered there.
func (s *Subscriber) Unregister() bool {
	ok := true
	for _, c := range s.colls {
		ok = s.reg.Unregister(c) && ok
	}
	return ok
}

// Close unregisters the subscriber's collectors from its Registerer, like
// Unregister; it is the Close every redress subscriber has. It returns an
// error when some collector was not registered there.
func (s *Subscriber) Close() error {
	if !s.Unregister() {
		return errors.New("redressprom: some collectors were not registered with Config.Registerer")
	}
	return nil
}

// Events implements core.Subscriber.
func (s *Subscriber) Events() core.EventSet { return s.com.Events }

// Declare makes the series of policy p exist before its first event: the
// state of its breaker (all three states) and the utilization of its
// budget, the breaker transition counters, and, for the policy's default
// operation and each of operations, zero-valued retry counters (one per
// retryable class), budget rejection and breaker rejection counters. A nil p
// is ignored.
func (s *Subscriber) Declare(p *core.Policy, operations ...string) {
	if p == nil {
		return
	}
	pol := p.Name()
	b, bud := p.Breaker(), p.Budget()
	if b != nil {
		s.DeclareBreaker(pol, b)
	}
	if bud != nil {
		s.DeclareBudget(pol, bud)
	}
	for _, op := range append([]string{p.Operation()}, operations...) {
		for _, c := range core.Classes() {
			if c.Retryable() {
				s.retries.WithLabelValues(pol, op, c.String())
			}
		}
		if bud != nil {
			s.budRej.WithLabelValues(pol, op)
		}
		if b != nil {
			s.brkRej.WithLabelValues(pol, op, b.Name())
		}
	}
}

// DeclareBreaker adds b, under policy, to the breakers whose state is read
// at scrape time, and makes its transition counters exist. Policies'
// breakers are added on their first event; declare a breaker to have its
// series before that. Breakers are tracked by identity: several distinct
// breakers with the same policy and name share one series, which reports
// the worst of their states (open, then half_open, then closed). The
// subscriber holds a declared breaker; one only seen in events drops out
// once the program no longer references it.
func (s *Subscriber) DeclareBreaker(policy string, b *core.Breaker) {
	if b == nil {
		return
	}
	s.state.set.DeclareBreaker(policy, b)
	for _, st := range core.BreakerStates() {
		s.trans.WithLabelValues(policy, b.Name(), st.String())
	}
}

// DeclareBudget adds b, under policy, to the budgets whose utilization is
// read at scrape time. Budgets are tracked by identity: several distinct
// budgets under the same policy name share one series, which reports the
// highest of their utilizations. The subscriber holds a declared budget;
// one only seen in events drops out once the program no longer references
// it.
func (s *Subscriber) DeclareBudget(policy string, b *core.Budget) {
	if b == nil {
		return
	}
	s.state.set.DeclareBudget(policy, b)
}

// Handle implements core.Subscriber. With Config.OnError set, a panic in
// Handle is recovered and reported there.
func (s *Subscriber) Handle(_ context.Context, e core.Event) {
	if !s.com.Events.Has(e.Kind) {
		return
	}
	if s.com.OnError != nil {
		defer s.com.Recover("redressprom")
	}
	if !s.com.Wants(e.Policy) {
		return
	}
	en := s.entry(e.Policy, e.Operation)
	if e.Breaker != nil && en.breaker.Load() != e.Breaker {
		en.breaker.Store(e.Breaker)
		s.state.set.AddBreaker(e.Policy, e.Breaker)
	}
	if e.Budget != nil && en.budget.Load() != e.Budget {
		en.budget.Store(e.Budget)
		s.state.set.AddBudget(e.Policy, e.Budget)
	}
	ei := telemetry.ErrIndex(&e)
	wrapped := telemetry.HasWrapper(&e.Labels)
	var w telemetry.Wrapper
	if wrapped {
		w = telemetry.WrapperOf(&e.Labels)
		s.wEvent(en, &e, w, ei).Inc()
	} else {
		s.event(en, &e, ei).Inc()
	}
	switch {
	case e.Kind == core.EventAttemptEnd:
		if wrapped {
			s.wAttempt(en, w, ei).Observe(e.AttemptDuration.Seconds())
		} else {
			s.attempt(en, ei).Observe(e.AttemptDuration.Seconds())
		}
	case e.Kind == core.EventRetry:
		s.retry(en, ei).Inc()
		s.retryDelay(en, ei).Observe(e.Sleep.Seconds())
	case e.Kind.Terminal():
		s.operation(en, &e, ei).Observe(e.Elapsed.Seconds())
		switch e.Kind {
		case core.EventBudgetExhausted:
			s.budgetRejection(en).Inc()
		case core.EventCircuitRejected:
			s.breakerRejection(en, telemetry.BreakerName(&e)).Inc()
		}
	case e.Kind == core.EventCircuitOpened || e.Kind == core.EventCircuitHalfOpen || e.Kind == core.EventCircuitClosed:
		s.trans.WithLabelValues(e.Policy, telemetry.BreakerName(&e), e.BreakerState.String()).Inc()
	}
}

// entry returns the label children of (policy, op). A direct-mapped front,
// indexed by the addresses of the two strings, answers most lookups with
// one atomic load and two string comparisons that stop at the pointer: the
// names usually come from a Policy or a wrapper's label cache, so the same
// pair arrives in the same memory. A miss (new strings, or two hot pairs
// sharing a slot) falls back to the map and takes the slot over; it never
// allocates once the pair is known.
func (s *Subscriber) entry(policy, op string) *opEntry {
	slot := &s.front[telemetry.FrontIndex(policy, op)%frontSize]
	if en := slot.Load(); en != nil && en.raw.policy == policy && en.raw.op == op {
		return en
	}
	k := opKey{policy, op}
	en, ok := s.ops.Load(k)
	if !ok {
		// Label values: a raw URL passed as an operation loses its query string.
		en = s.ops.LoadOrStore(k, func() *opEntry { return &opEntry{raw: k, key: opKey{policy, telemetry.CutQuery(op)}} })
	}
	slot.Store(en)
	return en
}

func (s *Subscriber) event(en *opEntry, e *core.Event, ei int) prometheus.Counter {
	k := int(e.Kind) % telemetry.MaxEventKinds
	if b := en.events[k][ei].Load(); b != nil {
		return b.c
	}
	b := &counterBox{s.evs.WithLabelValues(withValues(noWrapper, en.key.policy, en.key.op, e.Kind.String(), telemetry.ErrorType(ei))...)}
	en.events[k][ei].Store(b)
	return b.c
}

// withValues returns the label values first..., then the wrapper's.
func withValues(w [telemetry.NumWrapperAttrs]string, first ...string) []string {
	return append(first, w[:]...)
}

// wEvent is event for an event with wrapper labels.
func (s *Subscriber) wEvent(en *opEntry, e *core.Event, w telemetry.Wrapper, ei int) prometheus.Counter {
	k := telemetry.WrapperEventKey{W: w, Kind: uint8(int(e.Kind) % telemetry.MaxEventKinds), EI: uint8(ei)}
	if c, ok := en.wEv.Load(k); ok {
		return c
	}
	if en.wEv.Len() >= telemetry.MaxWrapperSets {
		return s.event(en, e, ei)
	}
	kind := e.Kind.String()
	return en.wEv.LoadOrStore(k, func() prometheus.Counter {
		return s.evs.WithLabelValues(withValues(w.Values(), en.key.policy, en.key.op, kind, telemetry.ErrorType(ei))...)
	})
}

// wAttempt is attempt for an event with wrapper labels.
func (s *Subscriber) wAttempt(en *opEntry, w telemetry.Wrapper, ei int) prometheus.Observer {
	k := telemetry.WrapperKey{W: w, EI: uint8(ei)}
	if o, ok := en.wAtt.Load(k); ok {
		return o
	}
	if en.wAtt.Len() >= telemetry.MaxWrapperSets {
		return s.attempt(en, ei)
	}
	return en.wAtt.LoadOrStore(k, func() prometheus.Observer {
		return s.attDur.WithLabelValues(withValues(w.Values(), en.key.policy, en.key.op, telemetry.ErrorType(ei))...)
	})
}

func (s *Subscriber) attempt(en *opEntry, ei int) prometheus.Observer {
	if b := en.attempt[ei].Load(); b != nil {
		return b.o
	}
	b := &observerBox{s.attDur.WithLabelValues(withValues(noWrapper, en.key.policy, en.key.op, telemetry.ErrorType(ei))...)}
	en.attempt[ei].Store(b)
	return b.o
}

func (s *Subscriber) retry(en *opEntry, ei int) prometheus.Counter {
	if b := en.retries[ei].Load(); b != nil {
		return b.c
	}
	b := &counterBox{s.retries.WithLabelValues(en.key.policy, en.key.op, telemetry.ErrorType(ei))}
	en.retries[ei].Store(b)
	return b.c
}

func (s *Subscriber) retryDelay(en *opEntry, ei int) prometheus.Observer {
	if b := en.delay[ei].Load(); b != nil {
		return b.o
	}
	b := &observerBox{s.delay.WithLabelValues(en.key.policy, en.key.op, telemetry.ErrorType(ei))}
	en.delay[ei].Store(b)
	return b.o
}

func (s *Subscriber) operation(en *opEntry, e *core.Event, ei int) prometheus.Observer {
	plain := e.Outcome == core.OutcomeSuccess && e.StopReason == core.StopNone && ei == 0
	if plain {
		if b := en.opOK.Load(); b != nil {
			return b.o
		}
	}
	k := uint32(e.Outcome)<<16 | uint32(e.StopReason)<<8 | uint32(ei)
	o, ok := en.opDur.Load(k)
	if !ok {
		outcome, stop := e.Outcome.String(), telemetry.StopReason(e)
		o = en.opDur.LoadOrStore(k, func() prometheus.Observer {
			return s.opDur.WithLabelValues(en.key.policy, en.key.op, outcome, stop, telemetry.ErrorType(ei))
		})
	}
	if plain {
		en.opOK.Store(&observerBox{o})
	}
	return o
}

func (s *Subscriber) budgetRejection(en *opEntry) prometheus.Counter {
	if b := en.budRej.Load(); b != nil {
		return b.c
	}
	b := &counterBox{s.budRej.WithLabelValues(en.key.policy, en.key.op)}
	en.budRej.Store(b)
	return b.c
}

func (s *Subscriber) breakerRejection(en *opEntry, breaker string) prometheus.Counter {
	if c, ok := en.brkRej.Load(breaker); ok {
		return c
	}
	return en.brkRej.LoadOrStore(breaker, func() prometheus.Counter {
		return s.brkRej.WithLabelValues(en.key.policy, en.key.op, breaker)
	})
}

// stateCollector reports breaker state and budget utilization at scrape
// time, one series per label set (see package observed for the folding).
type stateCollector struct {
	stateDesc, utilDesc *prometheus.Desc
	set                 observed.Set
}

func newStateCollector() *stateCollector {
	st, ut := telemetry.BreakerState, telemetry.BudgetUtilization
	return &stateCollector{
		stateDesc: prometheus.NewDesc(st.Prom, st.Description, labelNames(st.Attrs), nil),
		utilDesc:  prometheus.NewDesc(ut.Prom, ut.Description, labelNames(ut.Attrs), nil),
	}
}

// Describe implements prometheus.Collector.
func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.stateDesc
	ch <- c.utilDesc
}

// Collect implements prometheus.Collector: for each (policy, breaker name)
// the worst state of the breakers sharing it, for each policy the highest
// utilization of its budgets.
func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	brks, buds := c.set.Snapshot()
	for _, x := range brks {
		for _, st := range core.BreakerStates() {
			v := 0.0
			if st == x.State {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(c.stateDesc, prometheus.GaugeValue, v, x.Policy, x.Name, st.String())
		}
	}
	for _, x := range buds {
		ch <- prometheus.MustNewConstMetric(c.utilDesc, prometheus.GaugeValue, x.Utilization, x.Policy)
	}
}

// ErrConflict is matched (errors.Is) by the error New returns when the
// Registerer refuses one of the subscriber's collectors, for example because
// another collector already owns a redress series. The error also wraps the
// Registerer's own error (a prometheus.AlreadyRegisteredError, ...).
var ErrConflict = errors.New("redressprom: registration conflict")
