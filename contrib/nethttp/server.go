package redresshttp

import (
	"net/http"

	"github.com/redress-go/redress/core"
)

// AttemptHeader is the request header a Transport sends on an attempt of
// a request it may still retry: the attempt's number ("1" for the first).
// It tells the server that its caller retries this request, so that the
// server does not retry its own calls made while serving it (Handler).
// It is sent on every retry, and on first attempts while the host is
// failing (its breaker saw a failure within its window, or is open or
// held): adding a header costs a copy of the request's headers, which a
// healthy host's requests are spared. No standard header says this (Envoy's x-envoy-attempt-count
// counts attempts but promises nothing about retries); the name is
// redress's own.
const AttemptHeader = "Redress-Attempt"

// OverloadedHeader is the response header by which a server says
// "overloaded, do not retry": a Transport that receives a failing
// response carrying it (any value) does not retry the request, whatever
// its status (the stop reason is non_retryable_class, the status's class
// kept for the breaker and telemetry). Set it with Overloaded.
const OverloadedHeader = "Redress-Overloaded"

// Handler wraps h so that a request carrying AttemptHeader is served on a
// context marked with core.WithCallerRetries: every redress policy used
// while serving it (a Transport to the next service, a redressgrpc or
// redresssql call, core.Do) stops after a failure it would have retried,
// with core.StopCallerRetries, since the caller retries the whole request.
// In a chain A → B → C where every hop uses redress and its server
// middleware, only A retries. A policy with
// RetryConfig.RetryUnderRetryingCaller retries anyway.
func Handler(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get(AttemptHeader) != "" {
			r = r.WithContext(core.WithCallerRetries(r.Context()))
		}
		h.ServeHTTP(w, r)
	})
}

// Overloaded marks the response being written as "overloaded, do not
// retry" (OverloadedHeader); call it before WriteHeader.
func Overloaded(w http.ResponseWriter) {
	w.Header().Set(OverloadedHeader, "1")
}
