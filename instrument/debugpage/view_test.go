package redressdebug_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redress-go/redress/core"
	"github.com/redress-go/redress/core/coretest"
	redressdebug "github.com/redress-go/redress/instrument/debugpage"
)

func newPage(t *testing.T, cfg redressdebug.Config) (*redressdebug.Page, *coretest.FakeClock) {
	t.Helper()
	clk := coretest.NewFakeClock(coretest.StartTime)
	if cfg.Clock == nil {
		cfg.Clock = clk
	}
	p, err := redressdebug.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p, clk
}

func TestConformance(t *testing.T) {
	coretest.TestSubscriber(t, func(t *testing.T) core.Subscriber {
		p, err := redressdebug.New(redressdebug.Config{})
		if err != nil {
			t.Fatal(err)
		}
		return p
	})
}

func TestConfigErrors(t *testing.T) {
	var nilClock *coretest.FakeClock
	for _, c := range []struct {
		cfg   redressdebug.Config
		field string
	}{
		{redressdebug.Config{Clock: nilClock}, "Config.Clock"},
		{redressdebug.Config{MaxOperations: -1}, "Config.MaxOperations"},
		{redressdebug.Config{MaxOperations: 1 << 30}, "Config.MaxOperations"},
		{redressdebug.Config{MaxFailures: -1}, "Config.MaxFailures"},
		{redressdebug.Config{MaxFailures: 101}, "Config.MaxFailures"},
		{redressdebug.Config{MaxTransitions: -2}, "Config.MaxTransitions"},
		{redressdebug.Config{MaxErrorLen: -1}, "Config.MaxErrorLen"},
		{redressdebug.Config{MaxErrorLen: 5000}, "Config.MaxErrorLen"},
		{redressdebug.Config{Policies: []*core.Policy{nil}}, "Config.Policies[0]"},
	} {
		_, err := redressdebug.New(c.cfg)
		var ce *core.ConfigError
		if !errors.As(err, &ce) || ce.Field != c.field {
			t.Errorf("New(%+v) = %v, want a ConfigError naming %s", c.cfg, err, c.field)
		}
	}
}

