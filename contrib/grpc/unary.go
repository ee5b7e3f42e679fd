package redressgrpc

import (
	"context"

	"github.com/redress-go/redress/core"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// Unary returns the unary client interceptor. Each call runs under its
// policy: every attempt goes through the rest of the chain and the
// transport again, with grpc-previous-rpc-attempts set on retries; the
// reply message is filled by the attempt that succeeded.
func (ic *Interceptors) Unary() grpc.UnaryClientInterceptor {
	return ic.unary
}

func (ic *Interceptors) unary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	o := parseCallOpts(opts)
	p := ic.policyFor(method, &o)
	if p == nil {
		return invoker(ctx, method, req, reply, cc, opts...)
	}
	r := &run{}
	ectx := r.start(ctx, ic, p, method, cc, &o)
	aopts := make([]grpc.CallOption, len(opts)+1)
	copy(aopts, opts)
	var trailer metadata.MD
	aopts[len(opts)] = grpc.Trailer(&trailer)
	_, err := core.DoCall(ectx, p, &r.call, func(actx context.Context) (struct{}, error) {
		trailer = nil
		err := invoker(r.attemptContext(actx), method, req, reply, cc, aopts...)
		if err == nil {
			r.call.Labels.RPCStatusCode = "OK"
			return struct{}{}, nil
		}
		return struct{}{}, r.failed(err, trailer)
	})
	return r.finish(err)
}
