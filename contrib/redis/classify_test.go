package redressredis_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
	"go.uber.org/goleak"

	redressredis "github.com/redress-go/redress/contrib/redis"
	"github.com/redress-go/redress/core"
	"github.com/redress-go/redress/internal/testenv"
)

// classifyRedisAddr is the Redis server the classifier tests read real
// error replies from.
var classifyRedisAddr = testenv.Env("REDRESS_REDIS_ADDR", "127.0.0.1:6379")

// classifyOptions are client options that make every failure come back at
// once: no retries inside go-redis, one dial, no backoff, no handshake
// beyond HELLO.
func classifyOptions(addr string) *redis.Options {
	return &redis.Options{
		Addr:                     addr,
		Protocol:                 2,
		DisableIdentity:          true,
		MaxRetries:               -1,
		DialerRetries:            1,
		DialerRetryBackoff:       func(int) time.Duration { return 0 },
		DialTimeout:              2 * time.Second,
		ReadTimeout:              2 * time.Second,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	}
}

// classifyClient returns a client of opt, closed at the end of the test.
func classifyClient(t *testing.T, opt *redis.Options) *redis.Client {
	t.Helper()
	c := redis.NewClient(opt)
	t.Cleanup(func() { c.Close() })
	return c
}

// classifyRealRedis returns a client of the real server, or skips (fails
// under REDRESS_REQUIRE_SERVICES=1) when there is none.
func classifyRealRedis(t *testing.T) *redis.Client {
	t.Helper()
	c := classifyClient(t, classifyOptions(classifyRedisAddr))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		testenv.Missing(t, "Redis at "+classifyRedisAddr+" (REDRESS_REDIS_ADDR)", err)
	}
	return c
}

// classifyKey returns a key of this test's own, deleted at its end.
func classifyKey(t *testing.T, c *redis.Client) string {
	t.Helper()
	k := "redress:test:classify:" + strings.ReplaceAll(t.Name(), "/", ":") + ":" + strconv.FormatUint(rand.Uint64(), 36)
	t.Cleanup(func() { c.Del(context.Background(), k) })
	return k
}

// replyServer is a TCP server speaking enough RESP2 for go-redis: it answers
// HELLO as a server without RESP3 does, and every other command with what
// answer returns: raw RESP to write ("" for none), then whether to keep
// the connection, close it or reset it. go-redis parses its replies into
// the error values it returns from a real server: it stands for the states
// no test server is easily put in (LOADING, TRYAGAIN, MOVED, ASK,
// NOREPLICAS, the client limit), for network faults, and for the others
// where redis-server is not installed.
type replyServer struct {
	ln     net.Listener
	answer func(cmd []string) (string, connEnd)
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  []net.Conn
}

// connEnd is what the server does with a connection after a reply.
type connEnd int

const (
	keepConn  connEnd = iota
	closeConn         // a FIN: the client reads EOF
	resetConn         // a RST: the client reads ECONNRESET
)

// reply is an answer that writes r and keeps the connection.
func reply(r string) func([]string) (string, connEnd) {
	return func([]string) (string, connEnd) { return r, keepConn }
}

func newReplyServer(t testing.TB, answer func(cmd []string) (string, connEnd)) *replyServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &replyServer{ln: ln, answer: answer}
	s.wg.Add(1)
	go s.accept()
	t.Cleanup(s.close)
	return s
}

func (s *replyServer) addr() string { return s.ln.Addr().String() }

func (s *replyServer) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns = append(s.conns, c)
		s.mu.Unlock()
		s.wg.Add(1)
		go s.serve(c)
	}
}

// close stops the server and waits for its goroutines.
func (s *replyServer) close() {
	s.ln.Close()
	s.mu.Lock()
	for _, c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *replyServer) serve(c net.Conn) {
	defer s.wg.Done()
	defer c.Close()
	rd := bufio.NewReader(c)
	for {
		cmd, err := readCommand(rd)
		if err != nil {
			return
		}
		r, end := "-ERR unknown command 'HELLO'\r\n", keepConn
		if !strings.EqualFold(cmd[0], "HELLO") {
			r, end = s.answer(cmd)
		}
		if _, err := io.WriteString(c, r); err != nil {
			return
		}
		switch end {
		case closeConn:
			return
		case resetConn:
			c.(*net.TCPConn).SetLinger(0)
			return
		}
	}
}

