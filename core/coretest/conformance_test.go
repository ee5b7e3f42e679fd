package coretest_test

import (
	"context"
	"testing"

	"github.com/redress-go/redress/core"
	"github.com/redress-go/redress/core/coretest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRecorderConforms(t *testing.T) {
	coretest.TestSubscriber(t, func(*testing.T) core.Subscriber { return &coretest.Recorder{} })
}

func TestAsyncRecorderConforms(t *testing.T) {
	coretest.TestSubscriber(t, func(t *testing.T) core.Subscriber {
		a, err := core.NewAsync(&coretest.Recorder{}, core.AsyncConfig{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = a.Close(context.Background()) })
		return a
	})
}

type ctxKey struct{}

// decorating is a ContextDecorator that records what it sees.
type decorating struct{ coretest.Recorder }

func (d *decorating) Decorate(ctx context.Context, e core.Event) context.Context {
	d.Handle(ctx, e)
	return context.WithValue(ctx, ctxKey{}, e.Kind)
}

func TestDecoratorConforms(t *testing.T) {
	coretest.TestSubscriber(t, func(*testing.T) core.Subscriber { return &decorating{} })
}

func TestFaultInjectors(t *testing.T) {
	f := coretest.FailTimes(2, nil)
	op := f.Op()
	got := []bool{op(context.Background()) != nil, op(context.Background()) != nil, op(context.Background()) != nil}
	if got[0] != true || got[1] != true || got[2] != false || f.Calls() != 3 {
		t.Errorf("FailTimes(2): %v after %d calls", got, f.Calls())
	}
	p := coretest.FailWithProbability(0.5, nil, 1)
	fails := 0
	for range 1000 {
		if p.Err() != nil {
			fails++
		}
	}
	if fails < 400 || fails > 600 {
		t.Errorf("FailWithProbability(0.5): %d of 1000 failed", fails)
	}
	s := coretest.FailClasses(core.ClassAuth, core.ClassTransient)
	if c := core.DefaultClassifier(s.Err()).Class; c != core.ClassAuth {
		t.Errorf("first class = %v", c)
	}
	if c := core.DefaultClassifier(s.Err()).Class; c != core.ClassTransient {
		t.Errorf("second class = %v", c)
	}
	if s.Err() != nil {
		t.Error("third call should succeed")
	}
}

func TestPassThroughNeverRetries(t *testing.T) {
	f := coretest.FailTimes(5, coretest.ClassErr(core.ClassTransient))
	if err := coretest.PassThrough().Run(context.Background(), f.Op()); err == nil || f.Calls() != 1 {
		t.Errorf("err=%v calls=%d", err, f.Calls())
	}
}
