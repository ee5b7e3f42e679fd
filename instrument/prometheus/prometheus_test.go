package redressprom_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os/exec"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"

	"github.com/redress-go/redress/core"
	"github.com/redress-go/redress/core/coretest"
	redressprom "github.com/redress-go/redress/instrument/prometheus"
	"github.com/redress-go/redress/internal/telemetry"
	"github.com/redress-go/redress/internal/testenv"
)

func newSub(t *testing.T, cfg redressprom.Config) (*redressprom.Subscriber, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	cfg.Registerer = reg
	s, err := redressprom.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s, reg
}

func TestNewConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cfg   redressprom.Config
		field string
	}{
		{"nil registerer", redressprom.Config{}, "Config.Registerer"},
		{"typed-nil registerer", redressprom.Config{Registerer: (*prometheus.Registry)(nil)}, "Config.Registerer"},
		{"decreasing buckets", redressprom.Config{Registerer: prometheus.NewRegistry(), Buckets: []float64{1, 0.5}}, "Config.Buckets"},
		{"repeated bucket", redressprom.Config{Registerer: prometheus.NewRegistry(), Buckets: []float64{1, 1}}, "Config.Buckets"},
		{"single NaN bucket", redressprom.Config{Registerer: prometheus.NewRegistry(), Buckets: []float64{math.NaN()}}, "Config.Buckets"},
		{"NaN bucket first", redressprom.Config{Registerer: prometheus.NewRegistry(), Buckets: []float64{math.NaN(), 1}}, "Config.Buckets"},
		{"+Inf bucket", redressprom.Config{Registerer: prometheus.NewRegistry(), Buckets: []float64{1, math.Inf(1)}}, "Config.Buckets"},
		{"-Inf bucket", redressprom.Config{Registerer: prometheus.NewRegistry(), Buckets: []float64{math.Inf(-1), 1}}, "Config.Buckets"},
		{"nil policy", redressprom.Config{Registerer: prometheus.NewRegistry(), DeclarePolicies: []*core.Policy{nil}}, "Config.DeclarePolicies[0]"},
		{"unknown event bits", redressprom.Config{Registerer: prometheus.NewRegistry(), Events: 1 << 31}, "Config.Events"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := redressprom.New(tc.cfg)
			var ce *core.ConfigError
			if !errors.As(err, &ce) || ce.Field != tc.field {
				t.Fatalf("err = %v, want ConfigError on %s", err, tc.field)
			}
		})
	}
}

func TestRegistrationConflictLeavesNothingRegistered(t *testing.T) {
	reg := prometheus.NewRegistry()
	// Someone else owns one of the series.
	// (With the same label names: a registry never forgets the label names
	// of a family, even after Unregister.)
	var names []string
	for _, a := range telemetry.Events.Attrs {
		names = append(names, telemetry.PromLabel(a))
	}
	other := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "redress_events_total", Help: "Lifecycle events published on the bus."}, names)
	reg.MustRegister(other)
	_, err := redressprom.New(redressprom.Config{Registerer: reg})
	if !errors.Is(err, redressprom.ErrConflict) {
		t.Fatalf("err = %v, want a registration conflict", err)
	}
	// The collectors registered before the conflict were removed: a second
	// subscriber registers fine once the owner leaves.
	reg.Unregister(other)
	s, err := redressprom.New(redressprom.Config{Registerer: reg})
	if err != nil {
		t.Fatalf("after the owner left: %v", err)
	}
	if !s.Unregister() {
		t.Fatal("Unregister reported a collector missing")
	}
	if _, err := redressprom.New(redressprom.Config{Registerer: reg}); err != nil {
		t.Fatalf("after Unregister: %v", err)
	}
	// Two subscribers on one registry conflict.
	_, err = redressprom.New(redressprom.Config{Registerer: reg})
	var are prometheus.AlreadyRegisteredError
	if !errors.Is(err, redressprom.ErrConflict) || !errors.As(err, &are) {
		t.Fatalf("second subscriber: err = %v, want ErrConflict wrapping AlreadyRegisteredError", err)
	}
}

