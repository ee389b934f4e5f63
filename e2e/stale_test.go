package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/testenv"
)

const edgeThenHub = `
apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: {name: rollout, namespace: default}
spec:
  components:
    - {name: rollout, type: worker, properties: {image: "rollout:1"}}
  policies:
    - {name: edge, type: topology, properties: {clusters: [edge]}}
  workflow:
    steps:
      - {name: deploy-edge, type: deploy, properties: {policies: [edge]}}
      - {name: deploy-hub, type: deploy}
`

// TestHealthOnlyFromCurrentData: with a managed cluster's work agent stopped, an update never
// reaches the cluster, so the cluster is not reported healthy from what its agent said of the
// version before, and the next step does not start; once the agent is back, it converges.
func TestHealthOnlyFromCurrentData(t *testing.T) {
	f := startFleet(t, testenv.ClusterSpec{Name: "edge", Labels: map[string]string{"env": "edge"}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go testenv.PlayKubelet(ctx, f.hub, 200*time.Millisecond)

	f.applyApp(edgeThenHub)
	f.waitApp("default", "rollout", "running", phase(v1beta1.ApplicationRunning))
	require.Equal(t, "rollout:1", f.hubImage("default", "rollout"))

	require.NoError(t, f.env.StopAgent("edge"))
	f.applyApp(strings.Replace(edgeThenHub, "rollout:1", "rollout:2", 1))
	app := f.waitApp("default", "rollout", "deploy-edge waiting for the stopped agent", func(a *v1beta1.Application) bool {
		return a.Status.Workflow != nil && a.Status.Workflow.AppRevision == "rollout-v2" &&
			strings.Contains(a.Status.Workflow.Steps[0].Message, "waiting for the agent of cluster edge to apply")
	})
	require.NotEqual(t, "succeeded", app.Status.Workflow.Steps[0].Phase)
	require.Equal(t, "pending", app.Status.Workflow.Steps[1].Phase, "the next step waits")
	require.Equal(t, "rollout:1", f.hubImage("default", "rollout"), "the hub is not updated before edge is")
	require.Equal(t, "rollout:1", f.deployment("edge", "default", "rollout").Spec.Template.Spec.Containers[0].Image)

	require.NoError(t, f.env.StartAgent("edge"))
	f.waitApp("default", "rollout", "running the update", func(a *v1beta1.Application) bool {
		return a.Status.LatestRevision.Name == "rollout-v2" && phase(v1beta1.ApplicationRunning)(a)
	})
	require.Equal(t, "rollout:2", f.deployment("edge", "default", "rollout").Spec.Template.Spec.Containers[0].Image)
	require.Equal(t, "rollout:2", f.hubImage("default", "rollout"))
}
