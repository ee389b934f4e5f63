package controller_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/controller"
	"github.com/ferryhq/ferry/pkg/testenv"
)

const flipV1 = `
apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: {name: flip}
spec:
  components:
    - {name: web, type: worker, properties: {image: "nginx:1"}}
    - {name: only-v1, type: worker, properties: {image: busybox}}
`

const flipV2 = `
apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: {name: flip}
spec:
  components:
    - {name: web, type: worker, properties: {image: "nginx:2"}}
    - {name: only-v2, type: worker, properties: {image: busybox}}
`

// TestQuickFlipsNeverLoseWantedObjects is KubeVela #6746: flipping the spec v1 → v2 → v1
// quickly, 50 times, while Deployments keep turning ready (so workflows finish and garbage
// collection runs in between) ends with everything the final spec wants, and web — wanted by
// both — is never deleted on the way.
func TestQuickFlipsNeverLoseWantedObjects(t *testing.T) {
	h := startHub(t)
	h.startController(controller.Options{Concurrency: 2})
	h.apply(flipV1)
	h.waitExists(&appsv1.Deployment{}, "default", "web")
	web := &appsv1.Deployment{}
	require.True(t, h.exists(web, "default", "web"))
	uid := web.UID

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); testenv.PlayKubelet(ctx, h.c, 20*time.Millisecond) }()
	for i := 0; i < 50; i++ {
		h.apply(flipV2)
		time.Sleep(time.Duration(i%4) * 15 * time.Millisecond)
		h.apply(flipV1)
		time.Sleep(time.Duration(i%3) * 15 * time.Millisecond)
	}
	app := h.waitApp("flip", "running on the final spec", func(a *v1beta1.Application) bool {
		return phaseIs(v1beta1.ApplicationRunning)(a) && meta(a, v1beta1.ConditionGarbageCollected)
	})
	cancel()
	wg.Wait()

	require.True(t, h.exists(web, "default", "web"))
	require.Equal(t, uid, web.UID, "web is wanted by every revision and was never deleted")
	require.Equal(t, "nginx:1", web.Spec.Template.Spec.Containers[0].Image)
	require.True(t, h.exists(&appsv1.Deployment{}, "default", "only-v1"))
	require.False(t, h.exists(&appsv1.Deployment{}, "default", "only-v2"))
	rts := trackers(h, "flip")
	require.Len(t, rts, 1, "only the final revision's tracker is left")
	require.Equal(t, app.Status.LatestRevision.Revision, rts[0].Spec.ApplicationRevision)
	var revs v1beta1.ApplicationRevisionList
	require.NoError(t, h.c.List(context.Background(), &revs, client.MatchingLabels{v1beta1.LabelAppName: "flip"}))
	require.Len(t, revs.Items, 2, "the revision history is bounded by the default limit")
	t.Logf("final revision %s", app.Status.LatestRevision.Name)
}

func meta(a *v1beta1.Application, cond string) bool {
	for _, c := range a.Status.Conditions {
		if c.Type == cond {
			return c.Status == "True"
		}
	}
	return false
}