func pol(t *testing.T, name string, p *redressdebug.Page, clk *coretest.FakeClock, mod func(*core.PolicyConfig)) *core.Policy {
	t.Helper()
	cfg := core.PolicyConfig{Name: name, Bus: core.NewBus(p), Clock: clk, Sleeper: coretest.InstantSleeper{},
		Retry: core.RetryConfig{Strategy: core.Constant(0), MaxAttempts: 3}}
	if mod != nil {
		mod(&cfg)
	}
	po, err := core.NewPolicy(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return po
}

func opView(t *testing.T, v redressdebug.View, policy, op string) redressdebug.OperationView {
	t.Helper()
	for _, o := range v.Operations {
		if o.Policy == policy && o.Operation == op {
			return o
		}
	}
	t.Fatalf("no operation %s/%s in %+v", policy, op, v.Operations)
	return redressdebug.OperationView{}
}

func TestWindowsFollowTheClock(t *testing.T) {
	p, clk := newPage(t, redressdebug.Config{})
	po := pol(t, "users", p, clk, nil)
	ctx := context.Background()
	ok := func(context.Context) error { return nil }
	bad := func(context.Context) error { return core.Transient(errors.New("reset")) }
	call := func(op string, f func(context.Context) error) {
		_ = coretest.RunCall(po, ctx, &core.Call{Operation: op}, f)
	}

	for range 4 {
		call("get", ok)
	}
	call("get", bad) // 3 attempts, max_attempts
	clk.Advance(10 * time.Second)
	call("get", ok)

	v := p.Snapshot()
	o := opView(t, v, "users", "get")
	if o.Calls != 6 || o.Total != 6 {
		t.Errorf("calls %d total %d, want 6 and 6", o.Calls, o.Total)
	}
	if got := o.CallsPerSecond[59]; got != 1 {
		t.Errorf("current second: %d calls, want 1", got)
	}
	if got, f := o.CallsPerSecond[49], o.FailuresPerSecond[49]; got != 5 || f != 1 {
		t.Errorf("10 s ago: %d calls %d failures, want 5 and 1", got, f)
	}
	if want := 6.0 / 11; o.Rate != want {
		t.Errorf("rate %v, want %v (6 calls in the 11 seconds since the first)", o.Rate, want)
	}
	if want := 5.0 / 6; o.SuccessRatio != want {
		t.Errorf("success ratio %v, want %v", o.SuccessRatio, want)
	}
	if want := 8.0 / 6; o.AttemptsPerCall != want {
		t.Errorf("attempts per call %v, want %v", o.AttemptsPerCall, want)
	}
	if o.StopReasons["max_attempts"] != 1 || len(o.StopReasons) != 1 {
		t.Errorf("stop reasons %v, want max_attempts: 1", o.StopReasons)
	}

	// 55 s later the first second has moved out of the ring, and the
	// 15-second slots no longer hold it either.
	clk.Advance(55 * time.Second)
	o = opView(t, p.Snapshot(), "users", "get")
	if o.Calls != 1 || o.Total != 6 || o.CallsPerSecond[4] != 1 || o.Rate != 1.0/60 {
		t.Errorf("after 55 s: calls %d total %d rate %v, series %v", o.Calls, o.Total, o.Rate, o.CallsPerSecond)
	}
	if len(o.StopReasons) != 0 {
		t.Errorf("after 55 s: stop reasons %v, want none", o.StopReasons)
	}
	// A call after a long silence zeroes the whole ring.
	clk.Advance(10 * time.Minute)
	call("get", ok)
	o = opView(t, p.Snapshot(), "users", "get")
	if o.Calls != 1 || o.CallsPerSecond[59] != 1 || o.Rate != 1.0/60 {
		t.Errorf("after 10 min: calls %d rate %v series %v", o.Calls, o.Rate, o.CallsPerSecond)
	}
	if o.SuccessRatio != 1 || o.AttemptsPerCall != 1 {
		t.Errorf("after 10 min: success %v attempts %v", o.SuccessRatio, o.AttemptsPerCall)
	}
}

func TestRecentFailuresNewestFirstAndBounded(t *testing.T) {
	p, clk := newPage(t, redressdebug.Config{MaxFailures: 3})
	po := pol(t, "users", p, clk, func(c *core.PolicyConfig) { c.Retry.MaxAttempts = 1 })
	for i := range 5 {
		_ = po.Run(context.Background(), func(context.Context) error { return core.Transient(fmt.Errorf("failure %d", i)) })
		clk.Advance(time.Second)
	}
	_ = po.Run(context.Background(), func(context.Context) error { return nil })
	o := opView(t, p.Snapshot(), "users", "users")
	var got []string
	for _, f := range o.RecentFailures {
		got = append(got, f.Error)
		if f.Class != "transient" || f.StopReason != "max_attempts" || f.Attempts != 1 || f.Event != "max_attempts_exceeded" {
			t.Errorf("failure %+v", f)
		}
	}
	if want := "failure 4,failure 3,failure 2"; strings.Join(got, ",") != want {
		t.Errorf("recent failures %q, want %q", got, want)
	}
	if !o.RecentFailures[0].Time.After(o.RecentFailures[1].Time) {
		t.Errorf("not newest first: %v", o.RecentFailures)
	}
}

func TestRedaction(t *testing.T) {
	secret := errors.New(`Get "https://api.example.com/v1/users?token=s3cr3t#frag": connection reset`)
	t.Run("default cuts query strings", func(t *testing.T) {
		p, clk := newPage(t, redressdebug.Config{})
		po := pol(t, "api", p, clk, func(c *core.PolicyConfig) { c.Retry.MaxAttempts = 1 })
		_ = coretest.RunCall(po, context.Background(), &core.Call{Operation: "GET https://api.example.com/v1/users?token=s3cr3t",
			Labels: core.Labels{HTTPRoute: "/v1/users?token=s3cr3t", ServerAddress: "s3cr3t.example.com"}},
			func(context.Context) error { return core.Transient(secret) })
		rec := httptest.NewRecorder()
		p.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		if strings.Contains(rec.Body.String(), "s3cr3t") {
			t.Fatalf("the page shows the secret:\n%s", rec.Body.String())
		}
		v := p.Snapshot()
		b, _ := json.Marshal(v)
		if strings.Contains(string(b), "s3cr3t") || strings.Contains(string(b), "frag") {
			t.Fatalf("the view holds the query string: %s", b)
		}
		o := opView(t, v, "api", "GET https://api.example.com/v1/users")
		if got, want := o.RecentFailures[0].Error, `Get "https://api.example.com/v1/users": connection reset`; got != want {
			t.Errorf("error text %q, want %q", got, want)
		}
	})
	t.Run("hook and length bound", func(t *testing.T) {
		p, clk := newPage(t, redressdebug.Config{MaxErrorLen: 12, RedactError: func(err error) string {
			return strings.ReplaceAll(err.Error(), "s3cr3t", "***")
		}})
		po := pol(t, "api", p, clk, func(c *core.PolicyConfig) { c.Retry.MaxAttempts = 1 })
		_ = po.Run(context.Background(), func(context.Context) error { return core.Transient(errors.New("pw s3cr3t, rest élan long")) })
		o := opView(t, p.Snapshot(), "api", "api")
		if got, want := o.RecentFailures[0].Error, "pw ***, r…"; got != want {
			t.Errorf("error text %q, want %q", got, want)
		}
	})
	t.Run("empty hides", func(t *testing.T) {
		p, clk := newPage(t, redressdebug.Config{RedactError: func(error) string { return "" }})
		po := pol(t, "api", p, clk, func(c *core.PolicyConfig) { c.Retry.MaxAttempts = 1 })
		_ = po.Run(context.Background(), func(context.Context) error { return core.Transient(secret) })
		if f := opView(t, p.Snapshot(), "api", "api").RecentFailures[0]; f.Error != "" || f.Class != "transient" {
			t.Errorf("failure %+v", f)
		}
	})
}

// Config.Policy filters events by policy name, like the other subscribers'
// Policy: the page shows the calls of the policies it accepts only, and a
// declared policy's budget is shown whatever the filter says.
func TestPolicyFilter(t *testing.T) {
	p, clk := newPage(t, redressdebug.Config{Policy: func(name string) bool { return name != "hidden" }})
	shown := pol(t, "shown", p, clk, nil)
	hidden := pol(t, "hidden", p, clk, nil)
	for _, po := range []*core.Policy{shown, hidden} {
		_ = po.Run(context.Background(), func(context.Context) error { return nil })
	}
	var names []string
	for _, o := range p.Snapshot().Operations {
		names = append(names, o.Policy)
	}
	if got := strings.Join(names, ","); got != "shown" {
		t.Errorf("operations of policies %q, want shown only", got)
	}
	bud, err := core.NewBudget(core.BudgetConfig{})
	if err != nil {
		t.Fatal(err)
	}
	declared, err := core.NewPolicy(core.PolicyConfig{Name: "hidden", Budget: bud})
	if err != nil {
		t.Fatal(err)
	}
	p.Declare(declared)
	if v := p.Snapshot(); len(v.Budgets) != 1 || v.Budgets[0].Policy != "hidden" {
		t.Errorf("budgets %+v, want the declared one of hidden", v.Budgets)
	}
}

func TestOtherBucket(t *testing.T) {
	p, clk := newPage(t, redressdebug.Config{MaxOperations: 2})
	po := pol(t, "p", p, clk, nil)
	for _, op := range []string{"b", "a", "c", "d", "a"} {
		_ = coretest.RunCall(po, context.Background(), &core.Call{Operation: op}, func(context.Context) error { return nil })
	}
	v := p.Snapshot()
	var names []string
	for _, o := range v.Operations {
		names = append(names, o.Policy+"/"+o.Operation+fmt.Sprint(o.Calls))
	}
	if want := "p/a2,p/b1,(other)/(other)2"; strings.Join(names, ",") != want {
		t.Errorf("operations %v, want %s", names, want)
	}
	if v.Limits.OtherCalls != 2 {
		t.Errorf("other calls %d, want 2", v.Limits.OtherCalls)
	}
}

func TestBreakerStateHistoryAndOrder(t *testing.T) {
	p, clk := newPage(t, redressdebug.Config{MaxTransitions: 2})
	mk := func(name string) *core.Policy {
		br, err := core.NewBreaker(core.BreakerConfig{Name: name, FailureThreshold: 1, RecoveryTimeout: 5 * time.Second, Clock: clk})
		if err != nil {
			t.Fatal(err)
		}
		return pol(t, name, p, clk, func(c *core.PolicyConfig) { c.Breaker = br; c.Retry.MaxAttempts = 1 })
	}
	calm, flaky := mk("calm"), mk("flaky")
	ctx := context.Background()
	ok := func(context.Context) error { return nil }
	bad := func(context.Context) error { return core.Transient(errors.New("down")) }
	_ = calm.Run(ctx, ok)
	_ = flaky.Run(ctx, bad) // opens
	opened := clk.Now()
	clk.Advance(time.Second)
	_ = flaky.Run(ctx, ok) // rejected

	v := p.Snapshot()
	if len(v.Breakers) != 2 || v.Breakers[0].Name != "flaky" || v.Breakers[0].State != "open" || v.Breakers[1].State != "closed" {
		t.Fatalf("breakers %+v, want flaky (open) first", v.Breakers)
	}
	b := v.Breakers[0]
	if b.Since == nil || !b.Since.Equal(opened) || b.Rejections != 1 {
		t.Errorf("since %v rejections %d, want %v and 1", b.Since, b.Rejections, opened)
	}
	if st := b.StatesPerSecond; st[59] != "open" || st[58] != "open" || st[57] != "closed" {
		t.Errorf("states %v", st[55:])
	}
	if o := opView(t, v, "flaky", "flaky"); o.StopReasons["circuit_open"] != 1 || o.Breaker != "flaky" {
		t.Errorf("flaky op %+v", o)
	}

	clk.Advance(5 * time.Second)
	_ = flaky.Run(ctx, ok) // half-open probe succeeds: closed
	v = p.Snapshot()
	b = v.Breakers[1] // closed now; sorted by name after calm
	if v.Breakers[0].Name != "calm" || b.Name != "flaky" || b.State != "closed" || b.TransitionsTotal != 3 || len(b.Transitions) != 2 {
		t.Fatalf("breakers %+v", v.Breakers)
	}
	if tr := b.Transitions; tr[0].From != "half_open" || tr[0].To != "closed" || tr[1].From != "open" || tr[1].To != "half_open" {
		t.Errorf("transitions %+v, want newest first, bounded to 2", tr)
	}
}

func TestBudgetsAndDeclare(t *testing.T) {
	bud, err := core.NewBudget(core.BudgetConfig{MaxRetries: 1, Window: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	clk := coretest.NewFakeClock(coretest.StartTime)
	declared, _ := core.NewPolicy(core.PolicyConfig{Name: "declared", Budget: bud, Clock: clk})
	p, err := redressdebug.New(redressdebug.Config{Clock: clk, Policies: []*core.Policy{declared}})
	if err != nil {
		t.Fatal(err)
	}
	if v := p.Snapshot(); len(v.Budgets) != 1 || v.Budgets[0].Policy != "declared" || v.Budgets[0].Utilization != 0 {
		t.Fatalf("budgets before any event %+v", v.Budgets)
	}
	po := pol(t, "spender", p, clk, func(c *core.PolicyConfig) { c.Budget = bud })
	_ = po.Run(context.Background(), func(context.Context) error { return core.Transient(errors.New("x")) })
	v := p.Snapshot()
	if len(v.Budgets) != 1 || v.Budgets[0].Denied != 1 || v.Budgets[0].Utilization != 1 {
		t.Errorf("budgets %+v, want the shared one, spent, 1 denied", v.Budgets)
	}
	if o := opView(t, v, "spender", "spender"); o.StopReasons["budget_exhausted"] != 1 {
		t.Errorf("stops %v", o.StopReasons)
	}
}

func TestHandler(t *testing.T) {
	allow := true
	p, clk := newPage(t, redressdebug.Config{Authorize: func(*http.Request) bool { return allow }})
	po := pol(t, `<script>alert(1)</script>`, p, clk, func(c *core.PolicyConfig) { c.Retry.MaxAttempts = 1 })
	_ = po.Run(context.Background(), func(context.Context) error { return core.Transient(errors.New("<b>bold</b>")) })
	srv := httptest.NewServer(p)
	defer srv.Close()
	get := func(path string) (*http.Response, string) {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	resp, body := get("/")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if strings.Contains(body, "<script>") || strings.Contains(body, "<b>bold") || !strings.Contains(body, "&lt;script&gt;") {
		t.Errorf("the page does not escape names and errors:\n%s", body)
	}
	for _, want := range []string{`<svg class="spark"`, `<polyline`, `class="operation"`} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %s", want)
		}
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("CSP %q", csp)
	}

	resp, body = get("/?format=json")
	var v redressdebug.View
	if err := json.Unmarshal([]byte(body), &v); err != nil || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("JSON: %v (%s)", err, resp.Header.Get("Content-Type"))
	}
	if len(v.Operations) != 1 || v.Operations[0].RecentFailures[0].Error != "<b>bold</b>" || len(v.Operations[0].CallsPerSecond) != 60 {
		t.Errorf("JSON view %+v", v)
	}

	if resp, _ := get("/?refresh=5"); resp.StatusCode != 200 {
		t.Errorf("refresh: %d", resp.StatusCode)
	}
	if _, body := get("/?refresh=5"); !strings.Contains(body, `http-equiv="refresh" content="5"`) {
		t.Errorf("no meta refresh")
	}
	r, _ := http.Post(srv.URL, "text/plain", nil)
	r.Body.Close()
	if r.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", r.StatusCode)
	}
	allow = false
	if resp, _ := get("/?format=json"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("unauthorized: %d, want 403", resp.StatusCode)
	}
}