// readCommand reads one RESP array of bulk strings.
func readCommand(rd *bufio.Reader) ([]string, error) {
	line, err := rd.ReadString('\n')
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(line, "*") {
		return nil, fmt.Errorf("not an array: %q", line)
	}
	n, err := strconv.Atoi(strings.TrimSpace(line[1:]))
	if err != nil || n < 1 {
		return nil, fmt.Errorf("bad array length %q", line)
	}
	cmd := make([]string, n)
	for i := range cmd {
		hdr, err := rd.ReadString('\n')
		if err != nil {
			return nil, err
		}
		size, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(hdr, "$")))
		if err != nil || size < 0 {
			return nil, fmt.Errorf("bad bulk header %q", hdr)
		}
		b := make([]byte, size+2)
		if _, err := io.ReadFull(rd, b); err != nil {
			return nil, err
		}
		cmd[i] = string(b[:size])
	}
	return cmd, nil
}

// replyErr returns the error go-redis gives a GET answered with the error
// reply msg.
func replyErr(t *testing.T, msg string) error {
	t.Helper()
	s := newReplyServer(t, reply("-"+msg+"\r\n"))
	err := classifyClient(t, classifyOptions(s.addr())).Get(context.Background(), "k").Err()
	if err == nil || err.Error() != msg {
		t.Fatalf("GET answered %q: error %v, want the reply", msg, err)
	}
	return err
}

type classCase struct {
	err    error
	class  core.Class
	reason string
}

func checkClass(t *testing.T, name string, c classCase) {
	t.Helper()
	got := redressredis.Classifier(c.err)
	if got.Class != c.class || got.Reason != c.reason {
		t.Errorf("%s: Classifier(%v) = %s %q, want %s %q", name, c.err, got.Class, got.Reason, c.class, c.reason)
	}
	// Wrapped, as a hook or the caller's fmt.Errorf does, it classifies the same.
	wrapped := fmt.Errorf("cache lookup: %w", c.err)
	if got := redressredis.Classifier(wrapped); got.Class != c.class || got.Reason != c.reason {
		t.Errorf("%s, wrapped: %s %q, want %s %q", name, got.Class, got.Reason, c.class, c.reason)
	}
	if got.RetryAfter != 0 || got.NoRetry {
		t.Errorf("%s: hint %v, NoRetry %v; want neither", name, got.RetryAfter, got.NoRetry)
	}
}

// TestClassifierServerStates: the replies of a server that cannot serve
// now, of a cluster or replica in transition, and of refused credentials,
// as go-redis returns them (its typed errors, parsed from the wire). Those
// a server of the test's own can be configured into are also checked
// against real servers, in TestClassifierServerStatesReal.
func TestClassifierServerStates(t *testing.T) {
	leaks := goleak.IgnoreCurrent()
	cases := []struct {
		reply  string
		is     func(error) bool // go-redis's own check: the value is its typed error
		class  core.Class
		reason string
	}{
		{"LOADING Redis is loading the dataset in memory", redis.IsLoadingError, core.ClassServerError, "redis_loading"},
		{"BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.", nil, core.ClassServerError, "redis_busy"},
		{"MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.", redis.IsMasterDownError, core.ClassServerError, "redis_masterdown"},
		{"CLUSTERDOWN Hash slot not served", redis.IsClusterDownError, core.ClassServerError, "redis_clusterdown"},
		{"NOREPLICAS Not enough good replicas to write.", redis.IsNoReplicasError, core.ClassServerError, "redis_noreplicas"},
		{"OOM command not allowed when used memory > 'maxmemory'.", redis.IsOOMError, core.ClassServerError, "redis_oom"},
		{"TRYAGAIN Multiple keys request during rehashing of slot", redis.IsTryAgainError, core.ClassTransient, "redis_tryagain"},
		{"READONLY You can't write against a read only replica.", redis.IsReadOnlyError, core.ClassTransient, "redis_readonly"},
		{"ERR max number of clients reached", redis.IsMaxClientsError, core.ClassRateLimit, "redis_max_clients"},
		{"NOAUTH Authentication required.", redis.IsAuthError, core.ClassAuth, "redis_noauth"},
		{"WRONGPASS invalid username-password pair or user is disabled.", redis.IsAuthError, core.ClassAuth, "redis_wrongpass"},
		{"ERR unauthenticated", redis.IsAuthError, core.ClassAuth, "redis_unauthenticated"},
		{"NOPERM User u has no permissions to run the 'get' command", redis.IsPermissionError, core.ClassPermission, "redis_noperm"},
		{"MOVED 3999 127.0.0.1:6381", func(err error) bool { _, ok := redis.IsMovedError(err); return ok }, core.ClassPermanent, "redis_moved"},
		{"ASK 3999 127.0.0.1:6381", func(err error) bool { _, ok := redis.IsAskError(err); return ok }, core.ClassPermanent, "redis_ask"},
		{"CROSSSLOT Keys in request don't hash to the same slot", nil, core.ClassPermanent, "redis_crossslot"},
		{"SOMEMODULE a reply no rule knows", nil, core.ClassPermanent, "redis_error"},
	}
	for _, c := range cases {
		name := c.reason
		t.Run(name, func(t *testing.T) {
			err := replyErr(t, c.reply)
			if c.is != nil && !c.is(err) {
				t.Fatalf("go-redis does not take %v (%T) for its typed error", err, err)
			}
			var re redis.Error
			if !errors.As(err, &re) {
				t.Fatalf("%v (%T) is not a redis.Error", err, err)
			}
			checkClass(t, name, classCase{err, c.class, c.reason})
			if got := redressredis.ClassifyReply(c.reply); got.Class != c.class || got.Reason != c.reason {
				t.Errorf("ClassifyReply(%q) = %s %q, want %s %q", c.reply, got.Class, got.Reason, c.class, c.reason)
			}
		})
	}
	goleak.VerifyNone(t, leaks)
}

