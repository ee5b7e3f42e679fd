package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	redressgrpc "github.com/redress-go/redress/contrib/grpc"
	redresshttp "github.com/redress-go/redress/contrib/nethttp"
	"github.com/redress-go/redress/core"
)

// client makes one call to an upstream.
type client interface {
	call(ctx context.Context, i int)
}

// upstreams are the running upstreams and their redress-wrapped clients.
type upstreams struct {
	names   []string
	clients []client
	budgets []budgetRef
	closers []func()
	// chaos injects faults into the catalog client's attempts, on the
	// client's side, during the degraded phase (chaosPhase).
	chaos *core.FaultInjector
}

// chaosPhase is the phase during which the fault injector is on: it adds
// latency to a tenth of the catalog's attempts, client-side, beside the
// upstream's own faults (docs/faults.md).
const chaosPhase = "degraded"

// chaosRules are the demo's injected faults.
var chaosRules = []core.FaultRule{{Rate: 0.1, Latency: 30 * time.Millisecond}}

func (u *upstreams) close() {
	for i := len(u.closers) - 1; i >= 0; i-- {
		u.closers[i]()
	}
}

// breakerTemplate scales a wrapper's default breaker to the schedule, so
// that a breaker opens, probes and closes within a short demo's phases.
func breakerTemplate(name string, base core.BreakerConfig, s schedule) *core.BreakerConfig {
	short := s.shortest()
	base.Name = name
	base.Window = min(base.Window, max(short, time.Second))
	base.RecoveryTimeout = min(base.RecoveryTimeout, max(short/3, 250*time.Millisecond))
	return &base
}

// demoBudget is a retry budget tighter than the wrappers' defaults (a floor
// of 2 retries per second instead of 10), so that the demo's small traffic
// shows it at work: retries may add 10% to the recent traffic.
func demoBudget(s schedule) (*core.Budget, error) {
	return core.NewBudget(core.BudgetConfig{Ratio: 0.1, MinRetriesPerSecond: 2, Window: min(10*time.Second, max(s.shortest(), time.Second))})
}

// callTimeout bounds each logical call of the demo's clients.
const callTimeout = 3 * time.Second

func startUpstreams(ctx context.Context, cur *current, bus *core.Bus, s schedule) (*upstreams, error) {
	u := &upstreams{}
	var err error
	if u.chaos, err = core.NewFaultInjector(core.FaultConfig{Rules: chaosRules}); err != nil {
		return nil, err
	}
	if err := u.startHTTP(cur, bus, s); err != nil {
		u.close()
		return nil, err
	}
	if err := u.startGRPC(cur, bus, s); err != nil {
		u.close()
		return nil, err
	}
	if err := u.startSQLite(cur, bus, s); err != nil {
		u.close()
		return nil, err
	}
	return u, nil
}

// --- HTTP: the catalog service through redresshttp ---

type httpClient struct {
	c    *http.Client
	base string
}

func (u *upstreams) startHTTP(cur *current, bus *core.Bus, s schedule) error {
	l, err := listenLoopback()
	if err != nil {
		return err
	}
	srv := newHTTPUpstream(cur)
	var wg sync.WaitGroup
	wg.Go(func() { _ = srv.Serve(l) })
	u.closers = append(u.closers, func() { _ = srv.Close(); wg.Wait() })

	pc := redresshttp.DefaultPolicyConfig()
	pc.Name = "catalog"
	pc.Bus = bus
	pc.Faults = u.chaos
	if pc.Budget, err = demoBudget(s); err != nil {
		return err
	}
	policy, err := core.NewPolicy(pc)
	if err != nil {
		return err
	}
	tr, err := redresshttp.NewTransport(nil, redresshttp.Config{
		Policy:  policy,
		Breaker: breakerTemplate("catalog", redresshttp.DefaultBreakerConfig(), s),
	})
	if err != nil {
		return err
	}
	u.closers = append(u.closers, tr.CloseIdleConnections)
	u.names = append(u.names, "catalog http://"+l.Addr().String()+" (GET /items/{id}, POST /orders)")
	u.clients = append(u.clients, &httpClient{c: &http.Client{Transport: tr}, base: "http://" + l.Addr().String()})
	u.budgets = append(u.budgets, budgetRef{policy: pc.Name, b: policy.Budget()})
	return nil
}

func (h *httpClient) call(ctx context.Context, i int) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	var req *http.Request
	var err error
	if i%5 == 4 {
		ctx = redresshttp.WithRoute(ctx, "/orders")
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, h.base+"/orders", bytes.NewReader([]byte(`{"item":42}`)))
		if err == nil {
			req.Header.Set("Idempotency-Key", fmt.Sprintf("order-%d-%d", time.Now().UnixNano(), i))
		}
	} else {
		ctx = redresshttp.WithRoute(ctx, "/items/{id}")
		req, err = http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/items/%d", h.base, i%100), nil)
	}
	if err != nil {
		return
	}
	resp, err := h.c.Do(req)
	if err != nil {
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
}

// --- gRPC: the inventory service (grpc.health.v1) through redressgrpc ---

type healthServer struct {
	healthpb.UnimplementedHealthServer
	cur *current
}

func (h *healthServer) Check(ctx context.Context, _ *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	fate, d := decide(h.cur.inventoryFaults())
	sleepCtx(ctx, d)
	switch fate {
	case "unavailable":
		return nil, status.Error(codes.Unavailable, "inventory unavailable")
	case "rate_limited":
		_ = grpc.SetTrailer(ctx, metadata.Pairs(redressgrpc.PushbackKey, "500"))
		return nil, status.Error(codes.ResourceExhausted, "slow down")
	case "overloaded":
		return nil, status.Error(codes.ResourceExhausted, "overloaded")
	case "not_found":
		return nil, status.Error(codes.NotFound, "no such service")
	}
	return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}, nil
}

type grpcClient struct {
	hc healthpb.HealthClient
}

func (u *upstreams) startGRPC(cur *current, bus *core.Bus, s schedule) error {
	l, err := listenLoopback()
	if err != nil {
		return err
	}
	srv := grpc.NewServer()
	healthpb.RegisterHealthServer(srv, &healthServer{cur: cur})
	var wg sync.WaitGroup
	wg.Go(func() { _ = srv.Serve(l) })
	u.closers = append(u.closers, func() { srv.Stop(); wg.Wait() })

	pc := redressgrpc.DefaultPolicyConfig()
	pc.Name = "inventory"
	pc.Bus = bus
	if pc.Budget, err = demoBudget(s); err != nil {
		return err
	}
	policy, err := core.NewPolicy(pc)
	if err != nil {
		return err
	}
	ic, err := redressgrpc.New(redressgrpc.Config{
		Policy:  policy,
		Breaker: breakerTemplate("inventory", redressgrpc.DefaultBreakerConfig(), s),
	})
	if err != nil {
		return err
	}
	opts := append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, ic.DialOptions()...)
	conn, err := grpc.NewClient(l.Addr().String(), opts...)
	if err != nil {
		return err
	}
	u.closers = append(u.closers, func() { _ = conn.Close() })
	u.names = append(u.names, "inventory grpc://"+l.Addr().String()+" (grpc.health.v1.Health/Check)")
	u.clients = append(u.clients, &grpcClient{hc: healthpb.NewHealthClient(conn)})
	u.budgets = append(u.budgets, budgetRef{policy: pc.Name, b: policy.Budget()})
	return nil
}

func (g *grpcClient) call(ctx context.Context, _ int) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	_, _ = g.hc.Check(ctx, &healthpb.HealthCheckRequest{Service: "inventory"})
}