func TestBreakerRowColors(t *testing.T) {
	p, clk := newPage(t, redressdebug.Config{})
	br, _ := core.NewBreaker(core.BreakerConfig{Name: "b", FailureThreshold: 1, Clock: clk})
	po := pol(t, "x", p, clk, func(c *core.PolicyConfig) { c.Breaker = br; c.Retry.MaxAttempts = 1 })
	_ = po.Run(context.Background(), func(context.Context) error { return core.Transient(errors.New("x")) })
	rec := httptest.NewRecorder()
	p.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	body := rec.Body.String()
	for _, want := range []string{`data-breaker="b" data-state="open"`, `style="background:#d7263d"`, `<rect x="118" y="0" width="2" height="12" fill="#d7263d"/>`} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %s", want)
		}
	}
}

func TestHandleDoesNotAllocateOnSuccess(t *testing.T) {
	p, clk := newPage(t, redressdebug.Config{})
	br, _ := core.NewBreaker(core.BreakerConfig{Name: "b"})
	bud, _ := core.NewBudget(core.BudgetConfig{})
	e := core.Event{Kind: core.EventSuccess, Policy: "p", Operation: "op", Attempt: 1, Outcome: core.OutcomeSuccess, Breaker: br, Budget: bud}
	ctx := context.Background()
	p.Handle(ctx, e)
	if n := testing.AllocsPerRun(1000, func() {
		p.Handle(ctx, e)
		clk.Advance(300 * time.Millisecond)
	}); n != 0 {
		t.Errorf("Handle allocates %v times per success", n)
	}
}

