package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redress-go/redress/internal/testenv"
)

func TestRun(t *testing.T) {
	addr := testenv.Env("REDRESS_REDIS_ADDR", "127.0.0.1:6379")
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	if err := c.Ping(context.Background()).Err(); err != nil {
		testenv.Missing(t, "Redis at "+addr+" (REDRESS_REDIS_ADDR)", err)
	}
	var b strings.Builder
	if err := run(context.Background(), addr, fmt.Sprintf("redress-example-test-%d", time.Now().UnixNano()), &b); err != nil {
		t.Fatalf("%v\noutput:\n%s", err, b.String())
	}
	out := b.String()
	t.Log(out)
	for _, want := range []string{
		"round 1 replica A: 3 attempts, stopped: max_attempts",
		"round 2 replica B: 1 attempts, stopped: budget_exhausted",
		"fleet retries: 6\n",
		"round 1 replica A call 2: refused: limited",
		"fleet attempts sent: 3\n",
		"replica B: refused locally, held (30s more), sent: false",
		"replica B: degraded false",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
}
