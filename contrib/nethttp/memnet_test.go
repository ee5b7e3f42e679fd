package redresshttp

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"sync"
	"syscall"
	"testing"
	"time"
)

// memHost is the host name of the in-memory servers (and of their
// certificate).
const memHost = "mem.test"

// memListener is an in-memory net.Listener: each dial makes a net.Pipe
// pair and hands one end to Accept. An HTTP server and client on it can run
// inside a testing/synctest bubble, where time is fake: attempt timeouts,
// deadlines and server delays are exact whatever the machine's load, and
// a test waits for none of them.
type memListener struct {
	conns     chan net.Conn
	closed    chan struct{}
	closeOnce sync.Once
}

func newMemListener() *memListener {
	return &memListener{conns: make(chan net.Conn), closed: make(chan struct{})}
}

func (l *memListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *memListener) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	return nil
}

func (l *memListener) Addr() net.Addr { return memAddr{} }

// DialContext connects to the listener (it ignores the address).
func (l *memListener) DialContext(ctx context.Context, _, _ string) (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.closed:
		return nil, &net.OpError{Op: "dial", Net: "mem", Err: syscall.ECONNREFUSED}
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

type memAddr struct{}

func (memAddr) Network() string { return "mem" }
func (memAddr) String() string  { return memHost + ":0" }

// memTLS is a self-signed certificate for memHost, valid from 1990 to 2100
// (a synctest bubble's clock starts in 2000), and a pool that trusts it.
var memTLS = sync.OnceValues(func() (tls.Certificate, *x509.CertPool) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: memHost},
		DNSNames:              []string{memHost},
		NotBefore:             time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:              time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		panic(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
})

// memOpts chooses the protocol of an in-memory server.
type memOpts struct {
	tls   bool // https, with memTLS's certificate
	http2 bool // offer HTTP/2 (over TLS)
}

// newMemFaultServer is newFaultServer on an in-memory network; call it
// inside a synctest bubble. It returns the server (URL "http://mem.test"
// or "https://mem.test") and a base transport that reaches it; both are
// closed when the test ends.
func newMemFaultServer(t *testing.T, o memOpts, h faultHandler) (*faultServer, *http.Transport) {
	t.Helper()
	l := newMemListener()
	s := &faultServer{URL: "http://" + memHost}
	hs := &http.Server{Handler: s.handler(h), ConnState: s.connState, ErrorLog: log.New(io.Discard, "", 0)}
	base := &http.Transport{DialContext: l.DialContext}
	var ln net.Listener = l
	if o.tls {
		cert, pool := memTLS()
		protos := []string{"http/1.1"}
		if o.http2 {
			protos = []string{"h2", "http/1.1"}
		}
		ln = tls.NewListener(l, &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: protos})
		base.TLSClientConfig = &tls.Config{RootCAs: pool}
		base.ForceAttemptHTTP2 = o.http2
		s.URL = "https://" + memHost
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = hs.Serve(ln) }()
	t.Cleanup(func() { _ = hs.Close(); <-done })
	t.Cleanup(base.CloseIdleConnections)
	return s, base
}
