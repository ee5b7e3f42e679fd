package redressotel

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/redress-go/redress/core"
	"github.com/redress-go/redress/instrument/internal/observed"
	"github.com/redress-go/redress/internal/cowmap"
	"github.com/redress-go/redress/internal/telemetry"
)

// instruments are the OTel instruments of the telemetry name table.
type instruments struct {
	opDur, attDur, delay                metric.Float64Histogram
	retries, evs, budRej, trans, brkRej metric.Int64Counter
	state                               metric.Int64ObservableGauge
	util                                metric.Float64ObservableGauge
	reg                                 metric.Registration

	ops telemetry.Cache[attrSets]
	set observed.Set // the breakers and budgets observed
}

// entry is the cache entry of one (policy, operation).
type entry = telemetry.Entry[attrSets]

// attrSets holds the precomputed attribute sets of one (policy, operation),
// ready to pass to Add and Record.
type attrSets struct {
	attempt [telemetry.NumErrorTypes]telemetry.Lazy[metric.MeasurementOption]
	delay   [telemetry.NumErrorTypes]telemetry.Lazy[metric.MeasurementOption] // also the retries counter's
	events  [telemetry.MaxEventKinds][telemetry.NumErrorTypes]telemetry.Lazy[metric.MeasurementOption]
	wAtt    cowmap.Map[telemetry.WrapperKey, metric.MeasurementOption]      // attempts with wrapper labels
	wEv     cowmap.Map[telemetry.WrapperEventKey, metric.MeasurementOption] // events with wrapper labels
	opDur   cowmap.Map[uint32, metric.MeasurementOption]
	budRej  telemetry.Lazy[metric.MeasurementOption]
	brkRej  cowmap.Map[string, metric.MeasurementOption]
}

func newInstruments(m metric.Meter) (*instruments, error) {
	in := &instruments{}
	var err error
	hist := func(d telemetry.Metric) metric.Float64Histogram {
		if err != nil {
			return nil
		}
		var h metric.Float64Histogram
		h, err = m.Float64Histogram(d.Name, metric.WithUnit(d.Unit), metric.WithDescription(d.Description),
			metric.WithExplicitBucketBoundaries(telemetry.Buckets...))
		return h
	}
	ctr := func(d telemetry.Metric) metric.Int64Counter {
		if err != nil {
			return nil
		}
		var c metric.Int64Counter
		c, err = m.Int64Counter(d.Name, metric.WithUnit(d.Unit), metric.WithDescription(d.Description))
		return c
	}
	in.opDur = hist(telemetry.OperationDuration)
	in.attDur = hist(telemetry.AttemptDuration)
	in.retries = ctr(telemetry.Retries)
	in.delay = hist(telemetry.RetryDelay)
	in.evs = ctr(telemetry.Events)
	in.budRej = ctr(telemetry.BudgetRejections)
	in.trans = ctr(telemetry.BreakerTransitions)
	in.brkRej = ctr(telemetry.BreakerRejections)
	if err != nil {
		return nil, err
	}
	st, ut := telemetry.BreakerState, telemetry.BudgetUtilization
	if in.state, err = m.Int64ObservableGauge(st.Name, metric.WithUnit(st.Unit), metric.WithDescription(st.Description)); err != nil {
		return nil, err
	}
	if in.util, err = m.Float64ObservableGauge(ut.Name, metric.WithUnit(ut.Unit), metric.WithDescription(ut.Description)); err != nil {
		return nil, err
	}
	if in.reg, err = m.RegisterCallback(in.observe, in.state, in.util); err != nil {
		return nil, err
	}
	return in, nil
}

// observe reads breaker state and budget utilization at collection time,
// one observation per attribute set: for each (policy, breaker name) the
// worst state of the breakers sharing it, for each policy the highest
// utilization of its budgets.
func (in *instruments) observe(_ context.Context, o metric.Observer) error {
	brks, buds := in.set.Snapshot()
	for _, x := range brks {
		for _, s := range core.BreakerStates() {
			v := int64(0)
			if s == x.State {
				v = 1
			}
			o.ObserveInt64(in.state, v, metric.WithAttributes(
				attribute.String(telemetry.AttrPolicy, x.Policy),
				attribute.String(telemetry.AttrBreaker, x.Name),
				attribute.String(telemetry.AttrState, s.String())))
		}
	}
	for _, x := range buds {
		o.ObserveFloat64(in.util, x.Utilization, metric.WithAttributes(attribute.String(telemetry.AttrPolicy, x.Policy)))
	}
	return nil
}

