package redresshttp

import (
	"context"
	"fmt"
	"net/http"

	"github.com/redress-go/redress/contrib/internal/wrapper"
	"github.com/redress-go/redress/core"
)

// hedgedAttempt is attempt for a request the policy hedges (its policy
// has a Hedger, and the request is safe to resend): each copy is a shallow
// copy of the request with a fresh body from GetBody, sent on its own
// context (detached once its response headers arrive, so that cancelling
// the losers never cuts the winner's body); the losers' responses are
// drained and closed. The copies never touch the Step: the caller sets the
// status label from the answer taken.
func (rt *roundTrip) hedgedAttempt(s *core.Step) (*http.Response, error) {
	if rt.kept != nil {
		rt.t.discard(rt.kept)
		rt.kept = nil
	}
	s.SetStatusCode(0)
	attempt := s.Attempt()
	var header http.Header
	if rt.marker && (attempt > 1 || rt.hostFailing()) {
		header = rt.markedHeader(attempt) // read only by the copies
	}
	rt.sent = true
	resp, err := core.Hedged(s, func(ctx context.Context, hedge int) (*http.Response, error) {
		return rt.sendCopy(ctx, attempt, hedge, header)
	}, rt.t.discard)
	if resp == nil {
		return nil, err
	}
	rt.kept = resp
	s.SetStatusCode(resp.StatusCode)
	if err != nil {
		return nil, err
	}
	return resp, nil
}

// sendCopy sends copy hedge (0 for the first) of attempt attempt of the
// request on ctx. A failing status comes back as the response and its
// error, so that the hedged group can tell an answer from a failure and
// close the losers' bodies. It is safe to call concurrently.
func (rt *roundTrip) sendCopy(ctx context.Context, attempt, hedge int, header http.Header) (*http.Response, error) {
	req := rt.req
	if attempt > 1 || hedge > 0 || header != nil {
		r := *req // a shallow copy: the caller's request is never modified
		if attempt > 1 || hedge > 0 {
			body, err := replayBody(req)
			if err != nil {
				return nil, core.Classify(fmt.Errorf("redresshttp: cannot replay the request body: %w", err),
					core.Classification{Class: core.ClassPermanent, Reason: reasonBodyReplay})
			}
			r.Body = body
		}
		if header != nil {
			r.Header = header
		}
		req = &r
	}
	resp, err := rt.roundTripDetached(req, ctx)
	if err != nil {
		if rt.t.classify != nil {
			return nil, wrapper.Mark(err, rt.t.classify(err))
		}
		return nil, markTransportError(err)
	}
	return resp, rt.statusErr(resp)
}
