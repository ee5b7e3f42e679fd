package redressgrpc

import (
	"context"

	"github.com/redress-go/redress/core"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// AttemptMetadataKey is the request metadata the interceptors send on the
// first attempt of a call they may retry, while its target is failing: it
// tells the server that its caller retries this call. Retries carry the
// standard grpc-previous-rpc-attempts (PreviousAttemptsKey) instead, which
// says the same.
const AttemptMetadataKey = "redress-attempt"

// UnaryServerInterceptor returns a server interceptor that serves a call
// whose caller retries it (its metadata carries AttemptMetadataKey or
// grpc-previous-rpc-attempts) on a context marked with
// core.WithCallerRetries: the redress policies used while serving it do
// not retry their own failures (core.StopCallerRetries), so a chain of
// services retries at one layer.
func UnaryServerInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		return handler(markCallerRetries(ctx), req)
	}
}

// StreamServerInterceptor is UnaryServerInterceptor for streams.
func StreamServerInterceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx := ss.Context()
		if m := markCallerRetries(ctx); m != ctx {
			ss = &markedStream{ServerStream: ss, ctx: m}
		}
		return handler(srv, ss)
	}
}

// markedStream is a server stream with a marked context.
type markedStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *markedStream) Context() context.Context { return s.ctx }

// markCallerRetries returns ctx marked with core.WithCallerRetries when
// the call's metadata says its caller retries it, else ctx itself.
func markCallerRetries(ctx context.Context) context.Context {
	md, ok := metadata.FromIncomingContext(ctx)
	if !ok {
		return ctx
	}
	if len(md.Get(AttemptMetadataKey)) > 0 || len(md.Get(PreviousAttemptsKey)) > 0 {
		return core.WithCallerRetries(ctx)
	}
	return ctx
}
