package core

import "context"

type operationKey struct{}

// ContextWithOperation returns a copy of ctx whose calls made through a
// redress wrapper (redresshttp, redressgrpc, redresssql) are labelled with
// the operation name op ("GetUser") instead of the name the wrapper derives
// (the request's method and host, the gRPC method, the SQL statement). op
// must be low-cardinality: never a URL, SQL text or an argument. An empty
// op means the wrapper's default.
func ContextWithOperation(ctx context.Context, op string) context.Context {
	return context.WithValue(ctx, operationKey{}, op)
}

// OperationFromContext returns the operation name set by
// ContextWithOperation, or "".
func OperationFromContext(ctx context.Context) string {
	op, _ := ctx.Value(operationKey{}).(string)
	return op
}
