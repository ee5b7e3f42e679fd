package redressgrpc

import (
	"context"
	"errors"

	"github.com/redress-go/redress/core"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// callError is what the interceptors return when redress stopped a call
// without success. Its gRPC status (status.Code, status.FromError) is the
// last attempt's status, unchanged, or one that says why no attempt
// reached the server (UNAVAILABLE for a breaker rejection, CANCELLED or
// DEADLINE_EXCEEDED for the caller's context); errors.Is and errors.As
// reach the engine's *core.RetryError or *core.CircuitOpenError and,
// through them, the last attempt's error.
type callError struct {
	err error
	st  *status.Status
}

func (e *callError) Error() string { return e.err.Error() }

func (e *callError) Unwrap() error { return e.err }

// GRPCStatus makes status.FromError and status.Code see the status.
func (e *callError) GRPCStatus() *status.Status { return e.st }

// newCallError wraps the engine's error err; caller is the caller's
// context.
func newCallError(err error, caller context.Context) error {
	ce := &callError{err: err}
	var re *core.RetryError
	var co *core.CircuitOpenError
	switch {
	case errors.As(err, &re) && re.Err != nil:
		if st, ok := statusOf(re.Err); ok {
			ce.st = st
		} else {
			ce.st = status.New(codes.Unknown, re.Err.Error())
		}
	case errors.As(err, &co):
		ce.st = status.New(codes.Unavailable, err.Error())
	case caller.Err() != nil:
		ce.st = status.FromContextError(caller.Err())
	case errors.As(err, &re) && re.Reason == core.StopDeadline:
		ce.st = status.New(codes.DeadlineExceeded, err.Error())
	default:
		ce.st = status.New(codes.Unknown, err.Error())
	}
	return ce
}
