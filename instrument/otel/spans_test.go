package redressotel_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/redress-go/redress/core"
	"github.com/redress-go/redress/core/coretest"
	redressotel "github.com/redress-go/redress/instrument/otel"
	"github.com/redress-go/redress/internal/telemetry"
)

func TestConformance(t *testing.T) {
	for _, cfg := range []redressotel.Config{{}, {AttemptsAsEvents: true}, {DisableMetrics: true}} {
		t.Run(fmt.Sprintf("events=%v,metrics=%v", cfg.AttemptsAsEvents, !cfg.DisableMetrics), func(t *testing.T) {
			coretest.TestSubscriber(t, func(t *testing.T) core.Subscriber { return newPipeline(t, cfg).sub })
		})
	}
}

// One policy, one operation, calls with and without request labels and with
// different labels, interleaved, more operations than the span entry lookup
// has front slots, each with freshly built strings as well as the same
// ones: every operation span carries its own call's name and labels.
func TestOperationSpansKeepTheirOwnLabels(t *testing.T) {
	p := newPipeline(t, redressotel.Config{DisableMetrics: true})
	pol, _ := core.NewPolicy(core.PolicyConfig{Name: "api", Bus: core.NewBus(p.sub)})
	ctx := context.Background()
	type call struct {
		op     string
		labels core.Labels
	}
	var calls []call
	for r := range 2 {
		for i := range 150 {
			op := fmt.Sprintf("op%d", i) // new backing memory every time
			var l core.Labels
			switch i % 3 {
			case 1:
				l = core.Labels{HTTPMethod: "GET", ServerAddress: "a", StatusCode: 200 + r}
			case 2:
				l = core.Labels{DBSystem: "postgresql", DBOperation: "SELECT t" + fmt.Sprint(r)}
			}
			calls = append(calls, call{op, l}, call{op, core.Labels{}}, call{"fixed", l})
		}
	}
	for _, c := range calls {
		if err := coretest.RunCall(pol, ctx, &core.Call{Operation: c.op, Labels: c.labels}, func(context.Context) error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	var ops []sdktrace.ReadOnlySpan
	for _, s := range p.spans.Ended() {
		if s.Name() != "attempt" {
			ops = append(ops, s)
		}
	}
	if len(ops) != len(calls) {
		t.Fatalf("%d operation spans, want %d", len(ops), len(calls))
	}
	for i, c := range calls {
		a := attrsOf(ops[i].Attributes())
		want := map[string]string{"redress.policy": "api", "redress.operation": c.op, "redress.outcome": "success", "redress.attempts": "1"}
		if c.labels.HTTPMethod != "" {
			want["http.request.method"], want["server.address"] = "GET", "a"
		}
		if c.labels.DBSystem != "" {
			want["db.system.name"], want["db.query.summary"] = c.labels.DBSystem, c.labels.DBOperation
		}
		if ops[i].Name() != c.op || fmt.Sprint(a) != fmt.Sprint(want) {
			t.Fatalf("call %d (%s %+v): span %q %v, want %v", i, c.op, c.labels, ops[i].Name(), a, want)
		}
	}
}

// A policy called inside another's attempt, on the same subscriber: the
// inner operation span is a child of the outer attempt span, and every
// span ends once with its own attributes, retries included.
func TestNestedOperations(t *testing.T) {
	p := newPipeline(t, redressotel.Config{DisableMetrics: true})
	bus := core.NewBus(p.sub)
	mk := func(name string) *core.Policy {
		pol, err := core.NewPolicy(core.PolicyConfig{Name: name, Bus: bus, Sleeper: coretest.InstantSleeper{},
			Retry: core.RetryConfig{Strategy: coretest.Delays(0), MaxAttempts: 3}})
		if err != nil {
			t.Fatal(err)
		}
		return pol
	}
	outer, inner := mk("outer"), mk("inner")
	n := 0
	err := outer.Run(context.Background(), func(ctx context.Context) error {
		n++
		return inner.Run(ctx, coretest.FailTimes(n%2, core.Transient(errors.New("reset"))).Op())
	})
	if err != nil {
		t.Fatal(err)
	}
	// outer attempt 1: inner fails once then succeeds; outer succeeds at once.
	ended := p.spans.Ended()
	var got []string
	byID := map[trace.SpanID]sdktrace.ReadOnlySpan{}
	for _, s := range ended {
		byID[s.SpanContext().SpanID()] = s
	}
	for _, s := range ended {
		parent := "-"
		if ps, ok := byID[s.Parent().SpanID()]; ok {
			parent = ps.Name() + "#" + attrsOf(ps.Attributes())["redress.attempts"]
		}
		a := attrsOf(s.Attributes())
		got = append(got, fmt.Sprintf("%s#%s<%s", s.Name(), a["redress.attempts"], parent))
	}
	want := "attempt#1<inner#2|attempt#2<inner#2|inner#2<attempt#1|attempt#1<outer#1|outer#1<-"
	if strings.Join(got, "|") != want {
		t.Errorf("spans (name#attempts<parent) = %s, want %s", strings.Join(got, "|"), want)
	}
}

// Many goroutines share a subscriber; run with -race.
func TestConcurrentCalls(t *testing.T) {
	p := newPipeline(t, redressotel.Config{})
	pol, _ := core.NewPolicy(core.PolicyConfig{Name: "p", Bus: core.NewBus(p.sub), Sleeper: coretest.InstantSleeper{},
		Retry: core.RetryConfig{Strategy: coretest.Delays(0), MaxAttempts: 2}})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				op := fmt.Sprintf("op%d", (g+i)%5)
				_ = coretest.RunCall(pol, context.Background(), &core.Call{Operation: op}, coretest.FailTimes(i%2, core.Transient(errors.New("x"))).Op())
			}
		})
	}
	wg.Wait()
	if n := len(p.spans.Ended()); n != 8*50*2+8*25 {
		t.Fatalf("%d spans, want %d", n, 8*50*2+8*25)
	}
	for _, s := range p.spans.Ended() {
		if s.Name() == "attempt" {
			continue
		}
		if a := attrsOf(s.Attributes()); a["redress.operation"] != s.Name() {
			t.Fatalf("span %q has operation %q", s.Name(), a["redress.operation"])
		}
	}
}