func TestSnapshotWhileHandling(t *testing.T) {
	p, err := redressdebug.New(redressdebug.Config{MaxOperations: 3})
	if err != nil {
		t.Fatal(err)
	}
	br, _ := core.NewBreaker(core.BreakerConfig{Name: "b", FailureThreshold: 2, RecoveryTimeout: time.Millisecond})
	po, _ := core.NewPolicy(core.PolicyConfig{Name: "p", Bus: core.NewBus(p), Breaker: br, Sleeper: coretest.InstantSleeper{},
		Retry: core.RetryConfig{Strategy: core.Constant(0)}})
	done := make(chan struct{})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			f := coretest.FailWithProbability(0.4, coretest.ClassErr(core.ClassTransient), uint64(g))
			for i := range 300 {
				_ = coretest.RunCall(po, context.Background(), &core.Call{Operation: fmt.Sprint("op", i%5)}, f.Op())
			}
		})
	}
	wg.Go(func() {
		defer close(done)
		for range 50 {
			rec := httptest.NewRecorder()
			p.ServeHTTP(rec, httptest.NewRequest("GET", "/?format=json", nil))
			if rec.Code != 200 {
				t.Errorf("status %d", rec.Code)
			}
		}
	})
	wg.Wait()
	<-done
	v := p.Snapshot()
	var total uint64
	for _, o := range v.Operations {
		total += o.Total
	}
	if total != 1200 || len(v.Operations) != 4 || v.Limits.OtherCalls != 2*240 {
		t.Errorf("%d calls in %d operations (other %d), want 1200 in 3 and (other)", total, len(v.Operations), v.Limits.OtherCalls)
	}
}