// A call that fails twice with a transient error and then succeeds, with a
// breaker and a budget, on a fake clock: every series and value is exact.
func TestScriptedCallExactSeries(t *testing.T) {
	sub, reg := newSub(t, redressprom.Config{})
	clk := coretest.NewFakeClock(coretest.StartTime)
	br, _ := core.NewBreaker(core.BreakerConfig{Name: "inv", Clock: clk})
	bud, _ := core.NewBudget(core.BudgetConfig{MaxRetries: 4, Clock: clk})
	p, err := core.NewPolicy(core.PolicyConfig{
		Name: "inventory", Operation: "GetStock",
		Retry:   core.RetryConfig{MaxAttempts: 5, Strategy: coretest.Delays(20*time.Millisecond, 300*time.Millisecond)},
		Breaker: br, Budget: bud, Bus: core.NewBus(sub), Clock: clk, Sleeper: clk,
	})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	err = p.Run(context.Background(), func(context.Context) error {
		n++
		clk.Advance(40 * time.Millisecond)
		if n <= 2 {
			return core.Transient(errors.New("reset"))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	const lbl = `redress_operation="GetStock",redress_policy="inventory"`
	// No wrapper labels: client_golang writes them with empty values, and
	// sorts the labels by name.
	ev := func(errType, event string, n int) string {
		ls := []string{`error_type="` + errType + `"`, `redress_event="` + event + `"`, lbl}
		for _, a := range telemetry.WrapperAttrs {
			ls = append(ls, telemetry.PromLabel(a)+`=""`)
		}
		sort.Strings(ls)
		return fmt.Sprintf("redress_events_total{%s} %d", strings.Join(ls, ","), n)
	}
	want := `
# HELP redress_retries_total Retries scheduled.
# TYPE redress_retries_total counter
redress_retries_total{error_type="transient",` + lbl + `} 2
# HELP redress_events_total Lifecycle events published on the bus.
# TYPE redress_events_total counter
` + ev("", "attempt_end", 1) + `
` + ev("", "success", 1) + `
` + ev("transient", "attempt_end", 2) + `
` + ev("transient", "retry", 2) + `
# HELP redress_budget_utilization_ratio Share of the retry budget in use.
# TYPE redress_budget_utilization_ratio gauge
redress_budget_utilization_ratio{redress_policy="inventory"} 0.5
# HELP redress_circuit_breaker_state Circuit breaker state: 1 for the current state, 0 for the others.
# TYPE redress_circuit_breaker_state gauge
redress_circuit_breaker_state{redress_circuit_breaker_name="inv",redress_circuit_breaker_state="closed",redress_policy="inventory"} 1
redress_circuit_breaker_state{redress_circuit_breaker_name="inv",redress_circuit_breaker_state="half_open",redress_policy="inventory"} 0
redress_circuit_breaker_state{redress_circuit_breaker_name="inv",redress_circuit_breaker_state="open",redress_policy="inventory"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"redress_retries_total", "redress_events_total", "redress_budget_utilization_ratio", "redress_circuit_breaker_state"); err != nil {
		t.Fatal(err)
	}
	// The subscriber holds breakers and budgets seen only in events weakly
	// (a breaker nobody references leaves the metrics): keep them alive
	// past the gather, or a GC between Run and Gather drops their gauges.
	runtime.KeepAlive(br)
	runtime.KeepAlive(bud)
	// Histograms: counts and sums in seconds.
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sums := map[string][2]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			if h := m.GetHistogram(); h != nil {
				key := mf.GetName()
				for _, l := range m.GetLabel() {
					if l.GetName() == "error_type" || l.GetName() == "redress_outcome" {
						key += "/" + l.GetValue()
					}
				}
				sums[key] = [2]float64{float64(h.GetSampleCount()), h.GetSampleSum()}
			}
		}
	}
	for k, want := range map[string][2]float64{
		"redress_attempt_duration_seconds/transient":              {2, 0.08},
		"redress_attempt_duration_seconds/":                       {1, 0.04},
		"redress_retry_delay_seconds/transient":                   {2, 0.32},
		"redress_operation_duration_seconds//success_after_retry": {1, 0.44},
	} {
		got, ok := sums[k]
		if !ok || got[0] != want[0] || abs(got[1]-want[1]) > 1e-9 {
			t.Errorf("%s = %v (present %v), want %v; all: %v", k, got, ok, want, sums)
		}
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

func TestBreakerAndBudgetEvents(t *testing.T) {
	for _, tc := range []struct {
		name    string
		metric  string
		want    string
		trigger func(t *testing.T, bus *core.Bus)
	}{
		{
			name:   "breaker opens then rejects",
			metric: "redress_circuit_breaker_rejections_total",
			want: `
# HELP redress_circuit_breaker_rejections_total Calls refused by an open circuit breaker.
# TYPE redress_circuit_breaker_rejections_total counter
redress_circuit_breaker_rejections_total{redress_circuit_breaker_name="db",redress_operation="q",redress_policy="db"} 2
`,
			trigger: func(t *testing.T, bus *core.Bus) {
				br, _ := core.NewBreaker(core.BreakerConfig{Name: "db", FailureThreshold: 1})
				p, _ := core.NewPolicy(core.PolicyConfig{Name: "db", Operation: "q", Retry: core.RetryConfig{MaxAttempts: 1}, Breaker: br, Bus: bus})
				for range 3 {
					_ = p.Run(context.Background(), func(context.Context) error { return core.Transient(errors.New("x")) })
				}
			},
		},
		{
			name:   "breaker transition",
			metric: "redress_circuit_breaker_transitions_total",
			want: `
# HELP redress_circuit_breaker_transitions_total Circuit breaker state changes.
# TYPE redress_circuit_breaker_transitions_total counter
redress_circuit_breaker_transitions_total{redress_circuit_breaker_name="db",redress_circuit_breaker_state="open",redress_policy="db"} 1
`,
			trigger: func(t *testing.T, bus *core.Bus) {
				br, _ := core.NewBreaker(core.BreakerConfig{Name: "db", FailureThreshold: 1})
				p, _ := core.NewPolicy(core.PolicyConfig{Name: "db", Operation: "q", Retry: core.RetryConfig{MaxAttempts: 1}, Breaker: br, Bus: bus})
				_ = p.Run(context.Background(), func(context.Context) error { return core.Transient(errors.New("x")) })
			},
		},
		{
			name:   "budget exhausted",
			metric: "redress_budget_rejections_total",
			want: `
# HELP redress_budget_rejections_total Retries denied by the retry budget.
# TYPE redress_budget_rejections_total counter
redress_budget_rejections_total{redress_operation="q",redress_policy="b"} 1
`,
			trigger: func(t *testing.T, bus *core.Bus) {
				bud, _ := core.NewBudget(core.BudgetConfig{MaxRetries: 1})
				p, _ := core.NewPolicy(core.PolicyConfig{Name: "b", Operation: "q", Retry: core.RetryConfig{MaxAttempts: 5}, Budget: bud, Bus: bus, Sleeper: coretest.InstantSleeper{}})
				_ = p.Run(context.Background(), func(context.Context) error { return core.Transient(errors.New("x")) })
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sub, reg := newSub(t, redressprom.Config{})
			tc.trigger(t, core.NewBus(sub))
			if err := testutil.GatherAndCompare(reg, strings.NewReader(tc.want), tc.metric); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestDeclarePreInitialisesSeries(t *testing.T) {
	br, _ := core.NewBreaker(core.BreakerConfig{Name: "pay"})
	bud, _ := core.NewBudget(core.BudgetConfig{})
	p, _ := core.NewPolicy(core.PolicyConfig{Name: "pay", Breaker: br, Budget: bud})
	sub, reg := newSub(t, redressprom.Config{DeclarePolicies: []*core.Policy{p}})
	sub.Declare(p, "Charge")
	for metric, want := range map[string]int{
		"redress_circuit_breaker_state":             3,
		"redress_budget_utilization_ratio":          1,
		"redress_circuit_breaker_transitions_total": 3,
		"redress_retries_total":                     10, // 5 retryable classes x 2 operations
		"redress_budget_rejections_total":           2,
		"redress_circuit_breaker_rejections_total":  2,
	} {
		n, err := testutil.GatherAndCount(reg, metric)
		if err != nil {
			t.Fatal(err)
		}
		if n != want {
			t.Errorf("%s: %d series, want %d", metric, n, want)
		}
	}
}

func TestHandleAllocatesNothing(t *testing.T) {
	sub, _ := newSub(t, redressprom.Config{})
	br, _ := core.NewBreaker(core.BreakerConfig{})
	bud, _ := core.NewBudget(core.BudgetConfig{})
	br2, _ := core.NewBreaker(core.BreakerConfig{})
	bud2, _ := core.NewBudget(core.BudgetConfig{})
	evs := []core.Event{
		{Kind: core.EventAttemptEnd, Policy: "p", Operation: "o", Attempt: 1, AttemptDuration: time.Millisecond, Breaker: br, Budget: bud},
		{Kind: core.EventAttemptEnd, Policy: "p", Operation: "o", Attempt: 1, Err: errors.New("x"), Class: core.ClassTransient, Breaker: br, Budget: bud},
		{Kind: core.EventRetry, Policy: "p", Operation: "o", Attempt: 1, Class: core.ClassTransient, Sleep: time.Millisecond, Breaker: br, Budget: bud},
		{Kind: core.EventSuccess, Policy: "p", Operation: "o", Attempt: 2, Outcome: core.OutcomeSuccessAfterRetry, Elapsed: time.Millisecond, Breaker: br, Budget: bud},
		{Kind: core.EventMaxAttemptsExceeded, Policy: "p", Operation: "o", Attempt: 3, Outcome: core.OutcomeFailure, StopReason: core.StopMaxAttempts, Class: core.ClassServerError},
		{Kind: core.EventBudgetExhausted, Policy: "p", Operation: "o", Attempt: 3, Outcome: core.OutcomeFailure, StopReason: core.StopBudgetExhausted},
		{Kind: core.EventCircuitRejected, Policy: "p", Operation: "o", Outcome: core.OutcomeRejected, StopReason: core.StopCircuitOpen, Breaker: br},
		// With wrapper labels (the label-child cache is keyed by them too).
		{Kind: core.EventAttemptEnd, Policy: "p", Operation: "o", Attempt: 1, Err: errors.New("x"), Class: core.ClassServerError,
			Labels: core.Labels{HTTPMethod: "GET", HTTPRoute: "/o/{id}", ServerAddress: "o.example", ServerPort: 443, StatusCode: 503}},
		{Kind: core.EventSuccess, Policy: "p", Operation: "o", Attempt: 2, Outcome: core.OutcomeSuccessAfterRetry,
			Labels: core.Labels{HTTPMethod: "GET", HTTPRoute: "/o/{id}", ServerAddress: "o.example", ServerPort: 443, StatusCode: 200}},
		{Kind: core.EventAttemptEnd, Policy: "p", Operation: "o", Attempt: 1, Labels: core.Labels{RPCSystem: "grpc", RPCMethod: "/s.S/M", RPCStatusCode: "OK"}},
		{Kind: core.EventAttemptEnd, Policy: "p", Operation: "o", Attempt: 1, Labels: core.Labels{DBSystem: "postgresql", DBOperation: "SELECT users"}},
		// A second breaker and budget under the same policy and operation
		// (two transports built from defaults), alternating with the first.
		{Kind: core.EventAttemptEnd, Policy: "p", Operation: "o", Attempt: 1, AttemptDuration: time.Millisecond, Breaker: br2, Budget: bud2},
		{Kind: core.EventSuccess, Policy: "p", Operation: "o", Attempt: 1, Outcome: core.OutcomeSuccess, Breaker: br2, Budget: bud2},
		{Kind: core.EventSuccess, Policy: "p", Operation: "o", Attempt: 1, Outcome: core.OutcomeSuccess, Breaker: br, Budget: bud},
	}
	ctx := context.Background()
	for _, e := range evs { // warm-up resolves the label children
		sub.Handle(ctx, e)
	}
	allocs := testing.AllocsPerRun(100, func() {
		for _, e := range evs {
			sub.Handle(ctx, e)
		}
	})
	if allocs != 0 {
		t.Fatalf("Handle allocated %.1f times per round, want 0", allocs)
	}
}

// The error message never reaches a label value, and a query string in the
// operation or the route (a raw URL passed where a template belongs) is cut
// off; the wrapper labels themselves are emitted.
func TestPrivacyNoSecretInSeries(t *testing.T) {
	const secret = "sk_live_SECRET123"
	sub, reg := newSub(t, redressprom.Config{})
	p, _ := core.NewPolicy(core.PolicyConfig{Name: "api", Bus: core.NewBus(sub), Sleeper: coretest.InstantSleeper{}})
	_ = coretest.RunCall(p, context.Background(), &core.Call{Operation: "GET /items?api_key=" + secret, Labels: core.Labels{
		HTTPMethod: "GET", HTTPRoute: "/items?token=" + secret + "#" + secret, ServerAddress: "api.example", StatusCode: 503,
	}}, func(context.Context) error {
		return core.Transient(errors.New("bad token " + secret))
	})
	out := scrape(t, reg)
	if strings.Contains(out, secret) {
		t.Fatalf("scrape output contains the secret:\n%s", out)
	}
	for _, want := range []string{`redress_operation="GET /items"`, `http_route="/items"`, `server_address="api.example"`, `http_response_status_code="503"`} {
		if !strings.Contains(out, want) {
			t.Errorf("scrape lacks %s:\n%s", want, out)
		}
	}
}

func scrape(t *testing.T, g prometheus.Gatherer) string {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			t.Fatal(err)
		}
	}
	return buf.String()
}

func TestPromtoolCheckMetrics(t *testing.T) {
	promtool := testenv.LookPath(t, "promtool", "prometheus")
	br, _ := core.NewBreaker(core.BreakerConfig{Name: "b", FailureThreshold: 2})
	bud, _ := core.NewBudget(core.BudgetConfig{MaxRetries: 3})
	p, _ := core.NewPolicy(core.PolicyConfig{Name: "svc", Breaker: br, Budget: bud, Sleeper: coretest.InstantSleeper{}})
	sub, reg := newSub(t, redressprom.Config{DeclarePolicies: []*core.Policy{p}})
	p, _ = core.NewPolicy(core.PolicyConfig{Name: "svc", Breaker: br, Budget: bud, Bus: core.NewBus(sub), Sleeper: coretest.InstantSleeper{}})
	for i := range 6 {
		_ = p.Run(context.Background(), coretest.FailTimes(i%3, core.Transient(errors.New("x"))).Op())
	}
	out := scrape(t, reg)
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(out)
	res, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check metrics: %v\n%s\n--- input:\n%s", err, res, out)
	}
	if len(bytes.TrimSpace(res)) != 0 {
		t.Fatalf("promtool reported problems:\n%s", res)
	}
}

// twoHTTPPolicies builds two policies both named "http" (as two
// redresshttp transports built from defaults are), each with its own budget
// and its own breaker named "api.example", and runs calls through both,
// alternating, so that the last event comes from the policy whose budget is
// the emptier and whose breaker is closed: budget a 1 of 4 retries used,
// budget b 2 of 4; breaker a closed, breaker b open.
func twoHTTPPolicies(t *testing.T, bus *core.Bus) (clk *coretest.FakeClock, pa, pb *core.Policy) {
	t.Helper()
	clk = coretest.NewFakeClock(coretest.StartTime)
	mk := func(threshold int) *core.Policy {
		br, err := core.NewBreaker(core.BreakerConfig{Name: "api.example", FailureThreshold: threshold, RecoveryTimeout: time.Second, Clock: clk})
		if err != nil {
			t.Fatal(err)
		}
		bud, err := core.NewBudget(core.BudgetConfig{MaxRetries: 4, Clock: clk})
		if err != nil {
			t.Fatal(err)
		}
		p, err := core.NewPolicy(core.PolicyConfig{Name: "http", Operation: "GET api.example", Breaker: br, Budget: bud, Bus: bus, Clock: clk, Sleeper: clk,
			Retry: core.RetryConfig{MaxAttempts: 2, Strategy: coretest.Delays(0)}})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	pa, pb = mk(100), mk(4)
	ctx := context.Background()
	fail := core.Transient(errors.New("reset"))
	_ = pa.Run(ctx, coretest.FailTimes(1, fail).Op()) // a: 1 retry
	_ = pb.Run(ctx, coretest.FailTimes(5, fail).Op()) // b: 1 retry, 2 failures
	_ = pa.Run(ctx, coretest.FailTimes(0, fail).Op())
	_ = pb.Run(ctx, coretest.FailTimes(5, fail).Op()) // b: 1 retry, 4 failures: opens
	_ = pa.Run(ctx, coretest.FailTimes(0, fail).Op()) // the last event is a's
	if got := [2]float64{pa.Budget().Utilization(), pb.Budget().Utilization()}; got != [2]float64{0.25, 0.5} {
		t.Fatalf("budget utilizations %v, want [0.25 0.5]", got)
	}
	if pa.Breaker().State() != core.StateClosed || pb.Breaker().State() != core.StateOpen {
		t.Fatalf("breakers %v %v, want closed open", pa.Breaker().State(), pb.Breaker().State())
	}
	return clk, pa, pb
}

// Two distinct budgets and breakers under one policy name export one series
// per label set, with a well-defined value: the highest utilization and the
// worst breaker state, whatever the order of the events; the scrape succeeds
// (a registry refuses duplicate series) and passes promtool.
func TestSameNamedPoliciesFoldIntoOneSeries(t *testing.T) {
	sub, reg := newSub(t, redressprom.Config{})
	clk, pa, pb := twoHTTPPolicies(t, core.NewBus(sub))
	head := `
# HELP redress_budget_utilization_ratio ` + telemetry.BudgetUtilization.Description + `
# TYPE redress_budget_utilization_ratio gauge
redress_budget_utilization_ratio{redress_policy="http"} 0.5
# HELP redress_circuit_breaker_state ` + telemetry.BreakerState.Description + `
# TYPE redress_circuit_breaker_state gauge
`
	want := func(closed, open, half int) string {
		return head + fmt.Sprintf(`redress_circuit_breaker_state{redress_circuit_breaker_name="api.example",redress_circuit_breaker_state="closed",redress_policy="http"} %d
redress_circuit_breaker_state{redress_circuit_breaker_name="api.example",redress_circuit_breaker_state="half_open",redress_policy="http"} %d
redress_circuit_breaker_state{redress_circuit_breaker_name="api.example",redress_circuit_breaker_state="open",redress_policy="http"} %d
`, closed, half, open)
	}
	fams := []string{"redress_budget_utilization_ratio", "redress_circuit_breaker_state"}
	for range 5 { // stable from scrape to scrape
		if err := testutil.GatherAndCompare(reg, strings.NewReader(want(0, 1, 0)), fams...); err != nil {
			t.Fatal(err)
		}
	}
	out := scrape(t, reg)
	// b's breaker goes half-open on its probe: half_open is now the worst.
	clk.Advance(2 * time.Second)
	_ = pb.Run(context.Background(), func(context.Context) error {
		if err := testutil.GatherAndCompare(reg, strings.NewReader(want(0, 0, 1)), fams...); err != nil {
			t.Error(err)
		}
		return nil
	})
	// The probe succeeded: both closed.
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want(1, 0, 0)), fams...); err != nil {
		t.Fatal(err)
	}
	runtime.KeepAlive(pa)

	promtool := testenv.LookPath(t, "promtool", "prometheus")
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(out)
	if res, err := cmd.CombinedOutput(); err != nil || len(bytes.TrimSpace(res)) != 0 {
		t.Errorf("promtool check metrics: %v\n%s\n--- input:\n%s", err, res, out)
	}
}

// Many (policy, operation) pairs, more than the lookup's front has slots,
// each sent with freshly built strings as well as the same ones, count into
// their own series and nowhere else.
func TestManyOperationsCountSeparately(t *testing.T) {
	sub, reg := newSub(t, redressprom.Config{})
	const pairs, rounds = 300, 3
	ctx := context.Background()
	for r := range rounds {
		for i := range pairs {
			op := fmt.Sprintf("op%d", i) // new backing memory every time
			pol := "p" + strings.Repeat("x", i%3)
			sub.Handle(ctx, core.Event{Kind: core.EventSuccess, Policy: pol, Operation: op, Attempt: 1, Outcome: core.OutcomeSuccess, Elapsed: time.Duration(r+1) * time.Millisecond})
		}
	}
	for _, i := range []int{0, 1, 63, 64, 65, 150, 299} {
		pol, op := "p"+strings.Repeat("x", i%3), fmt.Sprintf("op%d", i)
		got := counterValue(t, reg, "redress_events_total", map[string]string{"redress_policy": pol, "redress_operation": op, "redress_event": "success"})
		if got != rounds {
			t.Errorf("%s/%s: %v success events, want %d", pol, op, got, rounds)
		}
	}
}

// counterValue is the value of the counter series name{want...}, failing
// the test when no series or several match.
func counterValue(t *testing.T, g prometheus.Gatherer, name string, want map[string]string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var found []float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			got := map[string]string{}
			for _, lp := range m.GetLabel() {
				got[lp.GetName()] = lp.GetValue()
			}
			for k, v := range want {
				if got[k] != v {
					continue metrics
				}
			}
			found = append(found, m.GetCounter().GetValue())
		}
	}
	if len(found) != 1 {
		t.Fatalf("%s%v: %d series match, want 1", name, want, len(found))
	}
	return found[0]
}
