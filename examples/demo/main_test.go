package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"math"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	redressdebug "github.com/redress-go/redress/instrument/debugpage"
	"github.com/redress-go/redress/internal/telemetry"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// lockedBuffer is a bytes.Buffer safe for the demo's concurrent writers and
// the test's reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func shortConfig(d time.Duration) config {
	cfg := defaults()
	cfg.duration = d
	cfg.listen = "127.0.0.1:0"
	cfg.workers = 4
	return cfg
}

func scrape(t *testing.T, addr string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Errorf("scrape: %v", err)
		return ""
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body)
}

// TestRunCycle runs the whole fault profile on a compressed timeline and
// checks the live summary, the slog records, the final summary and the
// /metrics endpoint.
func TestRunCycle(t *testing.T) {
	cfg := shortConfig(4 * time.Second)
	var addr string
	var phases []string
	var metrics string
	var view redressdebug.View
	cfg.onListen = func(a string) { addr = a }
	cfg.onPhase = func(name string) {
		phases = append(phases, name)
		if name == "recovery" {
			metrics = scrape(t, addr)
			view = liveView(t, addr)
		}
	}
	var out lockedBuffer
	start := time.Now()
	if err := run(context.Background(), cfg, &out); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > 8*time.Second {
		t.Errorf("run took %s for a 4s duration", el)
	}
	text := out.String()
	if got := strings.Join(phases, ","); got != "healthy,degraded,outage,recovery" {
		t.Errorf("phases %s", got)
	}
	for _, want := range []string{
		"metrics:   http://" + addr + "/metrics",
		"live view: http://" + addr + "/debug/redress",
		"------ phase: outage",
		"msg=\"redress circuit_opened\"", // the slog subscriber
		"circuit_open=",                  // rejected calls in the live summary
		"== summary after",
		"retries by class",
		"dashboards/grafana",
		"orders sqlite://", // the embedded database
		"orders-db=",       // its budget in the summary
	} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "(opened 0 times)") {
		t.Errorf("no breaker opened during the outage:\n%s", text)
	}
	for _, m := range telemetry.Metrics {
		if !strings.Contains(metrics, "\n"+m.Prom) {
			t.Errorf("/metrics lacks %s", m.Prom)
		}
	}
	// The introspection page, at the start of recovery: the upstreams'
	// breakers have opened during the outage, every policy has calls.
	policies := map[string]bool{}
	for _, o := range view.Operations {
		if o.Total > 0 {
			policies[o.Policy] = true
		}
	}
	for _, p := range []string{"catalog", "inventory", "orders-db"} {
		if !policies[p] {
			t.Errorf("the live view has no call of policy %s: %+v", p, view.Operations)
		}
	}
	opened := 0
	for _, b := range view.Breakers {
		for _, tr := range b.Transitions {
			if tr.To == "open" {
				opened++
			}
		}
	}
	if opened == 0 {
		t.Errorf("the live view shows no breaker opening during the outage: %+v", view.Breakers)
	}
	if len(view.Budgets) < 3 {
		t.Errorf("the live view shows %d budgets, want the three policies'", len(view.Budgets))
	}
}

// liveView fetches the introspection page's JSON form, and checks that its
// HTML form serves too.
func liveView(t *testing.T, addr string) redressdebug.View {
	t.Helper()
	var v redressdebug.View
	for _, q := range []string{"", "?format=json"} {
		resp, err := http.Get("http://" + addr + "/debug/redress" + q)
		if err != nil {
			t.Errorf("live view: %v", err)
			return v
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("live view%s: %s", q, resp.Status)
		}
		if q == "" {
			if !strings.Contains(string(body), `class="breaker"`) {
				t.Errorf("the live view's HTML shows no breaker:\n%s", body)
			}
			continue
		}
		if err := json.Unmarshal(body, &v); err != nil {
			t.Errorf("live view JSON: %v", err)
		}
	}
	return v
}

// TestRunUntilCanceled is Ctrl-C: with no duration the demo runs until its
// context ends, then prints the final summary and returns nil.
func TestRunUntilCanceled(t *testing.T) {
	cfg := shortConfig(0)
	ctx, cancel := context.WithCancel(context.Background())
	cfg.onListen = func(string) { cancel() } // Ctrl-C as soon as the demo serves
	var out lockedBuffer
	start := time.Now()
	if err := run(ctx, cfg, &out); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("run took %s to stop after cancel", el)
	}
	if !strings.Contains(out.String(), "until Ctrl-C") || !strings.Contains(out.String(), "== summary after") {
		t.Errorf("unexpected output:\n%s", out.String())
	}
}

func TestRunRejectsBadSettings(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*config)
		want   string
	}{
		{"unknown profile", func(c *config) { c.profile = "chaos" }, "-profile"},
		{"unknown log mode", func(c *config) { c.logMode = "loud" }, "-log"},
		{"no workers", func(c *config) { c.workers = 0 }, "-workers"},
		{"bad listen address", func(c *config) { c.listen = "256.0.0.1:1" }, "-listen"},
		{"unknown otel mode", func(c *config) { c.otel = "zipkin" }, "-otel"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := shortConfig(time.Second)
			tt.modify(&cfg)
			err := run(context.Background(), cfg, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one mentioning %s", err, tt.want)
			}
		})
	}
}

