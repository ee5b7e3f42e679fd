// Package promtest starts a real Prometheus server for tests: on a free
// loopback port, with a temporary configuration and data directory, and
// talks to its HTTP API. A test that calls Start is skipped (or fails under
// REDRESS_REQUIRE_SERVICES=1) when the prometheus binary is not installed
// (Debian package prometheus). It is internal: not API.
package promtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redress-go/redress/dashboards"
	"github.com/redress-go/redress/internal/testenv"
)

// Config describes the server to start.
type Config struct {
	// Targets are host:port addresses scraped at /metrics, under Job.
	Targets []string
	// Job is the scrape job's name. Default "redress".
	Job string
	// ScrapeInterval is the scrape and rule evaluation interval. Default 1s.
	ScrapeInterval time.Duration
	// RuleFiles maps file names to the content of rule files loaded by the
	// server. Default none.
	RuleFiles map[string][]byte
	// Features are passed as --enable-feature flags ("exemplar-storage").
	// Default none.
	Features []string
}

// Server is a running Prometheus.
type Server struct {
	// URL is the base URL of the server's HTTP API ("http://127.0.0.1:port").
	URL string
	cmd *exec.Cmd
	log *bytes.Buffer
}

// Start starts Prometheus and waits until it is ready; it stops it when
// the test ends.
func Start(t testing.TB, cfg Config) *Server {
	t.Helper()
	bin := testenv.LookPath(t, "prometheus", "prometheus")
	if cfg.Job == "" {
		cfg.Job = "redress"
	}
	if cfg.ScrapeInterval == 0 {
		cfg.ScrapeInterval = time.Second
	}
	dir := t.TempDir()
	var rules []string
	for name, data := range cfg.RuleFiles {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		rules = append(rules, strconv.Quote(p))
	}
	targets := make([]string, len(cfg.Targets))
	for i, tg := range cfg.Targets {
		targets[i] = strconv.Quote(tg)
	}
	iv := strconv.Quote(cfg.ScrapeInterval.String())
	conf := fmt.Sprintf(`global:
  scrape_interval: %s
  evaluation_interval: %s
rule_files: [%s]
scrape_configs:
  - job_name: %q
    scrape_interval: %s
    scrape_timeout: %s
    static_configs:
      - targets: [%s]
`, iv, iv, strings.Join(rules, ", "), cfg.Job, iv, iv, strings.Join(targets, ", "))
	confPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	addr, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{URL: "http://" + addr, log: &bytes.Buffer{}}
	s.cmd = exec.Command(bin,
		"--config.file="+confPath,
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr,
		"--log.level=warn",
	)
	for _, f := range cfg.Features {
		s.cmd.Args = append(s.cmd.Args, "--enable-feature="+f)
	}
	s.cmd.Stdout = s.log
	s.cmd.Stderr = s.log
	if err := s.cmd.Start(); err != nil {
		testenv.Missing(t, "prometheus server", err)
	}
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = s.cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = s.cmd.Process.Kill()
			<-done
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(s.URL + "/-/ready")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		select {
		case <-done:
			t.Fatalf("prometheus exited before it was ready:\n%s", s.log)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus not ready after 30s:\n%s", s.log)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := l.Addr().String()
	return addr, l.Close()
}

// Log returns what the server wrote so far.
func (s *Server) Log() string { return s.log.String() }

type apiResponse struct {
	Status    string          `json:"status"`
	Data      json.RawMessage `json:"data"`
	ErrorType string          `json:"errorType"`
	Error     string          `json:"error"`
	Warnings  []string        `json:"warnings"`
}

func (s *Server) get(ctx context.Context, path string, q url.Values, into any) error {
	u := s.URL + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	var r apiResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return fmt.Errorf("%s: %s: %w", path, resp.Status, err)
	}
	if r.Status != "success" {
		return fmt.Errorf("%s: %s: %s", r.ErrorType, r.Error, strings.Join(r.Warnings, "; "))
	}
	return json.Unmarshal(r.Data, into)
}

// Sample is one series of an instant query's result.
type Sample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

// Query evaluates expr at the current time. An expression that does not
// parse or fails to evaluate returns an error.
func (s *Server) Query(ctx context.Context, expr string) ([]Sample, error) {
	var data struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	}
	if err := s.get(ctx, "/api/v1/query", url.Values{"query": {expr}}, &data); err != nil {
		return nil, err
	}
	switch data.ResultType {
	case "vector":
		var out []Sample
		err := json.Unmarshal(data.Result, &out)
		return out, err
	case "scalar":
		return []Sample{{}}, nil
	}
	return nil, fmt.Errorf("unexpected result type %q", data.ResultType)
}