// TestObjectsOfOthersAreNotTouched: an object created by hand or owned by another app is
// neither changed nor deleted; the app reports the conflict. A take-over policy adopts an
// unowned object, and a shared-resource policy lets two apps share one.
func TestObjectsOfOthersAreNotTouched(t *testing.T) {
	h := startHub(t)
	h.startController(controller.Options{})
	h.createUnowned(deployment("default", "legacy", nil))

	h.apply(`
apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: {name: grabby}
spec:
  components:
    - {name: legacy, type: worker, properties: {image: "grabby:1"}}
`)
	app := h.waitApp("grabby", "a conflict", phaseIs(v1beta1.ApplicationWorkflowFailed))
	require.Contains(t, app.Status.Workflow.Steps[0].Message, "Deployment default/legacy: it exists and no Application manages it")
	legacy := &appsv1.Deployment{}
	require.True(t, h.exists(legacy, "default", "legacy"))
	require.Equal(t, "busybox", legacy.Spec.Template.Spec.Containers[0].Image, "the hand-made Deployment is unchanged")
	require.NotContains(t, legacy.Labels, v1beta1.LabelAppName)

	// Another app's object.
	h.apply(`
apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: {name: owner}
spec:
  components:
    - {name: db, type: worker, properties: {image: "db:1"}}
`)
	h.waitExists(&appsv1.Deployment{}, "default", "db")
	h.apply(`
apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: {name: intruder}
spec:
  components:
    - {name: db, type: worker, properties: {image: "db:666"}}
`)
	app = h.waitApp("intruder", "a conflict", phaseIs(v1beta1.ApplicationWorkflowFailed))
	require.Contains(t, app.Status.Workflow.Steps[0].Message, "it belongs to Application default/owner")
	db := &appsv1.Deployment{}
	require.True(t, h.exists(db, "default", "db"))
	require.Equal(t, "db:1", db.Spec.Template.Spec.Containers[0].Image)
	// Deleting the intruder leaves the owner's object alone.
	require.NoError(t, h.c.Delete(context.Background(), app))
	h.waitGone(&v1beta1.Application{}, "default", "intruder")
	require.True(t, h.exists(db, "default", "db"))

	// take-over adopts a hand-made object; the app then manages it.
	h.createUnowned(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "settings"}, Data: map[string]string{"mode": "manual"}})
	adopt := func(policy string) string {
		return `
apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: {name: adopter}
spec:
  components:
    - name: settings
      type: k8s-objects
      properties:
        objects: [{apiVersion: v1, kind: ConfigMap, metadata: {name: settings}, data: {mode: managed}}]
` + policy
	}
	h.apply(adopt(""))
	app = h.waitApp("adopter", "a conflict", phaseIs(v1beta1.ApplicationWorkflowFailed))
	require.Contains(t, app.Status.Workflow.Steps[0].Message, "ConfigMap default/settings: it exists and no Application manages it")
	h.apply(adopt(`  policies:
    - {name: adopt, type: take-over, properties: {rules: [{selector: {resourceNames: [settings]}}]}}
`))
	h.waitApp("adopter", "running", phaseIs(v1beta1.ApplicationRunning))
	settings := &corev1.ConfigMap{}
	require.True(t, h.exists(settings, "default", "settings"))
	require.Equal(t, "managed", settings.Data["mode"])
	require.Equal(t, "adopter", settings.Labels[v1beta1.LabelAppName])

	// shared-resource: the second app shares the owner's object; deleting the owner hands it over.
	shared := func(name string) string {
		return fmt.Sprintf(`
apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: {name: %s}
spec:
  components:
    - {name: cache, type: worker, properties: {image: "redis:7"}}
  policies:
    - {name: share, type: shared-resource, properties: {rules: [{selector: {resourceNames: [cache]}}]}}
`, name)
	}
	h.apply(shared("first"))
	h.waitExists(&appsv1.Deployment{}, "default", "cache")
	h.markReady("default", "cache")
	h.waitApp("first", "running", phaseIs(v1beta1.ApplicationRunning))
	h.apply(shared("second"))
	h.waitApp("second", "running", phaseIs(v1beta1.ApplicationRunning))
	cache := &appsv1.Deployment{}
	require.True(t, h.exists(cache, "default", "cache"))
	require.Equal(t, "default/first,default/second", cache.Annotations[v1beta1.AnnotationSharedBy])
	require.NoError(t, h.c.Delete(context.Background(), h.app("first")))
	h.waitGone(&v1beta1.Application{}, "default", "first")
	require.True(t, h.exists(cache, "default", "cache"), "the second app still uses it")
	require.Equal(t, "second", cache.Labels[v1beta1.LabelAppName])
	require.NoError(t, h.c.Delete(context.Background(), h.app("second")))
	h.waitGone(&v1beta1.Application{}, "default", "second")
	h.waitGone(&appsv1.Deployment{}, "default", "cache")
}
