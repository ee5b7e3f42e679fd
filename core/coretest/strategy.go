package coretest

import (
	"sync"
	"time"

	"github.com/redress-go/redress/core"
)

// Scripted is a deterministic core.Strategy: it returns its delays in order,
// then repeats the last one (zero if none). It is safe for concurrent use,
// but the order is then the order of the calls.
type Scripted struct {
	mu     sync.Mutex
	delays []time.Duration
	i      int
	inputs []core.BackoffInput
}

// Delays returns a Scripted strategy.
func Delays(d ...time.Duration) *Scripted { return &Scripted{delays: d} }

// Backoff implements core.Strategy.
func (s *Scripted) Backoff(in core.BackoffInput) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inputs = append(s.inputs, in)
	if len(s.delays) == 0 {
		return 0
	}
	d := s.delays[min(s.i, len(s.delays)-1)]
	s.i++
	return d
}

// Inputs returns what the strategy was asked, in order.
func (s *Scripted) Inputs() []core.BackoffInput {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]core.BackoffInput(nil), s.inputs...)
}

// NoDelay is a strategy that always retries at once.
var NoDelay core.Strategy = core.Constant(0)
