package redresshttp

import (
	"io"
	"net/http"
	"sync"
)

// discard reads what remains of a response body the caller will never see,
// up to the drain limit, and closes it, so that its connection goes back to
// the pool. A body announced as longer than the limit is closed at once.
func (t *Transport) discard(resp *http.Response) {
	if resp == nil || resp.Body == nil {
		return
	}
	if n := t.maxDrain; n > 0 && resp.ContentLength <= n {
		_, _ = io.CopyN(io.Discard, resp.Body, n)
	}
	_ = resp.Body.Close()
}

// releaseBody wraps a response body whose request context must outlive the
// attempt: release runs once, when the body is closed.
type releaseBody struct {
	io.ReadCloser
	once    sync.Once
	release func()
}

// Close closes the body, then releases the request's context.
func (b *releaseBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(b.release)
	return err
}

// releaseRWBody is a releaseBody that keeps the io.Writer of the body it
// wraps (a 101 Switching Protocols response).
type releaseRWBody struct {
	*releaseBody
	w io.Writer
}

// Write writes to the wrapped body.
func (b releaseRWBody) Write(p []byte) (int, error) { return b.w.Write(p) }

// wrapBody returns body wrapped so that release runs when it is closed,
// keeping its io.Writer if it has one.
func wrapBody(body io.ReadCloser, release func()) io.ReadCloser {
	if body == nil {
		release()
		return nil
	}
	rb := &releaseBody{ReadCloser: body, release: release}
	if w, ok := body.(io.Writer); ok {
		return releaseRWBody{releaseBody: rb, w: w}
	}
	return rb
}
