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
// attempt: release runs once, when the body is read to io.EOF (as otelhttp
// ends its span) or closed, whichever comes first. The caller must still
// close the body; a caller who reads it to the end and forgets to close it
// no longer keeps the request's context (and its AfterFunc on the caller's
// context) alive.
type releaseBody struct {
	io.ReadCloser
	once    sync.Once
	release func()
	atEOF   bool // release at io.EOF too (not for a 101 body, still writable)
}

// Read reads from the body; at io.EOF it releases the request's context.
// The transport has handed the connection back (HTTP/1.1) or ended the
// stream (HTTP/2) before the body returns io.EOF, so the release cuts
// nothing.
func (b *releaseBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF && b.atEOF {
		b.once.Do(b.release)
	}
	return n, err
}

// Close closes the body, then releases the request's context.
func (b *releaseBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(b.release)
	return err
}

// releaseRWBody is a releaseBody that keeps the io.Writer of the body it
// wraps (a 101 Switching Protocols response). It is released on Close only:
// the end of what the server sends is not the end of the connection.
type releaseRWBody struct {
	*releaseBody
	w io.Writer
}

// Write writes to the wrapped body.
func (b releaseRWBody) Write(p []byte) (int, error) { return b.w.Write(p) }

// wrapBody returns body wrapped so that release runs when it is read to
// io.EOF or closed, keeping its io.Writer if it has one (then release runs
// on Close only).
func wrapBody(body io.ReadCloser, release func()) io.ReadCloser {
	if body == nil {
		release()
		return nil
	}
	rb := &releaseBody{ReadCloser: body, release: release}
	if w, ok := body.(io.Writer); ok {
		return releaseRWBody{releaseBody: rb, w: w}
	}
	rb.atEOF = true
	return rb
}
