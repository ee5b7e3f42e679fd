package redresshttp

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/redress-go/redress/core"
)

// TestFallbackResponse: against a real server on loopback that answers
// 503 to every request, the policy gives up and the caller gets the
// response its Fallback supplied; the server's responses are closed and
// the fallback event precedes the terminal one.
func TestFallbackResponse(t *testing.T) {
	srv := newFaultServer(t, statuses(http.StatusServiceUnavailable))
	var reason core.StopReason
	p, rec, _ := testPolicy(t, func(pc *core.PolicyConfig) {
		pc.Retry.MaxAttempts = 3
		pc.Fallback = func(_ context.Context, info core.FallbackInfo) (any, error) {
			reason = info.StopReason
			return &http.Response{
				StatusCode: http.StatusOK,
				Header:     http.Header{"X-From": {"fallback"}},
				Body:       io.NopCloser(strings.NewReader("cached")),
			}, nil
		}
	})
	client, _ := newTestClient(t, nil, Config{Policy: p})
	resp, err := client.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if got := readBody(t, resp); got != "cached" || resp.StatusCode != http.StatusOK || resp.Header.Get("X-From") != "fallback" {
		t.Errorf("response = %d %q, want the fallback's 200 \"cached\"", resp.StatusCode, got)
	}
	if resp.Request == nil || resp.Request.URL.String() != srv.URL {
		t.Errorf("response.Request = %v, want the caller's request", resp.Request)
	}
	if n := srv.NumHits(); n != 3 {
		t.Errorf("hits = %d, want 3", n)
	}
	if reason != core.StopMaxAttempts {
		t.Errorf("fallback saw stop reason %v, want max_attempts", reason)
	}
	names := rec.Names()
	if len(names) < 2 || names[len(names)-2] != "fallback" || names[len(names)-1] != "max_attempts_exceeded" {
		t.Errorf("events end with %v, want fallback then max_attempts_exceeded", names)
	}
}

// TestFallbackWrongResponseType: a Fallback that supplies anything but an
// *http.Response fails the request with an error that says so.
func TestFallbackWrongResponseType(t *testing.T) {
	srv := newFaultServer(t, statuses(http.StatusServiceUnavailable))
	p, _, _ := testPolicy(t, func(pc *core.PolicyConfig) {
		pc.Retry.MaxAttempts = 1
		pc.Fallback = core.FallbackValue("not a response")
	})
	client, _ := newTestClient(t, nil, Config{Policy: p})
	resp, err := client.Get(srv.URL)
	if err == nil {
		resp.Body.Close()
		t.Fatal("err = nil, want an error naming the fallback's type")
	}
	if !strings.Contains(err.Error(), "string") || !strings.Contains(err.Error(), "*http.Response") {
		t.Errorf("err = %v", err)
	}
}
