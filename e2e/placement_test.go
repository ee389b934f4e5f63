package e2e

import (
	"context"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clusterv1 "open-cluster-management.io/api/cluster/v1"
	clusterv1beta1 "open-cluster-management.io/api/cluster/v1beta1"
	clusterv1beta2 "open-cluster-management.io/api/cluster/v1beta2"
	workv1 "open-cluster-management.io/api/work/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/testenv"
)

// placedApp follows an inline OCM Placement: two clusters labelled env=prod.
const placedApp = `
apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: {name: placed, namespace: shop}
spec:
  components:
    - {name: web, type: webservice, properties: {image: "web:1"}}
  policies:
    - name: prod
      type: topology
      properties:
        placement:
          name: prod-two
          spec:
            clusterSets: [default]
            numberOfClusters: 2
            predicates:
              - requiredClusterSelector:
                  labelSelector: {matchLabels: {env: prod}}
`

// TestPlacementTargets runs OCM's real placement controller on a hub with four managed clusters:
// a topology policy defines a Placement (a label predicate, numberOfClusters: 2), Ferry creates
// it, and exactly the two clusters it decides get the app. Relabelling one of them makes the
// placement controller decide again: the app leaves that cluster and reaches the remaining one.
func TestPlacementTargets(t *testing.T) {
	f := startFleetWith(t, testenv.Options{Placement: true, Clusters: []testenv.ClusterSpec{
		{Name: "c1", Labels: map[string]string{"env": "prod"}}, {Name: "c2", Labels: map[string]string{"env": "prod"}},
		{Name: "c3", Labels: map[string]string{"env": "prod"}}, {Name: "c4", Labels: map[string]string{"env": "dev"}}}})
	ctx := context.Background()
	// The platform team lets namespace shop place onto the cluster set, as OCM requires.
	require.NoError(t, f.hub.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}))
	bindings, err := testenv.NewClient(f.env.Hub.Config, clusterv1beta2.Install)
	require.NoError(t, err)
	require.NoError(t, bindings.Create(ctx, &clusterv1beta2.ManagedClusterSetBinding{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: testenv.ClusterSetDefault},
		Spec: clusterv1beta2.ManagedClusterSetBindingSpec{ClusterSet: testenv.ClusterSetDefault}}))

	f.applyApp(placedApp)
	f.waitApp("shop", "placed", "running", phase(v1beta1.ApplicationRunning))
	decided := f.decisions("shop", "prod-two")
	require.Len(t, decided, 2)
	for _, c := range decided {
		require.NotEqual(t, "c4", c, "the predicate keeps dev out")
	}
	require.Equal(t, decided, f.clustersWithWork("placed"), "exactly the decided clusters get ManifestWorks")
	for _, c := range decided {
		f.waitDeployment(c, "shop", "web", true)
	}
	placement := &clusterv1beta1.Placement{}
	require.NoError(t, f.hub.Get(ctx, client.ObjectKey{Namespace: "shop", Name: "prod-two"}, placement))
	require.Equal(t, "placed", placement.Labels[v1beta1.LabelAppName], "Ferry created the Placement for the app")

	// Relabel one decided cluster: the placement controller decides again.
	moved := decided[0]
	mc := &clusterv1.ManagedCluster{}
	require.NoError(t, f.hub.Get(ctx, client.ObjectKey{Name: moved}, mc))
	mc.Labels["env"] = "dev"
	require.NoError(t, f.hub.Update(ctx, mc))
	var now []string
	require.Eventually(t, func() bool {
		now = f.decisions("shop", "prod-two")
		return len(now) == 2 && !slices.Contains(now, moved)
	}, 60*time.Second, 200*time.Millisecond, "the placement decides without %s", moved)
	f.waitDeployment(moved, "shop", "web", false)
	for _, c := range now {
		f.waitDeployment(c, "shop", "web", true)
	}
	require.Eventually(t, func() bool { return slices.Equal(f.clustersWithWork("placed"), now) }, 30*time.Second, 200*time.Millisecond,
		"the ManifestWorks follow the decision")
	f.waitApp("shop", "placed", "running on the new decision", phase(v1beta1.ApplicationRunning))
}

// decisions lists the clusters a Placement decided, sorted.
func (f *fleet) decisions(ns, placement string) []string {
	f.t.Helper()
	var list clusterv1beta1.PlacementDecisionList
	require.NoError(f.t, f.hub.List(context.Background(), &list, client.InNamespace(ns), client.MatchingLabels{clusterv1beta1.PlacementLabel: placement}))
	var out []string
	for _, d := range list.Items {
		for _, cd := range d.Status.Decisions {
			out = append(out, cd.ClusterName)
		}
	}
	sort.Strings(out)
	return out
}

// clustersWithWork lists the clusters that have a ManifestWork of the app, sorted.
func (f *fleet) clustersWithWork(app string) []string {
	f.t.Helper()
	var works workv1.ManifestWorkList
	require.NoError(f.t, f.hub.List(context.Background(), &works, client.MatchingLabels{v1beta1.LabelAppName: app}))
	var out []string
	for _, w := range works.Items {
		if w.DeletionTimestamp == nil {
			out = append(out, w.Namespace)
		}
	}
	sort.Strings(out)
	return out
}
