package redressslog_test

import (
	"context"
	"errors"
	"log/slog"
	"os"

	"github.com/redress-go/redress/core"
	"github.com/redress-go/redress/core/coretest"
	redressslog "github.com/redress-go/redress/instrument/slog"
)

// dropTime removes the time so that the output is deterministic.
func dropTime(_ []string, a slog.Attr) slog.Attr {
	if a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}

func Example() {
	sub, err := redressslog.New(redressslog.Config{
		Handler: slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{ReplaceAttr: dropTime}),
		Events:  core.EventsOf(core.EventRetry, core.EventSuccess, core.EventPermanentFail),
		Levels:  map[core.EventKind]slog.Level{core.EventSuccess: slog.LevelInfo},
	})
	if err != nil {
		panic(err)
	}
	clock := coretest.NewFakeClock(coretest.StartTime) // durations of 0s
	policy, _ := core.NewPolicy(core.PolicyConfig{
		Name: "inventory", Bus: core.NewBus(sub),
		Retry: core.RetryConfig{Strategy: coretest.Delays(0)},
		Clock: clock, Sleeper: clock,
	})
	ctx := context.Background()
	_ = policy.Run(ctx, coretest.FailTimes(1, core.Transient(errors.New("connection reset"))).Op())
	_ = policy.Run(ctx, func(context.Context) error { return &core.StatusError{Code: 404} })
	// Output:
	// level=WARN msg="redress retry" redress.event=retry redress.policy=inventory redress.operation=inventory redress.attempts=1 error.type=transient redress.reason=marked_transient error="connection reset" redress.retry.delay=0s
	// level=INFO msg="redress success" redress.event=success redress.policy=inventory redress.operation=inventory redress.attempts=2 redress.outcome=success_after_retry redress.operation.duration=0s
	// level=ERROR msg="redress permanent_fail" redress.event=permanent_fail redress.policy=inventory redress.operation=inventory redress.attempts=1 error.type=permanent redress.reason=status_404 error="redress: stopped (non_retryable_class) after 1 attempt: status 404" redress.outcome=failure redress.operation.duration=0s redress.stop_reason=non_retryable_class
}