// With the default (system) clock the page reads the monotonic clock only,
// from the wall time it was made at: its times are the wall clock's.
func TestSystemClock(t *testing.T) {
	before := time.Now()
	p, err := redressdebug.New(redressdebug.Config{})
	if err != nil {
		t.Fatal(err)
	}
	po, _ := core.NewPolicy(core.PolicyConfig{Name: "sys", Bus: core.NewBus(p), Retry: core.RetryConfig{MaxAttempts: 1}})
	_ = po.Run(context.Background(), func(context.Context) error { return core.Transient(errors.New("x")) })
	v := p.Snapshot()
	after := time.Now()
	if v.Time.Before(before) || v.Time.After(after) {
		t.Errorf("view time %v not within [%v, %v]", v.Time, before, after)
	}
	o := opView(t, v, "sys", "sys")
	if f := o.RecentFailures[0].Time; f.Before(before) || f.After(v.Time) {
		t.Errorf("failure time %v not within [%v, %v]", f, before, v.Time)
	}
	if o.Calls != 1 || o.CallsPerSecond[59]+o.CallsPerSecond[58] != 1 {
		t.Errorf("calls %d, last seconds %v", o.Calls, o.CallsPerSecond[55:])
	}
}

// A clock at the Unix epoch (the zero coretest.FakeClock) leaves seconds
// before it in the window; one before 1970 counts calls in Total only.
// Neither may panic.
func TestClockNearTheEpoch(t *testing.T) {
	for _, start := range []time.Time{time.Unix(0, 0), time.Unix(-100, 0)} {
		clk := coretest.NewFakeClock(start)
		p, err := redressdebug.New(redressdebug.Config{Clock: clk})
		if err != nil {
			t.Fatal(err)
		}
		bus := core.NewBus(p)
		var panics []any
		bus.SetPanicHandler(func(sp core.SubscriberPanic) { panics = append(panics, sp.Value) })
		po, _ := core.NewPolicy(core.PolicyConfig{Name: "e", Bus: bus, Clock: clk, Retry: core.RetryConfig{MaxAttempts: 1}})
		for range 3 {
			_ = po.Run(context.Background(), func(context.Context) error { return core.Transient(errors.New("x")) })
			clk.Advance(time.Second)
		}
		if len(panics) > 0 {
			t.Fatalf("start %v: the page panicked: %v", start, panics)
		}
		o := opView(t, p.Snapshot(), "e", "e")
		wantCalls := uint64(3)
		if start.Unix() < 0 {
			wantCalls = 0
		}
		if o.Total != 3 || o.Calls != wantCalls || len(o.RecentFailures) != 3 {
			t.Errorf("start %v: total %d calls %d failures %d, want 3, %d, 3", start, o.Total, o.Calls, len(o.RecentFailures), wantCalls)
		}
	}
}