// TestClassifierCommandErrors: the replies a real server gives to commands
// it refuses, and go-redis's answers of its own.
func TestClassifierCommandErrors(t *testing.T) {
	rdb := classifyRealRedis(t)
	ctx := context.Background()
	k := classifyKey(t, rdb)
	if err := rdb.Set(ctx, k, "v", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	wrongType := rdb.LPush(ctx, k, "x").Err()
	syntax := rdb.Do(ctx, "SET", k, "v", "NOSUCHOPTION").Err()
	unknown := rdb.Do(ctx, "NOSUCHCOMMAND").Err()
	noScript := rdb.EvalSha(ctx, strings.Repeat("0", 40), nil).Err()
	_, execAbort := rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Do(ctx, "SET", k) // wrong number of arguments: queued as an error
		return nil
	})
	gk := classifyKey(t, rdb)
	if err := rdb.XGroupCreateMkStream(ctx, gk, "g", "$").Err(); err != nil {
		t.Fatal(err)
	}
	busyGroup := rdb.XGroupCreateMkStream(ctx, gk, "g", "$").Err()
	nilErr := rdb.Get(ctx, classifyKey(t, rdb)).Err()

	// A watched key changed by another client: the transaction does not run.
	other := classifyRealRedis(t)
	txFailed := rdb.Watch(ctx, func(tx *redis.Tx) error {
		if err := other.Set(ctx, k, "changed", time.Minute).Err(); err != nil {
			return err
		}
		_, err := tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Set(ctx, k, "mine", time.Minute)
			return nil
		})
		return err
	}, k)

	// A user that does not exist, and one whose ACL refuses the command.
	wrongPass := classifyClient(t, &redis.Options{
		Addr: classifyRedisAddr, Protocol: 2, DisableIdentity: true, MaxRetries: -1,
		Username: "redress-nobody-" + strconv.FormatUint(rand.Uint64(), 36), Password: "wrong",
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	}).Ping(ctx).Err()
	user := "redress-classify-" + strconv.FormatUint(rand.Uint64(), 36)
	if err := rdb.Do(ctx, "ACL", "SETUSER", user, "on", ">pw", "~*", "+get", "+ping", "+hello", "+auth").Err(); err != nil {
		t.Fatalf("ACL SETUSER: %v", err)
	}
	t.Cleanup(func() { rdb.Do(context.Background(), "ACL", "DELUSER", user) })
	opt := classifyOptions(classifyRedisAddr)
	opt.Username, opt.Password = user, "pw"
	noPerm := classifyClient(t, opt).Set(ctx, k, "v", time.Minute).Err()

	cases := map[string]classCase{
		"WRONGTYPE":   {wrongType, core.ClassPermanent, "redis_wrongtype"},
		"syntax":      {syntax, core.ClassPermanent, "redis_error"},
		"unknown":     {unknown, core.ClassPermanent, "redis_error"},
		"NOSCRIPT":    {noScript, core.ClassPermanent, "redis_noscript"},
		"EXECABORT":   {execAbort, core.ClassPermanent, "redis_execabort"},
		"BUSYGROUP":   {busyGroup, core.ClassPermanent, "redis_error"},
		"nil":         {nilErr, core.ClassPermanent, "redis_nil"},
		"TxFailedErr": {txFailed, core.ClassConcurrency, "redis_tx_failed"},
		"WRONGPASS":   {wrongPass, core.ClassAuth, "redis_wrongpass"},
		"NOPERM":      {noPerm, core.ClassPermission, "redis_noperm"},
	}
	checks := map[string]func(error) bool{
		"WRONGTYPE":   func(err error) bool { return redis.HasErrorPrefix(err, "WRONGTYPE") },
		"syntax":      func(err error) bool { return strings.HasPrefix(err.Error(), "ERR syntax error") },
		"unknown":     func(err error) bool { return strings.HasPrefix(err.Error(), "ERR unknown command") },
		"NOSCRIPT":    func(err error) bool { return redis.HasErrorPrefix(err, "NOSCRIPT") },
		"EXECABORT":   redis.IsExecAbortError,
		"BUSYGROUP":   func(err error) bool { return redis.HasErrorPrefix(err, "BUSYGROUP") },
		"nil":         func(err error) bool { return err == redis.Nil },
		"TxFailedErr": func(err error) bool { return err == redis.TxFailedErr },
		"WRONGPASS":   redis.IsAuthError,
		"NOPERM":      redis.IsPermissionError,
	}
	for name, c := range cases {
		if c.err == nil || !checks[name](c.err) {
			t.Errorf("%s: the server answered %v (%T), not the error under test", name, c.err, c.err)
			continue
		}
		checkClass(t, name, c)
	}
}

