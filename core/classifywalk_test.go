package core_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/redress-go/redress/core"
)

// refTyped is the classifiers' typed rules as they were before the single walk: the rules both classifiers share: self-classifying errors,
// then status-code-bearing errors. ok is false when neither applies.
// errors.AsType (unlike errors.As with a pointer target) does not allocate.
func refTyped(err error) (core.Classification, bool) {
	if ce, ok := errors.AsType[core.Classified](err); ok {
		return ce.RedressClassification(), true
	}
	if sc, ok := errors.AsType[interface {
		error
		core.StatusCoder
	}](err); ok {
		if c, ok := core.ClassifyStatus(sc.StatusCode()); ok {
			if ra, ok := errors.AsType[interface {
				error
				core.RetryAfterer
			}](err); ok {
				c.RetryAfter = ra.RetryAfter()
			}
			return c, true
		}
	}
	return core.Classification{}, false
}

func refDefaultClassifier(err error) core.Classification {
	if c, ok := refTyped(err); ok {
		return c
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return core.Classification{Class: core.ClassTransient, Reason: "timeout"}
	case errors.Is(err, context.Canceled):
		return core.Classification{Class: core.ClassTransient, Reason: "canceled"}
	case errors.Is(err, syscall.ECONNREFUSED):
		return core.Classification{Class: core.ClassTransient, Reason: "connection_refused"}
	case errors.Is(err, syscall.ECONNRESET):
		return core.Classification{Class: core.ClassTransient, Reason: "connection_reset"}
	case errors.Is(err, syscall.ECONNABORTED):
		return core.Classification{Class: core.ClassTransient, Reason: "connection_aborted"}
	case errors.Is(err, syscall.EPIPE):
		return core.Classification{Class: core.ClassTransient, Reason: "broken_pipe"}
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return core.Classification{Class: core.ClassTransient, Reason: "unexpected_eof"}
	}
	if dns, ok := errors.AsType[*net.DNSError](err); ok {
		if dns.IsNotFound {
			return core.Classification{Class: core.ClassPermanent, Reason: "dns_not_found"}
		}
		return core.Classification{Class: core.ClassTransient, Reason: "dns"}
	}
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		return core.Classification{Class: core.ClassTransient, Reason: "timeout"}
	}
	if _, ok := errors.AsType[*net.OpError](err); ok {
		return core.Classification{Class: core.ClassTransient, Reason: "network"}
	}
	return core.Classification{Class: core.ClassUnknown}
}

func refStrictClassifier(err error) core.Classification {
	if c, ok := refTyped(err); ok {
		return c
	}
	return core.Classification{Class: core.ClassUnknown}
}

// isErr matches a target through an Is method only.
type isErr struct{ target error }

func (e isErr) Error() string        { return "is " + fmt.Sprint(e.target) }
func (e isErr) Is(target error) bool { return target == e.target }

// asErr answers errors.As for one error through an As method only.
type asErr struct{ as error }

func (e asErr) Error() string { return "as" }
func (e asErr) As(target any) bool {
	switch t := target.(type) {
	case *core.Classified:
		if c, ok := e.as.(core.Classified); ok {
			*t = c
			return true
		}
	case **net.DNSError:
		if c, ok := e.as.(*net.DNSError); ok {
			*t = c
			return true
		}
	case *net.Error:
		if c, ok := e.as.(net.Error); ok {
			*t = c
			return true
		}
	}
	return false
}

type netTimeoutErr struct{ timeout bool }

func (e netTimeoutErr) Error() string   { return "net" }
func (e netTimeoutErr) Timeout() bool   { return e.timeout }
func (e netTimeoutErr) Temporary() bool { return false }

// randomError builds an error tree of depth at most d from the leaves
// and wrappers the classifiers care about.
func randomError(r *rand.Rand, d int) error {
	leaves := []func() error{
		func() error { return errors.New("plain") },
		func() error { return context.DeadlineExceeded },
		func() error { return context.Canceled },
		func() error { return syscall.ECONNREFUSED },
		func() error { return syscall.ECONNRESET },
		func() error { return syscall.ECONNABORTED },
		func() error { return syscall.EPIPE },
		func() error { return syscall.ETIMEDOUT },
		func() error { return io.EOF },
		func() error { return io.ErrUnexpectedEOF },
		func() error { return os.ErrDeadlineExceeded },
		func() error { return &net.DNSError{IsNotFound: r.IntN(2) == 0} },
		func() error { return netTimeoutErr{timeout: r.IntN(2) == 0} },
		func() error {
			return &core.StatusError{Code: []int{200, 404, 429, 500, 503}[r.IntN(5)], Hint: time.Duration(r.IntN(3)) * time.Second}
		},
		func() error { return core.Permanent(errors.New("marked")) },
		func() error { return core.RateLimited(errors.New("slow"), time.Second) },
	}
	if d == 0 || r.IntN(3) == 0 {
		return leaves[r.IntN(len(leaves))]()
	}
	switch r.IntN(6) {
	case 0:
		return fmt.Errorf("wrap: %w", randomError(r, d-1))
	case 1:
		return errors.Join(randomError(r, d-1), randomError(r, d-1))
	case 2:
		return &net.OpError{Op: "dial", Err: randomError(r, d-1)}
	case 3:
		return isErr{target: randomError(r, 0)}
	case 4:
		return asErr{as: randomError(r, d-1)}
	default:
		return fmt.Errorf("two: %w, %w", randomError(r, d-1), randomError(r, d-1))
	}
}

// The single-walk classifiers agree with the errors.Is / errors.As rules
// they replace on random error trees: sentinels, Is and As methods, joins,
// typed interfaces and markers, in every order of precedence.
func TestClassifiersMatchTheirRules(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 200000 {
		err := randomError(r, 4)
		if got, want := core.DefaultClassifier(err), refDefaultClassifier(err); got != want {
			t.Fatalf("#%d DefaultClassifier(%v) = %+v, the rules say %+v", i, err, got, want)
		}
		if got, want := core.StrictClassifier(err), refStrictClassifier(err); got != want {
			t.Fatalf("#%d StrictClassifier(%v) = %+v, the rules say %+v", i, err, got, want)
		}
	}
}

// A plain error is classified without allocating.
func TestDefaultClassifierDoesNotAllocate(t *testing.T) {
	err := fmt.Errorf("wrapped: %w", errors.New("plain"))
	if n := testing.AllocsPerRun(100, func() { core.DefaultClassifier(err) }); n != 0 {
		t.Fatalf("%v allocations per classification, want 0", n)
	}
}

func BenchmarkDefaultClassifier(b *testing.B) {
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"plain", errors.New("plain")},
		{"wrapped_reset", fmt.Errorf("read: %w", &net.OpError{Op: "read", Err: syscall.ECONNRESET})},
		{"status", &core.StatusError{Code: 503}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				core.DefaultClassifier(tc.err)
			}
		})
		b.Run(tc.name+"/rules", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				refDefaultClassifier(tc.err)
			}
		})
	}
}
