package dispatch

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	workv1 "open-cluster-management.io/api/work/v1"

	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/appfile"
	"github.com/ferryhq/ferry/pkg/cue"
	"github.com/ferryhq/ferry/pkg/definition"
)

// TestExecutor: with an executor, every ManifestWork names it (a ServiceAccount in the app's
// namespace), the namespace is not among the manifests (the platform team creates it with the
// executor's rights), and the works are marked as Ferry's deliveries.
func TestExecutor(t *testing.T) {
	afs, err := appfile.Parse("app.yaml", []byte(`
apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: {name: shop, namespace: team-a}
spec:
  components:
    - {name: shop, type: worker, properties: {image: "shop:1"}}
  policies:
    - {name: edge, type: topology, properties: {clusters: [edge]}}
`))
	require.NoError(t, err)
	reg, err := definition.Builtin()
	require.NoError(t, err)
	p := appfile.NewPlanner(appfile.Offline(appfile.OfflineOptions{Definitions: reg, Clusters: []appfile.Cluster{{Name: "edge"}}}),
		appfile.Options{Engine: cue.NewEngine(cue.Options{})})
	plan, err := p.Plan(context.Background(), afs[0], appfile.PlanOptions{AppRevision: "shop-v1", AppRevisionNum: 1})
	require.NoError(t, err)
	app := AppRef{Name: "shop", Namespace: "team-a"}
	for _, tc := range []struct {
		executor   string
		namespaces int
	}{{"", 1}, {"ferry-tenant", 0}} {
		desired, _, err := DesiredObjects(DesiredOptions{App: app, Plan: plan, Step: plan.Steps[0], Executor: func(cluster string) string {
			require.Equal(t, "edge", cluster)
			return tc.executor
		},
			Normalize: func(m map[string]any) (*unstructured.Unstructured, error) {
				return &unstructured.Unstructured{Object: m}, nil
			}})
		require.NoError(t, err)
		require.Len(t, desired, 1)
		require.True(t, desired[0].Delivery)
		require.True(t, IsDeliveryWork(app, desired[0].Resource))
		work := &workv1.ManifestWork{}
		require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructured(desired[0].Object.Object, work))
		namespaces := 0
		for _, m := range work.Spec.Workload.Manifests {
			u := &unstructured.Unstructured{}
			require.NoError(t, u.UnmarshalJSON(m.Raw))
			if u.GetKind() == "Namespace" {
				namespaces++
			}
		}
		require.Equal(t, tc.namespaces, namespaces, "executor %q", tc.executor)
		if tc.executor == "" {
			require.Nil(t, work.Spec.Executor)
			continue
		}
		require.Equal(t, &workv1.ManifestWorkExecutor{Subject: workv1.ManifestWorkExecutorSubject{Type: workv1.ExecutorSubjectTypeServiceAccount,
			ServiceAccount: &workv1.ManifestWorkSubjectServiceAccount{Namespace: "team-a", Name: "ferry-tenant"}}}, work.Spec.Executor)
	}
}

func TestIsDeliveryWork(t *testing.T) {
	app := AppRef{Name: "shop", Namespace: "team-a"}
	work := func(name, component string) v1beta1.ManagedResource {
		return v1beta1.ManagedResource{APIVersion: workv1.GroupVersion.String(), Kind: "ManifestWork", Namespace: "edge", Name: name, Component: component}
	}
	require.True(t, IsDeliveryWork(app, work(WorkName("shop", "team-a", "prod", 1), "")))
	require.False(t, IsDeliveryWork(app, work(WorkName("shop", "team-a", "", 0), "shop")), "a ManifestWork the app renders")
	require.False(t, IsDeliveryWork(app, work("other-team-a", "")))
	require.False(t, IsDeliveryWork(app, v1beta1.ManagedResource{APIVersion: "v1", Kind: "ConfigMap", Name: "shop-team-a"}))
}