// TestClassifierClientErrors: a pool with no free connection, a closed
// client, and the network faults go-redis passes through.
func TestClassifierClientErrors(t *testing.T) {
	leaks := goleak.IgnoreCurrent()
	ctx := context.Background()

	t.Run("pool timeout", func(t *testing.T) {
		s := newReplyServer(t, reply("+PONG\r\n"))
		opt := classifyOptions(s.addr())
		opt.PoolSize, opt.PoolTimeout = 1, 5*time.Millisecond
		c := classifyClient(t, opt)
		held := c.Conn() // takes the pool's only connection until Close
		defer held.Close()
		if err := held.Ping(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		err := c.Ping(ctx).Err()
		if !errors.Is(err, redis.ErrPoolTimeout) {
			t.Fatalf("err = %v, want redis.ErrPoolTimeout", err)
		}
		checkClass(t, "pool timeout", classCase{err, core.ClassRateLimit, "redis_pool_timeout"})
	})
	t.Run("pool exhausted", func(t *testing.T) {
		checkClass(t, "pool exhausted", classCase{redis.ErrPoolExhausted, core.ClassRateLimit, "redis_pool_exhausted"})
	})
	t.Run("closed client", func(t *testing.T) {
		c := redis.NewClient(classifyOptions("127.0.0.1:1"))
		c.Close()
		err := c.Ping(ctx).Err()
		if !errors.Is(err, redis.ErrClosed) {
			t.Fatalf("err = %v, want redis.ErrClosed", err)
		}
		checkClass(t, "closed", classCase{err, core.ClassPermanent, "redis_client_closed"})
	})
	t.Run("connection refused", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		err = classifyClient(t, classifyOptions(addr)).Ping(ctx).Err()
		checkClass(t, "refused", classCase{err, core.ClassTransient, "connection_refused"})
	})
	t.Run("connection reset", func(t *testing.T) {
		s := newReplyServer(t, func([]string) (string, connEnd) { return "", resetConn })
		err := classifyClient(t, classifyOptions(s.addr())).Ping(ctx).Err()
		checkClass(t, "reset", classCase{err, core.ClassTransient, "connection_reset"})
	})
	t.Run("EOF", func(t *testing.T) {
		// The server closes the connection in the middle of a reply.
		s := newReplyServer(t, func([]string) (string, connEnd) { return "$100\r\ntruncated", closeConn })
		err := classifyClient(t, classifyOptions(s.addr())).Get(ctx, "k").Err()
		if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("err = %v, want EOF", err)
		}
		checkClass(t, "EOF", classCase{err, core.ClassTransient, "unexpected_eof"})
	})
	t.Run("read timeout", func(t *testing.T) {
		s := newReplyServer(t, reply("")) // never answers
		opt := classifyOptions(s.addr())
		opt.ReadTimeout = 5 * time.Millisecond
		err := classifyClient(t, opt).Ping(ctx).Err()
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("err = %v, want a net.Error timeout", err)
		}
		checkClass(t, "read timeout", classCase{err, core.ClassTransient, "timeout"})
	})
	t.Run("context", func(t *testing.T) {
		s := newReplyServer(t, reply("+PONG\r\n"))
		c := classifyClient(t, classifyOptions(s.addr()))
		dctx, cancel := context.WithDeadline(ctx, time.Now().Add(-time.Second))
		defer cancel()
		err := c.Ping(dctx).Err()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want context.DeadlineExceeded", err)
		}
		checkClass(t, "deadline", classCase{err, core.ClassTransient, "timeout"})
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		err = c.Ping(cctx).Err()
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
		checkClass(t, "canceled", classCase{err, core.ClassTransient, "canceled"})
	})
	goleak.VerifyNone(t, leaks)
}

