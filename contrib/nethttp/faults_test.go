package redresshttp

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/redress-go/redress/core"
)

// TestFaultInjectionOverLoopback: through the transport, against a real
// server on loopback, an injected server error is retried like the
// server's own and never reaches the server, an injected response is
// returned as the server's would be, and with the injector disabled the
// requests reach the server again.
func TestFaultInjectionOverLoopback(t *testing.T) {
	srv := newFaultServer(t, statuses(http.StatusOK))
	faults, err := core.NewFaultInjector(core.FaultConfig{Rules: []core.FaultRule{
		{Operation: "GET /down", Rate: 1, Err: core.InjectedError(core.ClassServerError)},
		{Operation: "GET /cached", Rate: 1, Result: &http.Response{StatusCode: http.StatusOK, Body: io.NopCloser(strings.NewReader("injected"))}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	p, rec, _ := testPolicy(t, func(pc *core.PolicyConfig) { pc.Faults = faults; pc.Retry.MaxAttempts = 3 })
	client, _ := newTestClient(t, nil, Config{Policy: p, Operation: func(r *http.Request) string { return r.Method + " " + r.URL.Path }})
	faults.Enable()
	resp, err := client.Get(srv.URL + "/down")
	if err == nil {
		resp.Body.Close()
		t.Fatal("an injected server error reached the caller as a success")
	}
	var ie *core.InjectedFaultError
	if !errors.As(err, &ie) || ie.Class != core.ClassServerError {
		t.Errorf("err = %v, want the injected server error", err)
	}
	if n := rec.Count(core.EventFaultInjected); n != 3 {
		t.Errorf("%d fault_injected events, want 3 (every attempt)", n)
	}
	resp, err = client.Get(srv.URL + "/cached")
	if err != nil {
		t.Fatal(err)
	}
	if got := readBody(t, resp); got != "injected" {
		t.Errorf("body %q, want the injected response", got)
	}
	if n := srv.NumHits(); n != 0 {
		t.Errorf("hits = %d, want 0: injected faults replace the request", n)
	}
	faults.Disable()
	resp, err = client.Get(srv.URL + "/down")
	if err != nil {
		t.Fatal(err)
	}
	readBody(t, resp)
	if n := srv.NumHits(); n != 1 {
		t.Errorf("hits = %d, want 1 once disabled", n)
	}
}
