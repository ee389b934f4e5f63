package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	workv1 "open-cluster-management.io/api/work/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ferryhq/ferry/pkg/appfile"
	"github.com/ferryhq/ferry/pkg/cue"
	"github.com/ferryhq/ferry/pkg/definition"
	"github.com/ferryhq/ferry/pkg/dispatch"
	"github.com/ferryhq/ferry/pkg/testenv"
)

const dispatchApp = `apiVersion: core.oam.dev/v1beta1
kind: Application
metadata:
  name: shop
  namespace: default
spec:
  components:
    - name: web
      type: webservice
      properties:
        image: nginx:1.27
        ports: [{port: 80, expose: true}]
      traits:
        - type: scaler
          properties: {replicas: 2}
  policies:
    - name: eu
      type: topology
      properties: {clusters: [cluster1]}
`

// TestHealthThroughManifestWorkFeedback renders an Application, sends its objects to cluster1 as
// ManifestWorks built by pkg/dispatch, and evaluates the webservice healthPolicy on the hub from
// the status feedback the work agent reports: unhealthy while the pods are not ready, healthy
// once they are — the hub never reads the managed cluster.
func TestHealthThroughManifestWorkFeedback(t *testing.T) {
	env := testenv.StartForTest(t, testenv.ClusterSpec{Name: "cluster1", Labels: map[string]string{"env": "prod"}})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	reg, err := definition.Builtin()
	require.NoError(t, err)
	engine := cue.NewEngine(cue.Options{})
	afs, err := appfile.Parse("app.yaml", []byte(dispatchApp))
	require.NoError(t, err)
	plan, err := appfile.NewPlanner(appfile.Offline(appfile.OfflineOptions{Definitions: reg, Clusters: []appfile.Cluster{{Name: "cluster1"}}}),
		appfile.Options{Engine: engine}).Plan(ctx, afs[0], appfile.PlanOptions{})
	require.NoError(t, err)
	target := plan.Steps[0].Targets[0]
	require.Equal(t, "cluster1", target.Cluster)

	web, err := reg.Get(definition.KindComponent, "webservice")
	require.NoError(t, err)
	works, err := dispatch.BuildManifestWorks(dispatch.WorkOptions{
		App: plan.App, AppNamespace: plan.Namespace, Cluster: target.Cluster, Manifests: target.Manifests,
		HealthPolicy: func(m appfile.Manifest) string { return web.Status.HealthPolicy },
	})
	require.NoError(t, err)
	require.Len(t, works, 1)

	hubWork, err := testenv.NewClient(env.Hub.Config, workv1.Install)
	require.NoError(t, err)
	c1, _ := env.Cluster("cluster1")
	spoke := newClient(t, c1)
	require.NoError(t, hubWork.Create(ctx, works[0]))

	var deploy appsv1.Deployment
	eventually(t, ctx, "Deployment applied on cluster1", func() bool {
		return spoke.Get(ctx, client.ObjectKey{Namespace: "default", Name: "web"}, &deploy) == nil
	})
	require.EqualValues(t, 2, *deploy.Spec.Replicas, "the scaler trait's patch reached the cluster")
	require.Equal(t, "shop", deploy.Labels["app.oam.dev/name"])

	health := func() *cue.Status {
		var mw workv1.ManifestWork
		require.NoError(t, hubWork.Get(ctx, client.ObjectKeyFromObject(works[0]), &mw))
		for _, m := range mw.Status.ResourceStatus.Manifests {
			if m.ResourceMeta.Resource == "deployments" && m.ResourceMeta.Name == "web" {
				st, err := engine.EvalStatus("webservice", web.Status, cue.StatusInput{Output: dispatch.ObjectFromFeedback(m.StatusFeedbacks.Values)})
				require.NoError(t, err)
				return st
			}
		}
		return nil
	}
	eventually(t, ctx, "feedback of the new Deployment", func() bool {
		st := health()
		return st != nil && st.Message == "Ready: 0/2"
	})
	require.False(t, health().Healthy)

	// There is no kubelet: report the pods ready on the cluster, as a kubelet would.
	deploy.Status.Replicas, deploy.Status.ReadyReplicas, deploy.Status.AvailableReplicas = 2, 2, 2
	deploy.Status.UpdatedReplicas, deploy.Status.ObservedGeneration = 2, deploy.Generation
	require.NoError(t, spoke.Status().Update(ctx, &deploy))
	eventually(t, ctx, "healthy on the hub from feedback", func() bool {
		st := health()
		return st != nil && st.Healthy && st.Message == "Ready: 2/2"
	})
}