// attrs builds a measurement option from the entry's policy and operation
// and more attributes; an empty string value leaves its attribute out.
func attrs(en *entry, kv ...attribute.KeyValue) metric.MeasurementOption {
	all := make([]attribute.KeyValue, 0, 2+len(kv))
	all = append(all, attribute.String(telemetry.AttrPolicy, en.Key.Policy), attribute.String(telemetry.AttrOperation, en.Key.Operation))
	for _, a := range kv {
		if a.Value.Type() != attribute.STRING || a.Value.AsString() != "" {
			all = append(all, a)
		}
	}
	return metric.WithAttributeSet(attribute.NewSet(all...))
}

// wrapperAttrs returns kv followed by w's attributes (absent ones, empty or
// a zero status code, are left out by attrs). The HTTP status code is an
// int attribute, as in the semantic conventions; the gRPC status code is
// its name ("UNAVAILABLE").
func wrapperAttrs(w telemetry.Wrapper, kv ...attribute.KeyValue) []attribute.KeyValue {
	v := w.Values()
	out := kv
	for i, k := range telemetry.WrapperAttrs {
		switch {
		case k == telemetry.AttrHTTPStatusCode:
			if w.HTTPStatusCode != 0 {
				out = append(out, attribute.Int(k, w.HTTPStatusCode))
			}
		case v[i] != "":
			out = append(out, attribute.String(k, v[i]))
		}
	}
	return out
}

// record updates the instruments for one event.
func (in *instruments) record(ctx context.Context, e *core.Event) {
	telemetry.Record(ctx, &in.ops, in, e)
}

var _ telemetry.Recorder[attrSets] = (*instruments)(nil)

// TrackBreaker implements telemetry.Recorder.
func (in *instruments) TrackBreaker(policy string, b *core.Breaker) { in.set.AddBreaker(policy, b) }

// TrackBudget implements telemetry.Recorder.
func (in *instruments) TrackBudget(policy string, b *core.Budget) { in.set.AddBudget(policy, b) }

// Event implements telemetry.Recorder.
func (in *instruments) Event(ctx context.Context, en *entry, k core.EventKind, ei int) {
	in.evs.Add(ctx, 1, event(en, k, ei))
}

// WrappedEvent implements telemetry.Recorder.
func (in *instruments) WrappedEvent(ctx context.Context, en *entry, k core.EventKind, ei int, w telemetry.Wrapper) {
	key := telemetry.WrapperEventKey{W: w, Kind: uint8(int(k) % telemetry.MaxEventKinds), EI: uint8(ei)}
	o, ok := telemetry.LoadWrapperSet(&en.Val.wEv, key, func() metric.MeasurementOption {
		return attrs(en, wrapperAttrs(w, attribute.String(telemetry.AttrEvent, k.String()), attribute.String(telemetry.AttrErrorType, telemetry.ErrorType(ei)))...)
	})
	if !ok {
		o = event(en, k, ei)
	}
	in.evs.Add(ctx, 1, o)
}

// Attempt implements telemetry.Recorder.
func (in *instruments) Attempt(ctx context.Context, en *entry, ei int, seconds float64) {
	in.attDur.Record(ctx, seconds, attempt(en, ei))
}

// WrappedAttempt implements telemetry.Recorder.
func (in *instruments) WrappedAttempt(ctx context.Context, en *entry, ei int, seconds float64, w telemetry.Wrapper) {
	o, ok := telemetry.LoadWrapperSet(&en.Val.wAtt, telemetry.WrapperKey{W: w, EI: uint8(ei)}, func() metric.MeasurementOption {
		return attrs(en, wrapperAttrs(w, attribute.String(telemetry.AttrErrorType, telemetry.ErrorType(ei)))...)
	})
	if !ok {
		o = attempt(en, ei)
	}
	in.attDur.Record(ctx, seconds, o)
}

// Retry implements telemetry.Recorder.
func (in *instruments) Retry(ctx context.Context, en *entry, ei int, delay float64) {
	o := retry(en, ei)
	in.retries.Add(ctx, 1, o)
	in.delay.Record(ctx, delay, o)
}

