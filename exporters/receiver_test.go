package redressexport_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"testing"

	collmetrics "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	colltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
)

// receiver is a real OTLP receiver on loopback: the collector's gRPC trace
// and metrics services, and the OTLP/HTTP protobuf endpoints.
type receiver struct {
	colltrace.UnimplementedTraceServiceServer
	collmetrics.UnimplementedMetricsServiceServer

	mu      sync.Mutex
	spans   []*tracepb.ResourceSpans
	metrics []*metricspb.ResourceMetrics
}

func (r *receiver) Export(_ context.Context, req *colltrace.ExportTraceServiceRequest) (*colltrace.ExportTraceServiceResponse, error) {
	r.mu.Lock()
	r.spans = append(r.spans, req.GetResourceSpans()...)
	r.mu.Unlock()
	return &colltrace.ExportTraceServiceResponse{}, nil
}

// metricsService adapts the receiver to the metrics service (both services
// name their method Export).
type metricsService struct {
	collmetrics.UnimplementedMetricsServiceServer
	r *receiver
}

func (m metricsService) Export(_ context.Context, req *collmetrics.ExportMetricsServiceRequest) (*collmetrics.ExportMetricsServiceResponse, error) {
	m.r.mu.Lock()
	m.r.metrics = append(m.r.metrics, req.GetResourceMetrics()...)
	m.r.mu.Unlock()
	return &collmetrics.ExportMetricsServiceResponse{}, nil
}

// startGRPC serves the receiver over gRPC and returns its address.
func (r *receiver) startGRPC(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return r.serveGRPC(t, lis)
}

// serveGRPC serves the receiver over gRPC (plain text) on lis.
func (r *receiver) serveGRPC(t *testing.T, lis net.Listener) string {
	t.Helper()
	srv := grpc.NewServer()
	colltrace.RegisterTraceServiceServer(srv, r)
	collmetrics.RegisterMetricsServiceServer(srv, metricsService{r: r})
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(lis) }()
	t.Cleanup(func() { srv.Stop(); <-done })
	return lis.Addr().String()
}

// startHTTP serves the receiver over OTLP/HTTP (protobuf) and returns its address.
func (r *receiver) startHTTP(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return r.serveHTTP(t, lis)
}

// serveHTTP serves the receiver over plain OTLP/HTTP (protobuf) on lis.
func (r *receiver) serveHTTP(t *testing.T, lis net.Listener) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/traces", func(w http.ResponseWriter, req *http.Request) {
		var in colltrace.ExportTraceServiceRequest
		if !decode(w, req, &in) {
			return
		}
		_, _ = r.Export(req.Context(), &in)
		reply(w, &colltrace.ExportTraceServiceResponse{})
	})
	mux.HandleFunc("POST /v1/metrics", func(w http.ResponseWriter, req *http.Request) {
		var in collmetrics.ExportMetricsServiceRequest
		if !decode(w, req, &in) {
			return
		}
		_, _ = metricsService{r: r}.Export(req.Context(), &in)
		reply(w, &collmetrics.ExportMetricsServiceResponse{})
	})
	srv := &http.Server{Handler: mux}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(lis) }()
	t.Cleanup(func() { _ = srv.Close(); <-done })
	return lis.Addr().String()
}

func decode(w http.ResponseWriter, req *http.Request, m proto.Message) bool {
	b, err := io.ReadAll(req.Body)
	if err == nil {
		err = proto.Unmarshal(b, m)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return false
	}
	return true
}

func reply(w http.ResponseWriter, m proto.Message) {
	b, _ := proto.Marshal(m)
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(b)
}

func attr(kvs []*commonpb.KeyValue, key string) string {
	for _, kv := range kvs {
		if kv.GetKey() == key {
			v := kv.GetValue()
			if iv, ok := v.GetValue().(*commonpb.AnyValue_IntValue); ok {
				return strconv.FormatInt(iv.IntValue, 10)
			}
			return v.GetStringValue()
		}
	}
	return ""
}
