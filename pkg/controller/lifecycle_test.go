package controller_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/controller"
)

const shopV1 = `
apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: {name: shop}
spec:
  components:
    - name: web
      type: webservice
      properties: {image: nginx, ports: [{port: 80, expose: true}]}
    - name: mailer
      type: worker
      properties: {image: busybox}
`

const shopV2 = `
apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: {name: shop}
spec:
  components:
    - name: web
      type: webservice
      properties: {image: nginx, ports: [{port: 80, expose: true}]}
`

// TestApplicationLifecycle: create → the workflow deploys → objects carry ownership labels →
// healthy once the Deployments report ready → an update removes a component and only its
// objects → deleting the app removes everything it owned and nothing else.
func TestApplicationLifecycle(t *testing.T) {
	h := startHub(t)
	h.startController(controller.Options{})
	bystander := deployment("default", "bystander", nil)
	h.createUnowned(bystander)

	h.apply(shopV1)
	h.waitExists(&appsv1.Deployment{}, "default", "web")
	h.waitExists(&appsv1.Deployment{}, "default", "mailer")
	web := &appsv1.Deployment{}
	require.True(t, h.exists(web, "default", "web"))
	require.Equal(t, "shop", web.Labels[v1beta1.LabelAppName])
	require.Equal(t, "default", web.Labels[v1beta1.LabelAppNamespace])
	require.Equal(t, "web", web.Labels[v1beta1.LabelAppComponent])
	require.True(t, h.exists(&corev1.Service{}, "default", "web"), "the exposed port gets a Service")

	app := h.waitApp("shop", "the deploy step to wait for health", func(a *v1beta1.Application) bool {
		return a.Status.Phase == v1beta1.ApplicationRunningWorkflow && len(a.Status.Services) == 2
	})
	require.False(t, app.Status.Services[0].Healthy)
	require.Equal(t, "shop-v1", app.Status.LatestRevision.Name)

	h.markReady("default", "web")
	h.markReady("default", "mailer")
	app = h.waitApp("shop", "running", phaseIs(v1beta1.ApplicationRunning))
	for _, s := range app.Status.Services {
		require.True(t, s.Healthy, "service %s: %s", s.Name, s.Message)
		require.Equal(t, "local", s.Cluster)
	}
	require.Equal(t, "succeeded", app.Status.Workflow.Phase)
	require.Len(t, trackers(h, "shop"), 1)
	rev := &v1beta1.ApplicationRevision{}
	require.True(t, h.exists(rev, "default", "shop-v1"))
	require.Equal(t, int64(1), rev.Spec.Revision)

	// The update drops the mailer: only its Deployment goes.
	h.apply(shopV2)
	h.waitGone(&appsv1.Deployment{}, "default", "mailer")
	app = h.waitApp("shop", "running at v2", func(a *v1beta1.Application) bool {
		return phaseIs(v1beta1.ApplicationRunning)(a) && a.Status.LatestRevision.Name == "shop-v2"
	})
	require.Len(t, app.Status.Services, 1)
	require.True(t, h.exists(&appsv1.Deployment{}, "default", "web"))
	require.True(t, h.exists(&corev1.Service{}, "default", "web"))
	require.Eventually(t, func() bool { return len(trackers(h, "shop")) == 1 }, 10*time.Second, 100*time.Millisecond,
		"the tracker of v1 goes once its objects are collected")
	require.True(t, h.exists(&appsv1.Deployment{}, "default", "bystander"))

	// Deleting the app removes what it owned, and only that.
	require.NoError(t, h.c.Delete(context.Background(), app))
	h.waitGone(&v1beta1.Application{}, "default", "shop")
	require.False(t, h.exists(&appsv1.Deployment{}, "default", "web"))
	require.False(t, h.exists(&corev1.Service{}, "default", "web"))
	require.Empty(t, trackers(h, "shop"))
	require.False(t, h.exists(&v1beta1.ApplicationRevision{}, "default", "shop-v2"))
	require.False(t, h.exists(&corev1.ConfigMap{}, "default", controller.ContextConfigMapName("shop")))
	require.True(t, h.exists(&appsv1.Deployment{}, "default", "bystander"), "nothing else is touched")
}

// TestDefinitionChangeMakesANewRevision: editing a definition an app uses is delivered at once
// as a new revision, without waiting for the resync.
func TestDefinitionChangeMakesANewRevision(t *testing.T) {
	h := startHub(t)
	h.startController(controller.Options{ResyncInterval: time.Hour})
	h.apply(`
apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: {name: cfg}
spec:
  components:
    - name: settings
      type: k8s-objects
      properties:
        objects: [{apiVersion: v1, kind: ConfigMap, metadata: {name: settings}, data: {a: "1"}}]
      traits:
        - {type: labels, properties: {team: blue}}
`)
	h.waitApp("cfg", "running", phaseIs(v1beta1.ApplicationRunning))
	ctx := context.Background()
	def := &v1beta1.TraitDefinition{}
	require.NoError(t, h.c.Get(ctx, client.ObjectKey{Namespace: "ferry-system", Name: "labels"}, def))
	def.Annotations = map[string]string{"edited": "yes"}
	def.Spec.Schematic.CUE.Template += "\n// a platform team's edit\n"
	require.NoError(t, h.c.Update(ctx, def))
	app := h.waitApp("cfg", "a new revision", func(a *v1beta1.Application) bool {
		return a.Status.LatestRevision != nil && a.Status.LatestRevision.Name == "cfg-v2" && a.Status.Phase == v1beta1.ApplicationRunning
	})
	require.Equal(t, int64(2), app.Status.LatestRevision.Revision)
}
