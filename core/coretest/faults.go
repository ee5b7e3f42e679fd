package coretest

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redress-go/redress/core"
)

// ErrInjected is the error the fault injectors fail with unless told
// otherwise.
var ErrInjected = errors.New("coretest: injected fault")

// ClassErr returns an error of the given class (wrapping ErrInjected).
func ClassErr(c core.Class) error {
	return core.Classify(ErrInjected, core.Classification{Class: c, Reason: "injected_" + c.String()})
}

// RateLimitErr returns a rate-limit error with a retry hint.
func RateLimitErr(hint time.Duration) error { return core.RateLimited(ErrInjected, hint) }

// Faults injects failures into an operation. It is safe for concurrent use.
// Calls counts every call, failed or not.
type Faults struct {
	calls atomic.Int64
	next  func(n int64) error
}

// Calls returns how many times the operation ran.
func (f *Faults) Calls() int { return int(f.calls.Load()) }

// Op returns the faulty operation: it fails as configured, else returns nil.
func (f *Faults) Op() func(context.Context) error {
	return func(ctx context.Context) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		return f.next(f.calls.Add(1))
	}
}

// Err returns the error the n-th call (1-based) gets, as Op would.
func (f *Faults) Err() error { return f.next(f.calls.Add(1)) }

// FailTimes fails the first n calls with err (ErrInjected if nil), then
// succeeds.
func FailTimes(n int, err error) *Faults {
	if err == nil {
		err = ErrInjected
	}
	return &Faults{next: func(i int64) error {
		if i <= int64(n) {
			return err
		}
		return nil
	}}
}

// FailWithProbability fails each call with probability p, with err
// (ErrInjected if nil), from a generator seeded with seed (deterministic
// for one goroutine).
func FailWithProbability(p float64, err error, seed uint64) *Faults {
	if err == nil {
		err = ErrInjected
	}
	var mu sync.Mutex
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	return &Faults{next: func(int64) error {
		mu.Lock()
		x := r.Float64()
		mu.Unlock()
		if x < p {
			return err
		}
		return nil
	}}
}

// Schedule fails call i (1-based) with errs[i-1]; a nil entry, or a call past
// the end, succeeds.
func Schedule(errs ...error) *Faults {
	return &Faults{next: func(i int64) error {
		if i <= int64(len(errs)) {
			return errs[i-1]
		}
		return nil
	}}
}

// FailClasses fails the calls with errors of the given classes in order,
// then succeeds.
func FailClasses(classes ...core.Class) *Faults {
	errs := make([]error, len(classes))
	for i, c := range classes {
		errs[i] = ClassErr(c)
	}
	return Schedule(errs...)
}

// StartTime is the time NewRecordingPolicy's fake clock starts at.
var StartTime = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
