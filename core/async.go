package core

import (
	"context"
	"sync"
	"sync/atomic"
)

// AsyncConfig configures NewAsync. The zero value is all defaults.
type AsyncConfig struct {
	// QueueSize is the number of events held while the subscriber catches
	// up. Default 1024. Must not be negative.
	QueueSize int
	// OnDrop, if set, is called (on the publishing goroutine, so it must be
	// quick) for each event dropped because the queue was full or the
	// adapter closed.
	OnDrop func(e Event)
}

// AsyncSubscriber delivers events to a slow subscriber on a goroutine of its
// own, through a bounded queue. When the queue is full it drops the event and
// counts it instead of blocking the call. Context decoration is not
// forwarded (it cannot be asynchronous).
type AsyncSubscriber struct {
	sub     Subscriber
	q       chan asyncItem
	quit    chan struct{}
	done    chan struct{}
	mu      sync.RWMutex // Handle holds it shared; Close takes it to mark closed
	closed  bool
	once    sync.Once
	dropped atomic.Uint64
	onDrop  func(Event)
	panics  atomic.Uint64
}

type asyncItem struct {
	ctx context.Context
	e   Event
}

// NewAsync starts the goroutine that feeds sub. Call Close to stop it.
func NewAsync(sub Subscriber, cfg AsyncConfig) (*AsyncSubscriber, error) {
	if sub == nil {
		return nil, cfgErr("sub", "must not be nil")
	}
	if cfg.QueueSize < 0 {
		return nil, cfgErr("AsyncConfig.QueueSize", "must not be negative")
	}
	if cfg.QueueSize == 0 {
		cfg.QueueSize = 1024
	}
	a := &AsyncSubscriber{
		sub:    sub,
		q:      make(chan asyncItem, cfg.QueueSize),
		quit:   make(chan struct{}),
		done:   make(chan struct{}),
		onDrop: cfg.OnDrop,
	}
	go a.run()
	return a, nil
}

// Events returns the wrapped subscriber's set.
func (a *AsyncSubscriber) Events() EventSet { return a.sub.Events() }

// DurationFree implements DurationFree for the wrapped subscriber.
func (a *AsyncSubscriber) DurationFree() bool {
	df, ok := a.sub.(DurationFree)
	return ok && df.DurationFree()
}

// Handle queues e, or drops it if the queue is full or the adapter closed.
func (a *AsyncSubscriber) Handle(ctx context.Context, e Event) {
	a.mu.RLock()
	if !a.closed {
		select {
		case a.q <- asyncItem{ctx, e}:
			a.mu.RUnlock()
			return
		default:
		}
	}
	a.mu.RUnlock()
	a.dropped.Add(1)
	if a.onDrop != nil {
		a.onDrop(e)
	}
}

// Dropped returns the number of events dropped so far.
func (a *AsyncSubscriber) Dropped() uint64 { return a.dropped.Load() }

// Panics returns the number of panics recovered from the wrapped subscriber.
func (a *AsyncSubscriber) Panics() uint64 { return a.panics.Load() }

// Close stops accepting events, delivers those already queued, and waits for
// the goroutine to end or ctx to be done. It is safe to call more than once.
func (a *AsyncSubscriber) Close(ctx context.Context) error {
	a.once.Do(func() {
		// Once closed is set under the lock, no Handle can queue anything:
		// every event queued before is delivered by the drain in run.
		a.mu.Lock()
		a.closed = true
		a.mu.Unlock()
		close(a.quit)
	})
	select {
	case <-a.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (a *AsyncSubscriber) run() {
	defer close(a.done)
	for {
		select {
		case it := <-a.q:
			a.deliver(it)
		case <-a.quit:
			for {
				select {
				case it := <-a.q:
					a.deliver(it)
				default:
					return
				}
			}
		}
	}
}

func (a *AsyncSubscriber) deliver(it asyncItem) {
	defer func() {
		if v := recover(); v != nil {
			a.panics.Add(1)
		}
	}()
	a.sub.Handle(it.ctx, it.e)
}
