package redresshttp_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"time"

	"github.com/redress-go/redress/contrib/nethttp"
	"github.com/redress-go/redress/core"
)

// A policy with a Hedger hedges the requests that are safe to resend: the
// first GET hangs, a copy sent 20ms later answers, and the first is
// cancelled. A POST without an idempotency key would run once, unhedged.
func ExampleNewTransport_hedging() {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			<-r.Context().Done() // a slow replica; the client gives up on it
			return
		}
		fmt.Fprint(w, "from the hedge")
	}))
	defer srv.Close()

	h, err := core.NewHedger(core.HedgeConfig{Delay: 20 * time.Millisecond})
	if err != nil {
		panic(err)
	}
	pc := redresshttp.DefaultPolicyConfig()
	pc.Hedge = h
	p, err := core.NewPolicy(pc)
	if err != nil {
		panic(err)
	}
	rt, err := redresshttp.NewTransport(nil, redresshttp.Config{Policy: p})
	if err != nil {
		panic(err)
	}
	client := &http.Client{Transport: rt}

	resp, err := client.Get(srv.URL + "/profile/7")
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, string(body))
	// Output:
	// 200 from the hedge
}
