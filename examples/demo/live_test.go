package main

import (
	"context"
	"sync"
	"testing"
	"time"
)

// liveDemo is the demo running in the background of a test.
type liveDemo struct {
	ctx    context.Context // done when the test ends
	addr   string          // the listener of /metrics and /debug/redress
	phases chan string     // each phase's name as it starts
	out    *lockedBuffer
}

// startDemo runs the demo with cfg until the test ends and waits for its
// listener. At the end it stops the demo, reports its error, and logs its
// output if the test failed.
func startDemo(t *testing.T, cfg config) *liveDemo {
	t.Helper()
	listening := make(chan string, 1)
	d := &liveDemo{phases: make(chan string, 8), out: &lockedBuffer{}}
	cfg.onListen = func(a string) { listening <- a }
	cfg.onPhase = func(name string) { d.phases <- name }
	ctx, cancel := context.WithCancel(context.Background())
	d.ctx = ctx
	var wg sync.WaitGroup
	var runErr error
	wg.Go(func() { runErr = run(ctx, cfg, d.out) })
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		if runErr != nil {
			t.Errorf("demo: %v", runErr)
		}
		if t.Failed() {
			t.Logf("demo output:\n%s", d.out.String())
		}
	})
	select {
	case d.addr = <-listening:
	case <-time.After(10 * time.Second):
		t.Fatal("demo did not start")
	}
	return d
}

// waitPhase waits until the phase name starts, at most within.
func (d *liveDemo) waitPhase(t *testing.T, name string, within time.Duration) {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case p := <-d.phases:
			if p == name {
				return
			}
		case <-deadline:
			t.Fatalf("phase %s did not start within %s", name, within)
		}
	}
}