// Alert is one active alert.
type Alert struct {
	Labels map[string]string `json:"labels"`
	State  string            `json:"state"` // "pending" or "firing"
}

// Alerts returns the active alerts.
func (s *Server) Alerts(ctx context.Context) ([]Alert, error) {
	var data struct {
		Alerts []Alert `json:"alerts"`
	}
	err := s.get(ctx, "/api/v1/alerts", nil, &data)
	return data.Alerts, err
}

// Rule is the state of one loaded rule.
type Rule struct {
	Name      string `json:"name"`
	Query     string `json:"query"`
	Health    string `json:"health"` // "ok", "err" or "unknown" (not evaluated yet)
	LastError string `json:"lastError"`
	Type      string `json:"type"`
}

// Rules returns every loaded rule.
func (s *Server) Rules(ctx context.Context) ([]Rule, error) {
	var data struct {
		Groups []struct {
			Rules []Rule `json:"rules"`
		} `json:"groups"`
	}
	if err := s.get(ctx, "/api/v1/rules", nil, &data); err != nil {
		return nil, err
	}
	var out []Rule
	for _, g := range data.Groups {
		out = append(out, g.Rules...)
	}
	return out, nil
}

// Targets returns the health of each scrape target ("up", "down", "unknown").
func (s *Server) Targets(ctx context.Context) (map[string]string, error) {
	var data struct {
		ActiveTargets []struct {
			ScrapeURL string `json:"scrapeUrl"`
			Health    string `json:"health"`
			LastError string `json:"lastError"`
		} `json:"activeTargets"`
	}
	if err := s.get(ctx, "/api/v1/targets", nil, &data); err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, t := range data.ActiveTargets {
		out[t.ScrapeURL] = t.Health
	}
	if len(out) == 0 {
		return nil, errors.New("no active target")
	}
	return out, nil
}

// Series is one series of a range query's result.
type Series struct {
	Metric map[string]string `json:"metric"`
	Values [][2]any          `json:"values"`
}

// QueryRange evaluates expr at every step from start to end, as Grafana
// does for a time series panel. An expression that does not parse or fails
// to evaluate returns an error.
func (s *Server) QueryRange(ctx context.Context, expr string, start, end time.Time, step time.Duration) ([]Series, error) {
	var data struct {
		ResultType string   `json:"resultType"`
		Result     []Series `json:"result"`
	}
	q := url.Values{
		"query": {expr},
		"start": {strconv.FormatFloat(float64(start.UnixMilli())/1000, 'f', 3, 64)},
		"end":   {strconv.FormatFloat(float64(end.UnixMilli())/1000, 'f', 3, 64)},
		"step":  {strconv.FormatFloat(step.Seconds(), 'f', -1, 64)},
	}
	if err := s.get(ctx, "/api/v1/query_range", q, &data); err != nil {
		return nil, err
	}
	if data.ResultType != "matrix" {
		return nil, fmt.Errorf("unexpected result type %q", data.ResultType)
	}
	return data.Result, nil
}

// Exemplars are the exemplars of one series, as /api/v1/query_exemplars
// returns them.
type Exemplars struct {
	SeriesLabels map[string]string `json:"seriesLabels"`
	Exemplars    []struct {
		Labels    map[string]string `json:"labels"`
		Value     string            `json:"value"`
		Timestamp float64           `json:"timestamp"`
	} `json:"exemplars"`
}

// QueryExemplars returns the exemplars of the series selected by expr
// between start and end (the server needs --enable-feature=exemplar-storage
// to keep any).
func (s *Server) QueryExemplars(ctx context.Context, expr string, start, end time.Time) ([]Exemplars, error) {
	var out []Exemplars
	q := url.Values{
		"query": {expr},
		"start": {strconv.FormatFloat(float64(start.UnixMilli())/1000, 'f', 3, 64)},
		"end":   {strconv.FormatFloat(float64(end.UnixMilli())/1000, 'f', 3, 64)},
	}
	err := s.get(ctx, "/api/v1/query_exemplars", q, &out)
	return out, err
}

// GeneratedRules returns the recording and alerting rules the dashboards
// package generates for cfg, keyed by file name, for Config.RuleFiles.
func GeneratedRules(t testing.TB, cfg dashboards.Config) map[string][]byte {
	t.Helper()
	files, err := dashboards.Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rules := map[string][]byte{}
	for _, f := range files {
		if f.Path == dashboards.RecordingRulesFile || f.Path == dashboards.AlertingRulesFile {
			rules[filepath.Base(f.Path)] = f.Data
		}
	}
	return rules
}
