// Package grpcbench compares the per-call overhead of redress's gRPC client
// interceptors with no interceptor, grpc-go's built-in retry (service
// config) and go-grpc-middleware's retry interceptor, on the success path
// of a unary call to a real server on loopback TCP.
//
//	cd bench && go test -run '^$' -bench Unary -benchmem -count 10 ./grpc | go run ./cmd/benchratio
package grpcbench
