package controller_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry/pkg/controller"
	"github.com/ferryhq/ferry/pkg/testenv"
	"github.com/ferryhq/ferry/pkg/workflow/cuestep"
)

// loopback lets the controller's workflow steps reach the tests' servers on 127.0.0.1, which
// its egress policy refuses by default.
var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}

// TestProbesReportAStuckWorker: while a reconcile runs longer than the stall timeout (here a
// request step waiting on a slow server), /healthz and /readyz fail naming the app; once it
// returns, they pass again.
func TestProbesReportAStuckWorker(t *testing.T) {
	h := startHub(t)
	release := make(chan struct{})
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
		fmt.Fprint(w, "done")
	}))
	defer server.Close()
	defer close(release)
	u, _ := url.Parse(server.URL)
	probes := fmt.Sprintf("127.0.0.1:%d", testenv.FreePortForTest(t))
	mgr, _, err := controller.NewManager(h.cfg, controller.ManagerOptions{ProbeAddr: probes, Reconciler: controller.Options{
		StallTimeout: time.Second, HTTP: cuestep.HTTPOptions{AllowedHosts: []string{u.Hostname()}, AllowedNetworks: loopback, Timeout: time.Minute}}})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	defer func() { cancel(); require.NoError(t, <-done) }()

	probe := func(path string) (int, string) {
		resp, err := http.Get("http://" + probes + path + "?verbose")
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	require.Eventually(t, func() bool { code, _ := probe("/healthz"); return code == http.StatusOK }, 30*time.Second, 100*time.Millisecond)

	h.apply(fmt.Sprintf(`
apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: {name: slow}
spec:
  components:
    - {name: slow, type: worker, properties: {image: "slow:1"}}
  workflow:
    steps:
      - {name: call, type: request, properties: {url: %q}}
`, server.URL))
	for _, path := range []string{"/healthz", "/readyz"} {
		require.Eventually(t, func() bool {
			code, body := probe(path)
			return code == http.StatusInternalServerError && strings.Contains(body, "workers")
		}, 30*time.Second, 100*time.Millisecond, "%s reports the stuck worker", path)
	}
	release <- struct{}{}
	require.Eventually(t, func() bool { code, _ := probe("/healthz"); return code == http.StatusOK }, 30*time.Second, 100*time.Millisecond,
		"healthy again once the reconcile returns")
}
