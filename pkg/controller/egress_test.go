package controller_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/controller"
	"github.com/ferryhq/ferry/pkg/workflow/cuestep"
)

// TestOutboundRequests: a request step reaches a loopback server only when the controller
// allows its host and network; the namespace's ferry-egress ConfigMap narrows the host list,
// and each refusal fails the step saying which list refused it. Nothing is sent then.
func TestOutboundRequests(t *testing.T) {
	h := startHub(t)
	var calls atomic.Int32
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		calls.Add(1)
		_, _ = io.WriteString(w, "ok")
	}))
	defer server.Close()
	u, _ := url.Parse(server.URL)
	h.startController(controller.Options{HTTP: cuestep.HTTPOptions{AllowedHosts: []string{u.Hostname(), "hooks.example.com"}}})

	app := func(name string) string {
		return fmt.Sprintf(`
apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: {name: %s}
spec:
  components: []
  workflow:
    steps:
      - name: announce
        type: request
        properties: {url: %q, method: POST, body: {release: "1"}}
`, name, server.URL+"/announce")
	}
	stepFailed := func(a *v1beta1.Application) bool {
		return a.Status.Workflow != nil && len(a.Status.Workflow.Steps) == 1 && a.Status.Workflow.Steps[0].Phase == "failed"
	}

	// The host is allowed, but it is a loopback address and no network is allowed.
	h.apply(app("loopback"))
	got := h.waitApp("loopback", "the request refused", stepFailed)
	require.Contains(t, got.Status.Workflow.Steps[0].Message, "127.0.0.1 is loopback: address is not allowed for outbound requests")

	// The namespace allows only hooks.example.com.
	require.NoError(t, h.c.Create(context.Background(), &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "ferry-egress"},
		Data:       map[string]string{"hosts": "hooks.example.com"},
	}))
	h.apply(app("narrowed"))
	got = h.waitApp("narrowed", "the request refused by the namespace", stepFailed)
	require.Contains(t, got.Status.Workflow.Steps[0].Message, "127.0.0.1: host is not on the outbound allow-list (the namespace's ferry-egress ConfigMap)")
	require.Zero(t, calls.Load(), "nothing was sent")
}