func TestScheduleLaysOutProfile(t *testing.T) {
	s, err := newSchedule("cycle", 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		at   time.Duration
		want string
	}{
		{0, "healthy"}, {3900 * time.Millisecond, "healthy"}, {4 * time.Second, "degraded"},
		{9 * time.Second, "outage"}, {14900 * time.Millisecond, "outage"}, {15 * time.Second, "recovery"},
		{19 * time.Second, "recovery"}, {21 * time.Second, "recovery"}, // the last phase lasts until the end
	}
	for _, tt := range tests {
		if got := s.phases[s.at(tt.at)].name; got != tt.want {
			t.Errorf("at %s: %s, want %s", tt.at, got, tt.want)
		}
	}
	for at, want := range map[time.Duration]float64{9 * time.Second: 0, 12 * time.Second: 0.5, 13500 * time.Millisecond: 0.75, 2 * time.Second: 0.5} {
		if got := s.progress(at); math.Abs(got-want) > 1e-9 {
			t.Errorf("progress at %s: %v, want %v", at, got, want)
		}
	}
	forever, _ := newSchedule("cycle", 0)
	if forever.durs[0] != 15*time.Second {
		t.Errorf("phase length until Ctrl-C: %s", forever.durs[0])
	}
	if got := forever.phases[forever.at(61*time.Second)].name; got != "healthy" {
		t.Errorf("until Ctrl-C the profile repeats: at 61s %s, want healthy", got)
	}
}

// TestRunExportsOTel runs the demo with -otel console: the OpenTelemetry
// subscriber's spans and metrics reach the exporters package's console
// pipeline with the table's instrument names.
func TestRunExportsOTel(t *testing.T) {
	cfg := shortConfig(1500 * time.Millisecond)
	cfg.profile = "outage" // breakers open: every breaker instrument is used
	cfg.otel = "console"
	cfg.logMode = "none"
	var out lockedBuffer
	if err := run(context.Background(), cfg, &out); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for _, m := range telemetry.Metrics {
		if m.Name == telemetry.BudgetRejections.Name {
			continue // a counter appears on its first denial, which an outage may not bring
		}
		if !strings.Contains(text, `"`+m.Name+`"`) {
			t.Errorf("console export lacks the instrument %s", m.Name)
		}
	}
	for _, span := range []string{`"Name":"GET /items/{id}"`, `"Name":"/grpc.health.v1.Health/Check"`, `"Name":"SELECT orders"`} {
		if !strings.Contains(text, span) {
			t.Errorf("console export lacks the operation span %s", span)
		}
	}
}

// TestHealthyPhaseOpensNoBreaker runs the healthy profile at the default
// concurrency: no breaker may open, the SQLite one included (its writers
// once collided on SQLITE_BUSY at start-up and tripped it).
func TestHealthyPhaseOpensNoBreaker(t *testing.T) {
	cfg := shortConfig(3 * time.Second)
	cfg.workers = defaults().workers
	cfg.profile = "healthy"
	var out lockedBuffer
	if err := run(context.Background(), cfg, &out); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	if strings.Contains(text, "circuit_opened") || !strings.Contains(text, "(opened 0 times)") {
		t.Errorf("a breaker opened in the healthy phase:\n%s", text)
	}
}

// TestOutagePhaseRetriesOrders runs the outage profile: the migration holds
// the write lock, each order's BEGIN IMMEDIATE fails with SQLITE_BUSY, and
// RunInTx re-runs the transaction within its policy's budget (the SQL
// dashboard's retry panels show these) before the breaker opens.
func TestOutagePhaseRetriesOrders(t *testing.T) {
	cfg := shortConfig(3 * time.Second)
	cfg.profile = "outage"
	var out lockedBuffer
	if err := run(context.Background(), cfg, &out); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	if !strings.Contains(text, "concurrency=") {
		t.Errorf("no retry of class concurrency in the outage phase:\n%s", text)
	}
	if !strings.Contains(text, "orders-db=open") {
		t.Errorf("the orders breaker did not open in the outage phase:\n%s", text)
	}
}

// TestHelpStatesTheOTLPDefault: -help gives the OTLP default the exporters
// package really uses (plain http on 4318, or 4317 for grpc), as the README
// does.
func TestHelpStatesTheOTLPDefault(t *testing.T) {
	cfg := defaults()
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	var help strings.Builder
	fs.SetOutput(&help)
	cfg.flags(fs)
	if err := fs.Parse([]string{"-help"}); err != flag.ErrHelp {
		t.Fatalf("Parse(-help) = %v", err)
	}
	for _, want := range []string{"http://localhost:4318 in plain text", "http://localhost:4317 with OTEL_EXPORTER_OTLP_PROTOCOL=grpc"} {
		if !strings.Contains(help.String(), want) {
			t.Errorf("-help lacks %q:\n%s", want, help.String())
		}
	}
	if strings.Contains(help.String(), "https://localhost") {
		t.Errorf("-help gives an https default:\n%s", help.String())
	}
}

// TestOutageShowsEveryLocalGuard runs the outage profile: the catalog's
// breaker opens, the overloaded inventory is throttled client-side and
// held by its pushback, and the summary shows all three local rejections.
func TestOutageShowsEveryLocalGuard(t *testing.T) {
	cfg := shortConfig(4500 * time.Millisecond) // 1.5s for each third of the inventory's outage
	cfg.profile = "outage"
	cfg.logMode = "none"
	var out lockedBuffer
	if err := run(context.Background(), cfg, &out); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	var stops string
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, "stop reasons") {
			stops = l
		}
	}
	for _, want := range []string{"circuit_open=", "held=", "throttled="} {
		if !strings.Contains(stops, want) {
			t.Errorf("the summary's stop reasons lack %s: %q\n%s", want, stops, text)
		}
	}
}
