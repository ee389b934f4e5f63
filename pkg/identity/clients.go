package identity

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// maxClients bounds the clients Clients keeps; past it they are built anew.
const maxClients = 512

// ClientsOptions configure Clients.
type ClientsOptions struct {
	// Config is the controller's own; every client impersonates on top of it.
	Config *rest.Config
	Scheme *runtime.Scheme
	Mapper meta.RESTMapper
}

// Clients builds clients that act as an identity, once per identity.
type Clients struct {
	opts ClientsOptions

	mu   sync.Mutex
	byID map[string]client.Client
}

// NewClients returns Clients.
func NewClients(opts ClientsOptions) *Clients {
	return &Clients{opts: opts, byID: map[string]client.Client{}}
}

// For returns a client whose requests the API server authorizes as id (uncached: every read
// goes to the API server, with id's rights).
func (c *Clients) For(id Identity) (client.Client, error) {
	if id.IsZero() {
		return nil, fmt.Errorf("no identity to act as")
	}
	key := id.User + "\x00" + strings.Join(id.Groups, "\x00")
	c.mu.Lock()
	defer c.mu.Unlock()
	if cl, ok := c.byID[key]; ok {
		return cl, nil
	}
	cfg := rest.CopyConfig(c.opts.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: id.User, Groups: id.Groups}
	httpClient, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("client acting as %s: %w", id, err)
	}
	cl, err := client.New(cfg, client.Options{HTTPClient: httpClient, Scheme: c.opts.Scheme, Mapper: c.opts.Mapper})
	if err != nil {
		return nil, fmt.Errorf("client acting as %s: %w", id, err)
	}
	if len(c.byID) >= maxClients {
		clear(c.byID)
	}
	c.byID[key] = cl
	return cl, nil
}

type readerKey struct{}

// WithReader returns ctx carrying the reader of the identity a plan is made for: sources that
// read objects while rendering (ref-objects) read through it.
func WithReader(ctx context.Context, r client.Reader) context.Context {
	return context.WithValue(ctx, readerKey{}, r)
}

// ReaderFrom is the reader WithReader put in ctx, else fallback.
func ReaderFrom(ctx context.Context, fallback client.Reader) client.Reader {
	if r, ok := ctx.Value(readerKey{}).(client.Reader); ok && r != nil {
		return r
	}
	return fallback
}