// TestClassifierMarkerWins: an error the caller classified keeps its class,
// whatever the Redis error inside.
func TestClassifierMarkerWins(t *testing.T) {
	got := redressredis.Classifier(core.Transient(redis.Nil))
	if got.Class != core.ClassTransient || got.Reason != "marked_transient" {
		t.Errorf("marked nil: %s %q, want transient marked_transient", got.Class, got.Reason)
	}
	got = redressredis.Classifier(core.RateLimited(redis.ErrClosed, time.Second))
	if got.Class != core.ClassRateLimit || got.RetryAfter != time.Second {
		t.Errorf("marked closed: %s %v, want rate_limit 1s", got.Class, got.RetryAfter)
	}
	if got := redressredis.Classifier(errors.New("something else")); got.Class != core.ClassUnknown {
		t.Errorf("a plain error: %s, want unknown (core.DefaultClassifier)", got.Class)
	}
}

// TestClassifierDrivesThePolicy: under a policy, a LOADING reply is retried
// and a WRONGTYPE reply stops the call at once.
func TestClassifierDrivesThePolicy(t *testing.T) {
	loading := replyErr(t, "LOADING Redis is loading the dataset in memory")
	wrongType := replyErr(t, "WRONGTYPE Operation against a key holding the wrong kind of value")
	p, err := core.NewPolicy(core.PolicyConfig{Retry: core.RetryConfig{
		MaxAttempts: 3,
		Classifier:  redressredis.Classifier,
		Strategy:    core.Constant(0),
	}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		err      error
		attempts int
	}{{loading, 3}, {wrongType, 1}} {
		n := 0
		_, err := core.Do(context.Background(), p, func(context.Context) (struct{}, error) {
			n++
			return struct{}{}, c.err
		})
		if err == nil || n != c.attempts {
			t.Errorf("%v: %d attempts (err %v), want %d", c.err, n, err, c.attempts)
		}
	}
}

// BenchmarkClassifier: a LOADING reply as go-redis returns it, and a
// network error, against core.DefaultClassifier on the same errors (the
// baseline: what a policy pays without this package).
func BenchmarkClassifier(b *testing.B) {
	s := newReplyServer(b, reply("-LOADING Redis is loading the dataset in memory\r\n"))
	c := redis.NewClient(classifyOptions(s.addr()))
	defer c.Close()
	loading := c.Get(context.Background(), "k").Err()
	if !redis.IsLoadingError(loading) {
		b.Fatalf("err = %v, want LOADING", loading)
	}
	reset := fmt.Errorf("read: %w", &net.OpError{Op: "read", Net: "tcp", Err: errors.New("connection reset by peer")})
	for _, e := range []struct {
		name string
		err  error
	}{{"loading", loading}, {"network", reset}} {
		b.Run(e.name+"/default", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				core.DefaultClassifier(e.err)
			}
		})
		b.Run(e.name+"/redressredis", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				redressredis.Classifier(e.err)
			}
		})
	}
}

