package redressotel

import (
	"context"
	"sync/atomic"

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

	ops cowmap.Map[opKey, *opEntry]
	set observed.Set // the breakers and budgets observed
}

type opKey struct{ policy, op string }

// opt is a precomputed attribute set, ready to pass to Add and Record.
type opt struct{ o metric.MeasurementOption }

// opEntry holds the precomputed attribute sets of one (policy, operation).
type opEntry struct {
	key     opKey
	attempt [telemetry.NumErrorTypes]atomic.Pointer[opt]
	delay   [telemetry.NumErrorTypes]atomic.Pointer[opt] // also the retries counter's
	events  [telemetry.MaxEventKinds][telemetry.NumErrorTypes]atomic.Pointer[opt]
	wAtt    cowmap.Map[telemetry.WrapperKey, metric.MeasurementOption]      // attempts with wrapper labels
	wEv     cowmap.Map[telemetry.WrapperEventKey, metric.MeasurementOption] // events with wrapper labels
	opDur   cowmap.Map[uint32, metric.MeasurementOption]
	budRej  atomic.Pointer[opt]
	brkRej  cowmap.Map[string, metric.MeasurementOption]
	breaker atomic.Pointer[core.Breaker]
	budget  atomic.Pointer[core.Budget]
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

// set builds a measurement option from the entry's policy and operation and
// more attributes; an empty string value leaves its attribute out.
func (en *opEntry) set(kv ...attribute.KeyValue) metric.MeasurementOption {
	all := make([]attribute.KeyValue, 0, 2+len(kv))
	all = append(all, attribute.String(telemetry.AttrPolicy, en.key.policy), attribute.String(telemetry.AttrOperation, en.key.op))
	for _, a := range kv {
		if a.Value.Type() != attribute.STRING || a.Value.AsString() != "" {
			all = append(all, a)
		}
	}
	return metric.WithAttributeSet(attribute.NewSet(all...))
}

// wrapperAttrs returns kv followed by w's attributes (absent ones, empty or
// a zero status code, are left out by set). The HTTP status code is an int
// attribute, as in the semantic conventions; the gRPC status code is its
// name ("UNAVAILABLE").
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

// wEvent is event for an event with wrapper labels.
func (en *opEntry) wEvent(k core.EventKind, w telemetry.Wrapper, ei int) metric.MeasurementOption {
	key := telemetry.WrapperEventKey{W: w, Kind: uint8(int(k) % telemetry.MaxEventKinds), EI: uint8(ei)}
	if o, ok := en.wEv.Load(key); ok {
		return o
	}
	if en.wEv.Len() >= telemetry.MaxWrapperSets {
		return en.event(k, ei)
	}
	return en.wEv.LoadOrStore(key, func() metric.MeasurementOption {
		return en.set(wrapperAttrs(w, attribute.String(telemetry.AttrEvent, k.String()), attribute.String(telemetry.AttrErrorType, telemetry.ErrorType(ei)))...)
	})
}

// wAttempt is attempt1 for an event with wrapper labels.
func (en *opEntry) wAttempt(w telemetry.Wrapper, ei int) metric.MeasurementOption {
	key := telemetry.WrapperKey{W: w, EI: uint8(ei)}
	if o, ok := en.wAtt.Load(key); ok {
		return o
	}
	if en.wAtt.Len() >= telemetry.MaxWrapperSets {
		return en.attempt1(ei)
	}
	return en.wAtt.LoadOrStore(key, func() metric.MeasurementOption {
		return en.set(wrapperAttrs(w, attribute.String(telemetry.AttrErrorType, telemetry.ErrorType(ei)))...)
	})
}

func (in *instruments) entry(policy, op string) *opEntry {
	k := opKey{policy, op}
	if en, ok := in.ops.Load(k); ok {
		return en
	}
	return in.ops.LoadOrStore(k, func() *opEntry { return &opEntry{key: opKey{policy, telemetry.CutQuery(op)}} })
}

// record updates the instruments for one event.
func (in *instruments) record(ctx context.Context, e *core.Event) {
	en := in.entry(e.Policy, e.Operation)
	if e.Breaker != nil && en.breaker.Load() != e.Breaker {
		en.breaker.Store(e.Breaker)
		in.set.AddBreaker(e.Policy, e.Breaker)
	}
	if e.Budget != nil && en.budget.Load() != e.Budget {
		en.budget.Store(e.Budget)
		in.set.AddBudget(e.Policy, e.Budget)
	}
	ei := telemetry.ErrIndex(e)
	wrapped := telemetry.HasWrapper(&e.Labels)
	var w telemetry.Wrapper
	if wrapped {
		w = telemetry.WrapperOf(&e.Labels)
		in.evs.Add(ctx, 1, en.wEvent(e.Kind, w, ei))
	} else {
		in.evs.Add(ctx, 1, en.event(e.Kind, ei))
	}
	switch {
	case e.Kind == core.EventAttemptEnd:
		if wrapped {
			in.attDur.Record(ctx, e.AttemptDuration.Seconds(), en.wAttempt(w, ei))
		} else {
			in.attDur.Record(ctx, e.AttemptDuration.Seconds(), en.attempt1(ei))
		}
	case e.Kind == core.EventRetry:
		o := en.delay1(ei)
		in.retries.Add(ctx, 1, o)
		in.delay.Record(ctx, e.Sleep.Seconds(), o)
	case e.Kind.Terminal():
		in.opDur.Record(ctx, e.Elapsed.Seconds(), en.operation(e, ei))
		switch e.Kind {
		case core.EventBudgetExhausted:
			in.budRej.Add(ctx, 1, en.budgetRejection())
		case core.EventCircuitRejected:
			in.brkRej.Add(ctx, 1, en.breakerRejection(telemetry.BreakerName(e)))
		}
	case e.Kind == core.EventCircuitOpened || e.Kind == core.EventCircuitHalfOpen || e.Kind == core.EventCircuitClosed:
		in.trans.Add(ctx, 1, metric.WithAttributes(
			attribute.String(telemetry.AttrPolicy, e.Policy),
			attribute.String(telemetry.AttrBreaker, telemetry.BreakerName(e)),
			attribute.String(telemetry.AttrState, e.BreakerState.String())))
	}
}

func (en *opEntry) event(k core.EventKind, ei int) metric.MeasurementOption {
	p := &en.events[int(k)%telemetry.MaxEventKinds][ei]
	if o := p.Load(); o != nil {
		return o.o
	}
	o := &opt{en.set(attribute.String(telemetry.AttrEvent, k.String()), attribute.String(telemetry.AttrErrorType, telemetry.ErrorType(ei)))}
	p.Store(o)
	return o.o
}

func (en *opEntry) attempt1(ei int) metric.MeasurementOption {
	if o := en.attempt[ei].Load(); o != nil {
		return o.o
	}
	o := &opt{en.set(attribute.String(telemetry.AttrErrorType, telemetry.ErrorType(ei)))}
	en.attempt[ei].Store(o)
	return o.o
}

func (en *opEntry) delay1(ei int) metric.MeasurementOption {
	if o := en.delay[ei].Load(); o != nil {
		return o.o
	}
	o := &opt{en.set(attribute.String(telemetry.AttrErrorType, telemetry.ErrorType(ei)))}
	en.delay[ei].Store(o)
	return o.o
}

func (en *opEntry) operation(e *core.Event, ei int) metric.MeasurementOption {
	k := uint32(e.Outcome)<<16 | uint32(e.StopReason)<<8 | uint32(ei)
	if o, ok := en.opDur.Load(k); ok {
		return o
	}
	stop := ""
	if e.StopReason != core.StopNone {
		stop = e.StopReason.String()
	}
	outcome := e.Outcome.String()
	return en.opDur.LoadOrStore(k, func() metric.MeasurementOption {
		return en.set(attribute.String(telemetry.AttrOutcome, outcome), attribute.String(telemetry.AttrStopReason, stop),
			attribute.String(telemetry.AttrErrorType, telemetry.ErrorType(ei)))
	})
}

func (en *opEntry) budgetRejection() metric.MeasurementOption {
	if o := en.budRej.Load(); o != nil {
		return o.o
	}
	o := &opt{en.set()}
	en.budRej.Store(o)
	return o.o
}

func (en *opEntry) breakerRejection(name string) metric.MeasurementOption {
	if o, ok := en.brkRej.Load(name); ok {
		return o
	}
	return en.brkRej.LoadOrStore(name, func() metric.MeasurementOption {
		return en.set(attribute.String(telemetry.AttrBreaker, name))
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
		en := in.entry(pol, op)
		for _, c := range core.Classes() {
			if c.Retryable() {
				in.retries.Add(ctx, 0, en.delay1(1+int(c)))
			}
		}
		if bud != nil {
			in.budRej.Add(ctx, 0, en.budgetRejection())
		}
		if b != nil {
			in.brkRej.Add(ctx, 0, en.breakerRejection(b.Name()))
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
