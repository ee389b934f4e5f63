package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/testenv"
)

// TestDriftOnAManagedClusterIsCorrected: a hand edit on a managed cluster, by another field
// manager, is put back when the agent applies the ManifestWork again: at its resync, every 4–6
// minutes, at a change of the work, or when it starts — the test restarts it not to wait.
func TestDriftOnAManagedClusterIsCorrected(t *testing.T) {
	f := startFleet(t, testenv.ClusterSpec{Name: "edge", Labels: map[string]string{"env": "edge"}})
	ctx := context.Background()
	f.applyApp(`
apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: {name: steady, namespace: default}
spec:
  components:
    - {name: steady, type: worker, properties: {image: "steady:1"}}
  policies:
    - {name: edge, type: topology, properties: {clusters: [edge]}}
`)
	f.waitApp("default", "steady", "running", phase(v1beta1.ApplicationRunning))
	d := f.waitDeployment("edge", "default", "steady", true)
	d.Spec.Template.Spec.Containers[0].Image = "steady:hacked"
	require.NoError(t, f.spokes["edge"].Update(ctx, d, client.FieldOwner("kubectl-edit")))

	require.NoError(t, f.env.StopAgent("edge"))
	require.NoError(t, f.env.StartAgent("edge"))
	require.Eventually(t, func() bool {
		return f.deployment("edge", "default", "steady").Spec.Template.Spec.Containers[0].Image == "steady:1"
	}, 60*time.Second, 200*time.Millisecond, "the agent takes the field back")
}