// privateRedis starts a redis-server of this test's own, on a Unix socket
// in a temporary directory, with the given configuration arguments, and
// returns the client options for it. The server is stopped (by its PID)
// at the end of the test. The test skips when redis-server is not
// installed, unless REDRESS_REQUIRE_SERVICES=1.
func privateRedis(t *testing.T, args ...string) *redis.Options {
	t.Helper()
	bin := testenv.LookPath(t, "redis-server", "redis-server")
	dir := t.TempDir()
	sock := filepath.Join(dir, "redis.sock")
	cmd := exec.Command(bin, append([]string{
		"--port", "0", "--unixsocket", sock, "--unixsocketperm", "700",
		"--save", "", "--appendonly", "no", "--dir", dir, "--daemonize", "no",
	}, args...)...)
	var log strings.Builder
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatalf("redis-server: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	opt := classifyOptions(sock)
	opt.Network = "unix"
	// Wait until the server accepts connections (it starts in a few ms).
	for deadline := time.Now().Add(10 * time.Second); ; {
		select {
		case err := <-exited:
			t.Fatalf("redis-server %v exited: %v\n%s", args, err, log.String())
		default:
		}
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			return opt
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server %v did not start:\n%s", args, log.String())
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestClassifierServerStatesReal: the server states the shared server
// cannot be put in, from servers of the test's own configured into them.
func TestClassifierServerStatesReal(t *testing.T) {
	leaks := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, leaks) }) // after the servers' and clients' cleanups
	ctx := context.Background()
	// A replica of a master that does not exist: its link is down.
	closedPort := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	}
	cases := []struct {
		name   string
		args   []string
		run    func(c *redis.Client) error
		is     func(error) bool
		class  core.Class
		reason string
	}{
		{"NOAUTH", []string{"--requirepass", "secret"},
			func(c *redis.Client) error { return c.Get(ctx, "k").Err() },
			redis.IsAuthError, core.ClassAuth, "redis_noauth"},
		{"OOM", []string{"--maxmemory", "1", "--maxmemory-policy", "noeviction"},
			func(c *redis.Client) error { return c.Set(ctx, "k", "v", 0).Err() },
			redis.IsOOMError, core.ClassServerError, "redis_oom"},
		{"READONLY", []string{"--replicaof", "127.0.0.1", closedPort()},
			func(c *redis.Client) error { return c.Set(ctx, "k", "v", 0).Err() },
			redis.IsReadOnlyError, core.ClassTransient, "redis_readonly"},
		{"MASTERDOWN", []string{"--replicaof", "127.0.0.1", closedPort(), "--replica-serve-stale-data", "no"},
			func(c *redis.Client) error { return c.Get(ctx, "k").Err() },
			redis.IsMasterDownError, core.ClassServerError, "redis_masterdown"},
		{"CLUSTERDOWN", []string{"--cluster-enabled", "yes"},
			func(c *redis.Client) error { return c.Get(ctx, "k").Err() },
			redis.IsClusterDownError, core.ClassServerError, "redis_clusterdown"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			opt := privateRedis(t, c.args...)
			err := c.run(classifyClient(t, opt))
			if err == nil || !c.is(err) {
				t.Fatalf("the server answered %v (%T), not the error under test", err, err)
			}
			checkClass(t, c.name, classCase{err, c.class, c.reason})
		})
	}

	t.Run("BUSY", func(t *testing.T) {
		opt := privateRedis(t, "--busy-reply-threshold", "1")
		script := classifyClient(t, opt)
		other := classifyClient(t, opt)
		if err := other.Ping(ctx).Err(); err != nil { // connect before the script blocks the server
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- script.Eval(ctx, "while true do end", nil).Err() }()
		// The server answers BUSY once the script has run past the threshold.
		var err error
		for deadline := time.Now().Add(10 * time.Second); ; {
			if err = other.Ping(ctx).Err(); err != nil || time.Now().After(deadline) {
				break
			}
			time.Sleep(time.Millisecond)
		}
		if kerr := other.ScriptKill(ctx).Err(); kerr != nil {
			t.Errorf("SCRIPT KILL: %v", kerr)
		}
		<-done
		if err == nil || !strings.HasPrefix(err.Error(), "BUSY ") {
			t.Fatalf("PING during the script: %v, want BUSY", err)
		}
		checkClass(t, "BUSY", classCase{err, core.ClassServerError, "redis_busy"})
	})
}
