package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/workflow/appworkflow"
)

// TestKillDashNineNeverSendsTwice kills the ferry-controller process (SIGKILL) while its webhook
// step waits for a slow receiver, five times: each execution reaches the receiver once — the
// next controller finds the send recorded as under way and reports that it may have been sent,
// instead of sending again — and the app keeps one revision.
func TestKillDashNineNeverSendsTwice(t *testing.T) {
	ph := startProcessHub(t)
	env, hub, ctx, bin := ph.env, ph.hub, ph.ctx, ph.bin

	var mu sync.Mutex
	received := map[string]int{}
	arrived := make(chan string, 10)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Ferry-Execution-Id")
		mu.Lock()
		received[id]++
		mu.Unlock()
		arrived <- id
		select { // slow: answers only to a client that waits this long
		case <-r.Context().Done():
		case <-time.After(30 * time.Second):
		}
	}))
	defer receiver.Close()

	start := func() *exec.Cmd {
		return startController(t, bin, env.Hub.Kubeconfig, "--http-allowed-hosts", "127.0.0.1", "--egress-allowed-networks", "127.0.0.1")
	}
	kill := func(cmd *exec.Cmd) { killController(t, cmd) }

	app := &v1beta1.Application{}
	require.NoError(t, yaml.Unmarshal([]byte(fmt.Sprintf(`
metadata: {name: notify, namespace: default}
spec:
  components:
    - {name: notify, type: worker, properties: {image: "notify:1"}}
  workflow:
    steps:
      - {name: ship, type: deploy}
      - {name: tell, type: webhook, properties: {url: {value: %q}}}
`, receiver.URL)), app))
	require.NoError(t, hub.Create(ctx, app))
	key := client.ObjectKeyFromObject(app)

	ctl := start()
	defer func() { kill(ctl) }()
	for i := 0; i < 5; i++ {
		select {
		case <-arrived:
		case <-time.After(90 * time.Second):
			t.Fatalf("round %d: the webhook was not called", i)
		}
		kill(ctl)
		ctl = start()
		require.Eventually(t, func() bool {
			a := &v1beta1.Application{}
			if hub.Get(ctx, key, a) != nil || a.Status.Workflow == nil || len(a.Status.Workflow.Steps) < 2 {
				return false
			}
			s := a.Status.Workflow.Steps[1]
			return s.Phase == "failed" && strings.Contains(s.Message, "not sent twice")
		}, 90*time.Second, 200*time.Millisecond, "round %d: the new controller reports the send it cannot confirm", i)
		if i < 4 {
			require.NoError(t, appworkflow.Control(ctx, hub, key, appworkflow.CommandRestart, "", "", time.Now()))
		}
	}

	mu.Lock()
	defer mu.Unlock()
	require.Len(t, received, 5, "five executions")
	for id, n := range received {
		require.Equal(t, 1, n, "execution %s reached the receiver once", id)
	}
	var revs v1beta1.ApplicationRevisionList
	require.NoError(t, hub.List(ctx, &revs, client.InNamespace("default")))
	require.Len(t, revs.Items, 1, "one revision")
}
