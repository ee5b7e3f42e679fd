package redresshttp

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/redress-go/redress/core"
)

// failing reports whether a response with this status is a failure for the
// policy: every 4xx and 5xx (OTel's rule for client spans). Its class comes
// from core.ClassifyStatus, through a *core.StatusError the policy's
// classifier reads: 429 rate limit, 503 and other 5xx but 501 server error,
// 408 transient, 409 concurrency, 401 auth, 403 permission, other 4xx and
// 501 permanent.
func failing(code int) bool { return code >= 400 && code <= 599 }

// retryAfter returns the delay a 429 or 503 response asks for in its
// Retry-After header (delay-seconds or HTTP-date), capped at max; zero when
// there is none, it is malformed or already past. A hint above the cap is
// capped, never refused: delay-seconds too large for any integer type
// ("99999999999999999999") give max. An HTTP-date is measured from the
// response's Date header when it has one (so that clock skew between client
// and server does not matter), else from now.
func retryAfter(resp *http.Response, now func() time.Time, max time.Duration) time.Duration {
	if resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusServiceUnavailable {
		return 0
	}
	return parseRetryAfter(resp.Header, now, max)
}

func parseRetryAfter(h http.Header, now func() time.Time, max time.Duration) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	var d time.Duration
	secs, err := strconv.ParseInt(v, 10, 64)
	if err != nil && errors.Is(err, strconv.ErrRange) && allDigits(v) {
		// delay-seconds too large for an int64 ask for more than any cap.
		// (ParseInt reports the overflow before the rest of the value is
		// looked at: "99999999999999999999x" is malformed, not huge.)
		secs, err = math.MaxInt64, nil
	}
	if err == nil {
		if secs <= 0 {
			return 0
		}
		if secs > int64(max/time.Second) {
			return max
		}
		d = time.Duration(secs) * time.Second
	} else if at, err := http.ParseTime(v); err == nil {
		ref, err := http.ParseTime(h.Get("Date"))
		if err != nil {
			ref = now()
		}
		d = at.Sub(ref)
	}
	if d <= 0 {
		return 0
	}
	return min(d, max)
}

// allDigits reports whether s is a non-empty run of ASCII digits (RFC 9110
// delay-seconds).
func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Reasons of the transport errors this package marks as permanent.
const (
	reasonTLSCertificate   = "tls_certificate"
	reasonTLSHandshake     = "tls_handshake"
	reasonUnsupportedProto = "unsupported_scheme"
	reasonTooManyRedirects = "too_many_redirects"
	reasonInvalidRequest   = "invalid_request"
	reasonBodyReplay       = "body_replay"
	reasonConnBroken       = "connection_broken"
)

// markTransportError marks the errors that resending cannot fix as
// permanent: certificate errors (an untrusted or expired certificate, a
// wrong host name), a TLS handshake with something that does not speak
// TLS, an unsupported scheme, a request the transport refuses as malformed,
// and too many redirects (a client error that only reaches a transport
// nested in another client). A connection that broke mid-exchange (net/http
// reports it as text, not as a typed error) is marked transient. Anything
// else is returned as is, for the policy's classifier.
func markTransportError(err error) error {
	var (
		verr *tls.CertificateVerificationError
		uerr x509.UnknownAuthorityError
		herr x509.HostnameError
		cerr x509.CertificateInvalidError
		rerr tls.RecordHeaderError
		aerr tls.AlertError
	)
	switch {
	case errors.As(err, &verr), errors.As(err, &uerr), errors.As(err, &herr), errors.As(err, &cerr):
		return core.Classify(err, core.Classification{Class: core.ClassPermanent, Reason: reasonTLSCertificate})
	case errors.As(err, &rerr), errors.As(err, &aerr):
		return core.Classify(err, core.Classification{Class: core.ClassPermanent, Reason: reasonTLSHandshake})
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "unsupported protocol scheme"):
		return core.Classify(err, core.Classification{Class: core.ClassPermanent, Reason: reasonUnsupportedProto})
	case strings.Contains(msg, "stopped after") && strings.Contains(msg, "redirects"):
		return core.Classify(err, core.Classification{Class: core.ClassPermanent, Reason: reasonTooManyRedirects})
	case strings.Contains(msg, "no Host in request URL"),
		strings.Contains(msg, "invalid header field"),
		strings.Contains(msg, "invalid method"),
		strings.Contains(msg, "nil Request."):
		return core.Classify(err, core.Classification{Class: core.ClassPermanent, Reason: reasonInvalidRequest})
	case strings.Contains(msg, "transport connection broken"),
		strings.Contains(msg, "server closed idle connection"),
		strings.Contains(msg, "http2: client connection lost"),
		strings.Contains(msg, "http2: server sent GOAWAY"):
		return core.Classify(err, core.Classification{Class: core.ClassTransient, Reason: reasonConnBroken})
	}
	return err
}
