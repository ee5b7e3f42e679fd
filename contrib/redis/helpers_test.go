package redressredis

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/redress-go/redress/internal/testenv"
)

func TestMain(m *testing.M) {
	redis.SetLogger(quietLogger{}) // the fault tests kill servers: no dial errors on stderr
	goleak.VerifyTestMain(m)
}

type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

// redisAddr is the machine's Redis, shared with other tests: only used, never
// paused or flushed.
func redisAddr() string { return testenv.Env("REDRESS_REDIS_ADDR", "127.0.0.1:6379") }

// newClient returns a client with its own pool on the machine's Redis, or
// skips (fails when services are required) when it does not answer.
func newClient(t testing.TB) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: redisAddr(), MaxRetries: -1, DialTimeout: time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		c.Close()
		testenv.Missing(t, "Redis at "+redisAddr()+" (REDRESS_REDIS_ADDR)", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// testPrefix returns a key prefix no other test run uses, and deletes its
// keys when the test ends.
func testPrefix(t testing.TB, c *redis.Client) string {
	t.Helper()
	p := fmt.Sprintf("redresstest-%d-%d", os.Getpid(), time.Now().UnixNano())
	t.Cleanup(func() {
		ctx := context.Background()
		keys, _ := c.Keys(ctx, p+":*").Result()
		if len(keys) > 0 {
			c.Del(ctx, keys...)
		}
	})
	return p
}

// ownRedis is a redis-server the test started itself, on a port of its own,
// keeping nothing on disk: the one a test may pause, kill and restart.
type ownRedis struct {
	t    testing.TB
	bin  string
	port int
	cmd  *exec.Cmd
}

// startOwnRedis starts a redis-server on a free port.
func startOwnRedis(t testing.TB) *ownRedis {
	t.Helper()
	bin := testenv.LookPath(t, "redis-server", "redis-server")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	r := &ownRedis{t: t, bin: bin, port: port}
	r.start()
	t.Cleanup(r.kill)
	return r
}

func (r *ownRedis) addr() string { return "127.0.0.1:" + strconv.Itoa(r.port) }

// start runs the server on r.port and waits until it answers.
func (r *ownRedis) start() {
	r.t.Helper()
	r.cmd = exec.Command(r.bin, "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", r.t.TempDir())
	if err := r.cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	c := redis.NewClient(&redis.Options{Addr: r.addr(), MaxRetries: -1})
	defer c.Close()
	for i := 0; ; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return
		}
		if i == 200 {
			r.t.Fatalf("redis-server on %s did not answer: %v", r.addr(), err)
		}
		time.Sleep(10 * time.Millisecond) // polling a process's start-up, not timing a test
	}
}

// kill stops the server by its PID and waits for it; it is idempotent.
func (r *ownRedis) kill() {
	if r.cmd == nil || r.cmd.Process == nil {
		return
	}
	_ = r.cmd.Process.Signal(syscall.SIGKILL)
	_ = r.cmd.Wait()
	r.cmd = nil
}

// client returns a client of the test's own server.
func (r *ownRedis) client() *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: r.addr(), MaxRetries: -1, DialTimeout: 50 * time.Millisecond})
	r.t.Cleanup(func() { c.Close() })
	return c
}
