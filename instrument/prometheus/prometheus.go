package redressprom

import (
	"context"
	"errors"
	"fmt"
	"math"

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
// When the event's context carries a sampled span, the histograms and the
// failure counters get its trace and span id as exemplars (see the package
// documentation).
//
// A Subscriber is safe for concurrent use. Handle allocates nothing once the
// label children of a (policy, operation) pair are resolved, but for the
// exemplars of a sampled span.
type Subscriber struct {
	reg   prometheus.Registerer
	com   telemetry.Common
	colls []prometheus.Collector

	opDur, attDur, delay                *prometheus.HistogramVec
	retries, evs, budRej, trans, brkRej *prometheus.CounterVec
	state                               *stateCollector

	ops telemetry.Cache[labels]
}

// noWrapper are the wrapper label values of an event without wrapper labels.
var noWrapper [telemetry.NumWrapperAttrs]string

// entry is the cache entry of one (policy, operation).
type entry = telemetry.Entry[labels]

// labels holds the resolved label children of one (policy, operation).
type labels struct {
	attempt [telemetry.NumErrorTypes]telemetry.Lazy[prometheus.Observer]
	delay   [telemetry.NumErrorTypes]telemetry.Lazy[prometheus.Observer]
	retries [telemetry.NumErrorTypes]telemetry.Lazy[prometheus.Counter]
	events  [telemetry.MaxEventKinds][telemetry.NumErrorTypes]telemetry.Lazy[prometheus.Counter]
	wAtt    cowmap.Map[telemetry.WrapperKey, prometheus.Observer]     // attempts with wrapper labels
	wEv     cowmap.Map[telemetry.WrapperEventKey, prometheus.Counter] // events with wrapper labels
	opDur   cowmap.Map[uint32, prometheus.Observer]
	opOK    telemetry.Lazy[prometheus.Observer] // opDur's child for a plain success
	budRej  telemetry.Lazy[prometheus.Counter]
	brkRej  cowmap.Map[string, prometheus.Counter]
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
func (s *Subscriber) Handle(ctx context.Context, e core.Event) {
	if !s.com.Events.Has(e.Kind) {
		return
	}
	if s.com.OnError != nil {
		defer s.com.Recover("redressprom")
	}
	if !s.com.Wants(e.Policy) {
		return
	}
	telemetry.Record(ctx, &s.ops, (*recorder)(s), &e)
}

// recorder is the subscriber as the telemetry.Recorder that Handle passes to
// telemetry.Record: its methods resolve (once) and update the label
// children.
type recorder Subscriber

var _ telemetry.Recorder[labels] = (*recorder)(nil)

func (r *recorder) TrackBreaker(policy string, b *core.Breaker) { r.state.set.AddBreaker(policy, b) }
func (r *recorder) TrackBudget(policy string, b *core.Budget)   { r.state.set.AddBudget(policy, b) }

func (r *recorder) Event(ctx context.Context, en *entry, k core.EventKind, ei int) {
	if ei != 0 { // a failure: with an exemplar
		inc(ctx, r.event(en, k, ei))
		return
	}
	r.event(en, k, ei).Inc()
}

func (r *recorder) WrappedEvent(ctx context.Context, en *entry, k core.EventKind, ei int, w telemetry.Wrapper) {
	key := telemetry.WrapperEventKey{W: w, Kind: uint8(int(k) % telemetry.MaxEventKinds), EI: uint8(ei)}
	c, ok := telemetry.LoadWrapperSet(&en.Val.wEv, key, func() prometheus.Counter {
		return r.evs.WithLabelValues(withValues(w.Values(), en.Key.Policy, en.Key.Operation, k.String(), telemetry.ErrorType(ei))...)
	})
	if !ok {
		c = r.event(en, k, ei)
	}
	if ei == 0 {
		c.Inc()
	} else {
		inc(ctx, c)
	}
}

func (r *recorder) Attempt(ctx context.Context, en *entry, ei int, seconds float64) {
	o := r.attempt(en, ei)
	if !mayHaveSpan(ctx) || !observeExemplar(ctx, o, seconds) {
		o.Observe(seconds)
	}
}

func (r *recorder) WrappedAttempt(ctx context.Context, en *entry, ei int, seconds float64, w telemetry.Wrapper) {
	o, ok := telemetry.LoadWrapperSet(&en.Val.wAtt, telemetry.WrapperKey{W: w, EI: uint8(ei)}, func() prometheus.Observer {
		return r.attDur.WithLabelValues(withValues(w.Values(), en.Key.Policy, en.Key.Operation, telemetry.ErrorType(ei))...)
	})
	if !ok {
		o = r.attempt(en, ei)
	}
	observe(ctx, o, seconds)
}

func (r *recorder) Retry(ctx context.Context, en *entry, ei int, delay float64) {
	c, ok := en.Val.retries[ei].Load()
	if !ok {
		c = en.Val.retries[ei].Store(r.retries.WithLabelValues(en.Key.Policy, en.Key.Operation, telemetry.ErrorType(ei)))
	}
	inc(ctx, c)
	o, ok := en.Val.delay[ei].Load()
	if !ok {
		o = en.Val.delay[ei].Store(r.delay.WithLabelValues(en.Key.Policy, en.Key.Operation, telemetry.ErrorType(ei)))
	}
	observe(ctx, o, delay)
}

func (r *recorder) Operation(ctx context.Context, en *entry, outcome core.OutcomeKind, stop core.StopReason, ei int, seconds float64) {
	plain := outcome == core.OutcomeSuccess && stop == core.StopNone && ei == 0
	if plain {
		if o, ok := en.Val.opOK.Load(); ok {
			if !mayHaveSpan(ctx) || !observeExemplar(ctx, o, seconds) {
				o.Observe(seconds)
			}
			return
		}
	}
	k := telemetry.OperationKey(outcome, stop, ei)
	o, ok := en.Val.opDur.Load(k)
	if !ok {
		o = en.Val.opDur.LoadOrStore(k, func() prometheus.Observer {
			return r.opDur.WithLabelValues(en.Key.Policy, en.Key.Operation, outcome.String(), telemetry.StopReasonOf(stop), telemetry.ErrorType(ei))
		})
	}
	if plain {
		en.Val.opOK.Store(o)
	}
	observe(ctx, o, seconds)
}

func (r *recorder) BudgetRejection(ctx context.Context, en *entry) {
	c, ok := en.Val.budRej.Load()
	if !ok {
		c = en.Val.budRej.Store(r.budRej.WithLabelValues(en.Key.Policy, en.Key.Operation))
	}
	inc(ctx, c)
}

func (r *recorder) BreakerRejection(ctx context.Context, en *entry, breaker string) {
	c, ok := en.Val.brkRej.Load(breaker)
	if !ok {
		c = en.Val.brkRej.LoadOrStore(breaker, func() prometheus.Counter {
			return r.brkRej.WithLabelValues(en.Key.Policy, en.Key.Operation, breaker)
		})
	}
	inc(ctx, c)
}

func (r *recorder) Transition(_ context.Context, policy, breaker string, state core.BreakerState) {
	r.trans.WithLabelValues(policy, breaker, state.String()).Inc()
}

func (r *recorder) event(en *entry, k core.EventKind, ei int) prometheus.Counter {
	l := &en.Val.events[int(k)%telemetry.MaxEventKinds][ei]
	if c, ok := l.Load(); ok {
		return c
	}
	return l.Store(r.evs.WithLabelValues(withValues(noWrapper, en.Key.Policy, en.Key.Operation, k.String(), telemetry.ErrorType(ei))...))
}

func (r *recorder) attempt(en *entry, ei int) prometheus.Observer {
	l := &en.Val.attempt[ei]
	if o, ok := l.Load(); ok {
		return o
	}
	return l.Store(r.attDur.WithLabelValues(withValues(noWrapper, en.Key.Policy, en.Key.Operation, telemetry.ErrorType(ei))...))
}

// withValues returns the label values first..., then the wrapper's.
func withValues(w [telemetry.NumWrapperAttrs]string, first ...string) []string {
	return append(first, w[:]...)
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