// TestUntrackedBreakersCountedOnce: past the bound, a breaker is counted
// once however many events name it.
func TestUntrackedBreakersCountedOnce(t *testing.T) {
	page, _ := newPage(t, redressdebug.Config{MaxOperations: 1})
	tracked := mustNewBreaker(t, "tracked")
	extra := mustNewBreaker(t, "extra")
	for i := range 50 {
		br := tracked
		if i > 0 {
			br = extra
		}
		page.Handle(context.Background(), core.Event{Kind: core.EventSuccess, Policy: "p", Operation: "op", Attempt: 1, Breaker: br})
		page.Handle(context.Background(), core.Event{Kind: core.EventCircuitOpened, Policy: "p", Breaker: br, BreakerState: core.StateOpen})
	}
	if got := page.Snapshot().Limits.UntrackedBreakers; got != 1 {
		t.Fatalf("UntrackedBreakers = %d, want 1 (one breaker past the bound)", got)
	}
}

func mustNewBreaker(t *testing.T, name string) *core.Breaker {
	t.Helper()
	b, err := core.NewBreaker(core.BreakerConfig{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// BenchmarkHandleAlternatingBreakers: the success path of an operation
// whose calls alternate between per-host breakers (the HTTP wrapper's
// BreakerGroup), against one breaker throughout.
func BenchmarkHandleAlternatingBreakers(b *testing.B) {
	for _, n := range []int{1, 8} {
		b.Run(fmt.Sprintf("breakers=%d", n), func(b *testing.B) {
			page, err := redressdebug.New(redressdebug.Config{})
			if err != nil {
				b.Fatal(err)
			}
			brs := make([]*core.Breaker, n)
			for i := range brs {
				brs[i], _ = core.NewBreaker(core.BreakerConfig{Name: fmt.Sprint("host", i)})
			}
			ctx := context.Background()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					page.Handle(ctx, core.Event{Kind: core.EventSuccess, Policy: "http", Operation: "GET /users/{id}", Attempt: 1, Breaker: brs[i%n]})
					i++
				}
			})
		})
	}
}
