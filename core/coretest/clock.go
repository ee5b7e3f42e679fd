package coretest

import (
	"context"
	"sync"
	"time"
)

// FakeClock is a core.Clock and core.Sleeper whose time moves only when told
// to, or when something sleeps on it: Sleep returns at once after advancing
// the clock by the delay and recording it. It is safe for concurrent use.
// The zero value starts at the Unix epoch; NewFakeClock picks a start.
type FakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

// NewFakeClock returns a clock set to start.
func NewFakeClock(start time.Time) *FakeClock { return &FakeClock{now: start} }

// Now returns the fake time.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.now.IsZero() {
		c.now = time.Unix(0, 0)
	}
	return c.now
}

// Advance moves the clock forward by d.
func (c *FakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	if c.now.IsZero() {
		c.now = time.Unix(0, 0)
	}
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// Sleep records d, advances the clock by d and returns at once (or with
// ctx's error if ctx is already done).
func (c *FakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	c.sleeps = append(c.sleeps, d)
	c.mu.Unlock()
	c.Advance(d)
	return nil
}

// Sleeps returns a copy of every delay slept so far.
func (c *FakeClock) Sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.sleeps...)
}

// InstantSleeper is a core.Sleeper that never waits.
type InstantSleeper struct{}

// Sleep returns ctx.Err() at once.
func (InstantSleeper) Sleep(ctx context.Context, _ time.Duration) error { return ctx.Err() }