// Operation implements telemetry.Recorder.
func (in *instruments) Operation(ctx context.Context, en *entry, outcome core.OutcomeKind, stop core.StopReason, ei int, seconds float64) {
	k := telemetry.OperationKey(outcome, stop, ei)
	o, ok := en.Val.opDur.Load(k)
	if !ok {
		o = en.Val.opDur.LoadOrStore(k, func() metric.MeasurementOption {
			return attrs(en, attribute.String(telemetry.AttrOutcome, outcome.String()), attribute.String(telemetry.AttrStopReason, telemetry.StopReasonOf(stop)),
				attribute.String(telemetry.AttrErrorType, telemetry.ErrorType(ei)))
		})
	}
	in.opDur.Record(ctx, seconds, o)
}

// BudgetRejection implements telemetry.Recorder.
func (in *instruments) BudgetRejection(ctx context.Context, en *entry) {
	in.budRej.Add(ctx, 1, budgetRejection(en))
}

// BreakerRejection implements telemetry.Recorder.
func (in *instruments) BreakerRejection(ctx context.Context, en *entry, breaker string) {
	in.brkRej.Add(ctx, 1, breakerRejection(en, breaker))
}

// Transition implements telemetry.Recorder.
func (in *instruments) Transition(ctx context.Context, policy, breaker string, state core.BreakerState) {
	in.trans.Add(ctx, 1, metric.WithAttributes(
		attribute.String(telemetry.AttrPolicy, policy),
		attribute.String(telemetry.AttrBreaker, breaker),
		attribute.String(telemetry.AttrState, state.String())))
}

func event(en *entry, k core.EventKind, ei int) metric.MeasurementOption {
	l := &en.Val.events[int(k)%telemetry.MaxEventKinds][ei]
	if o, ok := l.Load(); ok {
		return o
	}
	return l.Store(attrs(en, attribute.String(telemetry.AttrEvent, k.String()), attribute.String(telemetry.AttrErrorType, telemetry.ErrorType(ei))))
}

func attempt(en *entry, ei int) metric.MeasurementOption {
	l := &en.Val.attempt[ei]
	if o, ok := l.Load(); ok {
		return o
	}
	return l.Store(attrs(en, attribute.String(telemetry.AttrErrorType, telemetry.ErrorType(ei))))
}

// retry returns the attribute set of the retries counter and the retry
// delay histogram.
func retry(en *entry, ei int) metric.MeasurementOption {
	l := &en.Val.delay[ei]
	if o, ok := l.Load(); ok {
		return o
	}
	return l.Store(attrs(en, attribute.String(telemetry.AttrErrorType, telemetry.ErrorType(ei))))
}

func budgetRejection(en *entry) metric.MeasurementOption {
	if o, ok := en.Val.budRej.Load(); ok {
		return o
	}
	return en.Val.budRej.Store(attrs(en))
}

func breakerRejection(en *entry, name string) metric.MeasurementOption {
	if o, ok := en.Val.brkRej.Load(name); ok {
		return o
	}
	return en.Val.brkRej.LoadOrStore(name, func() metric.MeasurementOption {
		return attrs(en, attribute.String(telemetry.AttrBreaker, name))
	})
}

// declare makes the series of a policy exist (zero-valued counters) and
// adds its breaker and budget to those observed.
func (in *instruments) declare(p *core.Policy, ops []string) {
	ctx := context.Background()
	pol := p.Name()
	b, bud := p.Breaker(), p.Budget()
	if b != nil {
		in.declareBreaker(pol, b)
	}
	if bud != nil {
		in.set.DeclareBudget(pol, bud)
	}
	for _, op := range append([]string{p.Operation()}, ops...) {
		en := in.ops.Get(pol, op)
		for _, c := range core.Classes() {
			if c.Retryable() {
				in.retries.Add(ctx, 0, retry(en, 1+int(c)))
			}
		}
		if bud != nil {
			in.budRej.Add(ctx, 0, budgetRejection(en))
		}
		if b != nil {
			in.brkRej.Add(ctx, 0, breakerRejection(en, b.Name()))
		}
	}
}

func (in *instruments) declareBreaker(policy string, b *core.Breaker) {
	in.set.DeclareBreaker(policy, b)
	for _, s := range core.BreakerStates() {
		in.trans.Add(context.Background(), 0, metric.WithAttributes(
			attribute.String(telemetry.AttrPolicy, policy),
			attribute.String(telemetry.AttrBreaker, b.Name()),
			attribute.String(telemetry.AttrState, s.String())))
	}
}