// The contexts the subscriber makes name themselves as context.WithValue's
// do, down the chain.
func TestContextString(t *testing.T) {
	p := newPipeline(t, redressotel.Config{DisableMetrics: true})
	pol, _ := core.NewPolicy(core.PolicyConfig{Name: "p", Bus: core.NewBus(p.sub)})
	var got string
	_ = pol.Run(context.Background(), func(ctx context.Context) error { got = fmt.Sprint(ctx); return nil })
	if !strings.HasPrefix(got, "context.Background.WithValue(") || !strings.Contains(got, "redressotel operation") ||
		!strings.HasSuffix(got, ".WithValue(redressotel attempt)") {
		t.Errorf("attempt context = %s", got)
	}
}

// samplerSpy records the attributes each sampling decision was given.
type samplerSpy struct {
	mu   sync.Mutex
	seen map[string]map[string]string // span name -> attributes
}

func (s *samplerSpy) ShouldSample(p sdktrace.SamplingParameters) sdktrace.SamplingResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := map[string]string{}
	for _, kv := range p.Attributes {
		m[string(kv.Key)] = kv.Value.Emit()
	}
	s.seen[p.Name] = m
	return sdktrace.SamplingResult{Decision: sdktrace.RecordAndSample}
}

func (s *samplerSpy) Description() string { return "spy" }

// With StartAttributes a sampler sees the operation span's policy,
// operation and request labels; without, it sees none of them (they are set
// at the span's end). The exported span carries them either way.
func TestStartAttributesReachTheSampler(t *testing.T) {
	for _, startAttrs := range []bool{false, true} {
		t.Run(fmt.Sprint("StartAttributes=", startAttrs), func(t *testing.T) {
			spy := &samplerSpy{seen: map[string]map[string]string{}}
			rec := tracetest.NewSpanRecorder()
			tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(spy), sdktrace.WithSpanProcessor(rec))
			defer func() { _ = tp.Shutdown(context.Background()) }()
			sub, err := redressotel.New(redressotel.Config{TracerProvider: tp, DisableMetrics: true, StartAttributes: startAttrs})
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = sub.Close() }()
			p, err := core.NewPolicy(core.PolicyConfig{Name: "catalog", Operation: "GetItem", Bus: core.NewBus(sub)})
			if err != nil {
				t.Fatal(err)
			}
			c := core.Call{Labels: core.Labels{HTTPMethod: "GET", ServerAddress: "catalog.internal"}}
			if err := coretest.RunCall(p, context.Background(), &c, func(context.Context) error { return nil }); err != nil {
				t.Fatal(err)
			}
			got := spy.seen["GetItem"]
			if got == nil {
				t.Fatalf("the sampler saw no GetItem span: %v", spy.seen)
			}
			want := map[string]string{telemetry.AttrPolicy: "catalog", telemetry.AttrOperation: "GetItem", telemetry.AttrHTTPMethod: "GET", telemetry.AttrServerAddress: "catalog.internal"}
			for k, v := range want {
				if startAttrs && got[k] != v {
					t.Errorf("sampler saw %s=%q, want %q (all: %v)", k, got[k], v, got)
				}
				if !startAttrs && got[k] != "" {
					t.Errorf("sampler saw %s=%q, want nothing without StartAttributes", k, got[k])
				}
			}
			var exported map[string]string
			for _, s := range rec.Ended() {
				if s.Name() == "GetItem" {
					exported = attrsOf(s.Attributes())
					if n := len(s.Attributes()); n != len(exported) {
						t.Errorf("exported span has %d attributes, %d distinct keys", n, len(exported))
					}
				}
			}
			for k, v := range want {
				if exported[k] != v {
					t.Errorf("exported %s=%q, want %q", k, exported[k], v)
				}
			}
		})
	}
}

// Spans alone read no event durations, so the engine skips its clock reads
// for them; with metrics the durations are recorded and must be measured.
func TestDurationFreeOnlyWithoutMetrics(t *testing.T) {
	for _, c := range []struct {
		cfg  redressotel.Config
		free bool
	}{{redressotel.Config{DisableMetrics: true}, true}, {redressotel.Config{}, false}, {redressotel.Config{DisableSpans: true}, false}} {
		sub, err := redressotel.New(c.cfg)
		if err != nil {
			t.Fatal(err)
		}
		var df core.DurationFree = sub
		if df.DurationFree() != c.free {
			t.Errorf("%+v: DurationFree() = %v, want %v", c.cfg, df.DurationFree(), c.free)
		}
		_ = sub.Close()
	}
}
