package core

import (
	"context"
	"time"
)

// Clock tells the time. Inject a fake one (coretest.FakeClock) in tests.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
}

// Sleeper waits. Sleep returns early with ctx's error when ctx is done.
type Sleeper interface {
	// Sleep waits for d; it returns ctx's error if ctx is done first.
	Sleep(ctx context.Context, d time.Duration) error
}

// SystemClock is the real clock: time.Now.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// TimerSleeper sleeps on a real timer, and wakes when the context is done.
type TimerSleeper struct{}

// Sleep waits for d or until ctx is done.
func (TimerSleeper) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
