// Package observed tracks the circuit breakers and retry budgets whose state
// the OTel and Prometheus subscribers read at collection time, and folds
// those that share a label set into one well-defined value.
//
// Breakers and budgets are tracked by identity (pointer), under the policy
// name they were seen or declared with, so that two distinct budgets of two
// policies both named "http" are both tracked instead of one replacing the
// other. Several of them can still map to the same label set (policy; or
// policy and breaker name); Snapshot then returns one value for that set:
// the highest budget utilization, and the worst breaker state (open, then
// half_open, then closed). No label set is ever reported twice.
//
// Breakers and budgets only seen in events are held weakly: once the
// program no longer references one (a policy built on the fly and dropped),
// it drops out at the next Snapshot, so the set does not grow without
// bound. Declared ones are held, as a registry holds a collector: the
// caller asked for their series.
//
// A Set is safe for concurrent use; its zero value is empty and ready.
package observed

import (
	"cmp"
	"slices"
	"sync"
	"weak"

	"github.com/redress-go/redress/core"
)

// Set is the set of observed breakers and budgets. The zero value is empty.
type Set struct {
	mu       sync.Mutex
	breakers map[brkKey]*core.Breaker // the value holds declared ones
	budgets  map[budKey]*core.Budget
}

type brkKey struct {
	policy string
	b      weak.Pointer[core.Breaker]
}

type budKey struct {
	policy string
	b      weak.Pointer[core.Budget]
}

// AddBreaker adds b under policy, held weakly; adding it again is a no-op.
// A nil b is ignored. It does not allocate when b is already there.
func (s *Set) AddBreaker(policy string, b *core.Breaker) { s.addBreaker(policy, b, false) }

// DeclareBreaker is AddBreaker, but b is held until the Set is dropped.
func (s *Set) DeclareBreaker(policy string, b *core.Breaker) { s.addBreaker(policy, b, true) }

// AddBudget adds b under policy, held weakly; adding it again is a no-op. A
// nil b is ignored. It does not allocate when b is already there.
func (s *Set) AddBudget(policy string, b *core.Budget) { s.addBudget(policy, b, false) }

// DeclareBudget is AddBudget, but b is held until the Set is dropped.
func (s *Set) DeclareBudget(policy string, b *core.Budget) { s.addBudget(policy, b, true) }

func (s *Set) addBreaker(policy string, b *core.Breaker, hold bool) {
	if b == nil {
		return
	}
	k := brkKey{policy, weak.Make(b)}
	s.mu.Lock()
	if held, ok := s.breakers[k]; !ok || (hold && held == nil) {
		if s.breakers == nil {
			s.breakers = map[brkKey]*core.Breaker{}
		}
		if !hold {
			b = nil
		}
		s.breakers[k] = b
	}
	s.mu.Unlock()
}

func (s *Set) addBudget(policy string, b *core.Budget, hold bool) {
	if b == nil {
		return
	}
	k := budKey{policy, weak.Make(b)}
	s.mu.Lock()
	if held, ok := s.budgets[k]; !ok || (hold && held == nil) {
		if s.budgets == nil {
			s.budgets = map[budKey]*core.Budget{}
		}
		if !hold {
			b = nil
		}
		s.budgets[k] = b
	}
	s.mu.Unlock()
}

// BreakerState is the state reported for one (policy, breaker name).
type BreakerState struct {
	Policy, Name string
	State        core.BreakerState
	// N is the number of distinct breakers folded into State.
	N int
}

// BudgetUtilization is the utilization reported for one policy.
type BudgetUtilization struct {
	Policy      string
	Utilization float64
	// N is the number of distinct budgets folded into Utilization.
	N int
}

// Severity ranks breaker states for folding: closed 0, half_open 1, open 2.
func Severity(s core.BreakerState) int {
	switch s {
	case core.StateOpen:
		return 2
	case core.StateHalfOpen:
		return 1
	}
	return 0
}

// Snapshot reads every tracked breaker's state and budget's utilization and
// returns one entry per label set, sorted by labels: the worst state of the
// breakers that share a (policy, name), the highest utilization of the
// budgets that share a policy. Undeclared breakers and budgets no longer
// referenced by the program are dropped. The breakers and budgets are read outside the
// set's lock.
func (s *Set) Snapshot() ([]BreakerState, []BudgetUtilization) {
	type brk struct {
		policy string
		b      *core.Breaker
	}
	type bud struct {
		policy string
		b      *core.Budget
	}
	s.mu.Lock()
	brks := make([]brk, 0, len(s.breakers))
	for k := range s.breakers {
		if b := k.b.Value(); b != nil {
			brks = append(brks, brk{k.policy, b})
		} else {
			delete(s.breakers, k)
		}
	}
	buds := make([]bud, 0, len(s.budgets))
	for k := range s.budgets {
		if b := k.b.Value(); b != nil {
			buds = append(buds, bud{k.policy, b})
		} else {
			delete(s.budgets, k)
		}
	}
	s.mu.Unlock()

	states := make(map[[2]string]*BreakerState, len(brks))
	var bs []BreakerState
	for _, x := range brks {
		k := [2]string{x.policy, x.b.Name()}
		st := x.b.State()
		if cur, ok := states[k]; ok {
			if Severity(st) > Severity(cur.State) {
				cur.State = st
			}
			cur.N++
			continue
		}
		states[k] = &BreakerState{Policy: k[0], Name: k[1], State: st, N: 1}
	}
	for _, v := range states {
		bs = append(bs, *v)
	}
	slices.SortFunc(bs, func(a, b BreakerState) int {
		return cmp.Or(cmp.Compare(a.Policy, b.Policy), cmp.Compare(a.Name, b.Name))
	})

	utils := make(map[string]*BudgetUtilization, len(buds))
	var us []BudgetUtilization
	for _, x := range buds {
		u := x.b.Utilization()
		if cur, ok := utils[x.policy]; ok {
			cur.Utilization = max(cur.Utilization, u)
			cur.N++
			continue
		}
		utils[x.policy] = &BudgetUtilization{Policy: x.policy, Utilization: u, N: 1}
	}
	for _, v := range utils {
		us = append(us, *v)
	}
	slices.SortFunc(us, func(a, b BudgetUtilization) int { return cmp.Compare(a.Policy, b.Policy) })
	return bs, us
}
