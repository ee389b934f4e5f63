package controller

import (
	"context"
	"io"
	"net/http"
	"strings"
	"time"

	"k8s.io/client-go/rest"
)

// DefaultAPITimeout bounds each request to the API server other than a watch: the API server's
// own --request-timeout default, so a request the server would still answer is never cut.
const DefaultAPITimeout = time.Minute

// withRequestTimeout makes every request of cfg's clients that is not a watch give up after
// timeout, reading its body included. A connection that hangs (an API server gone without
// closing it, a proxy that stalls) then fails the reconcile, which is retried, instead of
// holding a worker forever. Watches are long-running by design and keep no deadline; client-go
// restarts them itself.
func withRequestTimeout(cfg *rest.Config, timeout time.Duration) {
	if timeout <= 0 {
		return
	}
	cfg.Wrap(func(next http.RoundTripper) http.RoundTripper {
		return &requestTimeout{next: next, timeout: timeout}
	})
}

type requestTimeout struct {
	next    http.RoundTripper
	timeout time.Duration
}

func (t *requestTimeout) RoundTrip(req *http.Request) (*http.Response, error) {
	if isWatch(req) {
		return t.next.RoundTrip(req)
	}
	ctx, cancel := context.WithTimeout(req.Context(), t.timeout)
	resp, err := t.next.RoundTrip(req.WithContext(ctx))
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

// isWatch reports a watch request: ?watch=true, or the old /watch/ paths.
func isWatch(req *http.Request) bool {
	switch req.URL.Query().Get("watch") {
	case "true", "1":
		return true
	}
	return strings.Contains(req.URL.Path, "/watch/")
}

// cancelOnClose releases a request's deadline when its body is closed.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c *cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}
