package doccheck

// Givens is the source of the package-level declarations that the snippets
// assume exist around them: a context, a bus, a DSN, subscribers, a
// downstream client. Each snippet is compiled beside it.
const Givens = `package main

import (
	"context"
	"log/slog"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/redress-go/redress/core"
)

var (
	ctx            = context.Background()
	bus            = core.NewBus()
	dsn            string
	addr, target   string
	dir            string
	sku, id        string
	name           string
	creds          credentials.TransportCredentials = insecure.NewCredentials()
	breaker        *core.Breaker
	budget         *core.Budget
	promSub        core.Subscriber
	otelSub        core.Subscriber
	slogSub        core.Subscriber
	otelSubscriber core.Subscriber
	promSubscriber core.Subscriber
	alerts         slog.Handler
	ping           func(context.Context) error // a call to the downstream
)

// User and client stand for the caller's own downstream.
type User struct{ Name string }

var client interface {
	GetUser(ctx context.Context, id string) (User, error)
}

var inventory interface {
	GetStock(ctx context.Context, sku string) (int, error)
}

// pb stands for a generated gRPC package.
type (
	GetRequest  struct{}
	Item        struct{}
	InventoryClient interface {
		Get(ctx context.Context, req *GetRequest, opts ...grpc.CallOption) (*Item, error)
		Reserve(ctx context.Context, req *GetRequest, opts ...grpc.CallOption) (*Item, error)
	}
)

var pb struct {
	NewInventoryClient func(grpc.ClientConnInterface) InventoryClient
}

var req *GetRequest

// serve stands for the caller's code that uses the clients.
func serve(...any) {}

func main() {}
`
