package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/discovery"
	clusterv1 "open-cluster-management.io/api/cluster/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/install"
	"github.com/ferryhq/ferry/pkg/testenv"
)

// versionProbe renders a ConfigMap saying what context.clusterVersion a template sees.
const versionProbe = `
apiVersion: core.oam.dev/v1beta1
kind: ComponentDefinition
metadata: {name: version-probe}
spec:
  workload: {definition: {apiVersion: v1, kind: ConfigMap}}
  schematic:
    cue:
      template: |
        output: {
          apiVersion: "v1"
          kind:       "ConfigMap"
          metadata: name: context.name
          data: {
            gitVersion: context.clusterVersion.gitVersion
            minor:      "\(context.clusterVersion.minor)"
            cluster:    context.cluster
          }
        }
        parameter: {}
`

const sourcesApp = `
apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: {name: sources, namespace: default}
spec:
  components:
    - {name: probe, type: version-probe}
  policies:
    - {name: everywhere, type: topology, properties: {clusters: [local, edge]}}
`

const copyApp = `
apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: {name: copy, namespace: default}
spec:
  components:
    - name: copied
      type: ref-objects
      properties:
        objects: [{kind: ConfigMap, name: settings}, {resource: configmap, labelSelector: {tier: copied}}]
  policies:
    - {name: edge, type: topology, properties: {clusters: [edge]}}
`

// TestSourcesOnAHub: on a real hub, templates see each cluster's Kubernetes version — the hub's
// from its API server, a managed cluster's from its ManagedCluster — and ref-objects reads
// objects on the hub, by name and by labels, and delivers them to a managed cluster.
func TestSourcesOnAHub(t *testing.T) {
	f := startFleet(t, testenv.ClusterSpec{Name: "edge", Labels: map[string]string{"env": "edge"}})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// The registration agent reports a managed cluster's version; the test plays it.
	mc := &clusterv1.ManagedCluster{}
	require.NoError(t, f.hub.Get(ctx, client.ObjectKey{Name: "edge"}, mc))
	mc.Status.Version.Kubernetes = "v1.30.7"
	require.NoError(t, f.hub.Status().Update(ctx, mc))

	def := &v1beta1.ComponentDefinition{}
	require.NoError(t, yaml.Unmarshal([]byte(versionProbe), def))
	def.Namespace = install.DefaultNamespace
	require.NoError(t, f.hub.Create(ctx, def))
	require.NoError(t, f.hub.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "settings", Namespace: "default",
		Labels: map[string]string{"team": "payments"}}, Data: map[string]string{"mode": "production"}}))

	for _, name := range []string{"extra-1", "extra-2"} {
		require.NoError(t, f.hub.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default",
			Labels: map[string]string{"tier": "copied"}}, Data: map[string]string{"from": name}}))
	}

	f.applyApp(sourcesApp)
	f.applyApp(copyApp)
	f.waitApp("default", "sources", "running", phase(v1beta1.ApplicationRunning))
	f.waitApp("default", "copy", "running", phase(v1beta1.ApplicationRunning))

	info, err := discovery.NewDiscoveryClientForConfigOrDie(f.env.Hub.Config).ServerVersion()
	require.NoError(t, err)
	hubVersion := info.GitVersion
	onHub := &corev1.ConfigMap{}
	require.NoError(t, f.hub.Get(ctx, client.ObjectKey{Namespace: "default", Name: "probe"}, onHub))
	require.Equal(t, map[string]string{"gitVersion": hubVersion, "minor": "34", "cluster": "local"}, onHub.Data)

	onEdge := &corev1.ConfigMap{}
	require.NoError(t, f.spokes["edge"].Get(ctx, client.ObjectKey{Namespace: "default", Name: "probe"}, onEdge))
	require.Equal(t, map[string]string{"gitVersion": "v1.30.7", "minor": "30", "cluster": "edge"}, onEdge.Data)

	copied := &corev1.ConfigMap{}
	require.NoError(t, f.spokes["edge"].Get(ctx, client.ObjectKey{Namespace: "default", Name: "settings"}, copied))
	require.Equal(t, map[string]string{"mode": "production"}, copied.Data)
	require.Equal(t, "payments", copied.Labels["team"])
	require.Equal(t, "copy", copied.Labels[v1beta1.LabelAppName], "delivered as the app's own")
	for _, name := range []string{"extra-1", "extra-2"} {
		extra := &corev1.ConfigMap{}
		require.NoError(t, f.spokes["edge"].Get(ctx, client.ObjectKey{Namespace: "default", Name: name}, extra), "selected by its labels")
		require.Equal(t, map[string]string{"from": name}, extra.Data)
	}
}
