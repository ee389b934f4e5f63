package controller_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"

	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/controller"
)

const annotatedApp = `
apiVersion: core.oam.dev/v1beta1
kind: Application
metadata:
  name: %[1]s
  annotations: {%[2]s}
spec:
  components:
    - {name: %[1]s, type: worker, properties: {image: "%[3]s"}}
`

func image(h *hub, name string) string {
	d := &appsv1.Deployment{}
	require.True(h.t, h.exists(d, "default", name))
	return d.Spec.Template.Spec.Containers[0].Image
}

// TestPauseAnnotationLeavesTheAppAlone: while controller.core.oam.dev/pause is "true", a spec
// change is not delivered; removing the annotation delivers it.
func TestPauseAnnotationLeavesTheAppAlone(t *testing.T) {
	h := startHub(t)
	h.startController(controller.Options{})
	h.apply(fmt.Sprintf(annotatedApp, "paused", "", "app:1"))
	h.waitExists(&appsv1.Deployment{}, "default", "paused")
	h.markReady("default", "paused")
	h.waitApp("paused", "running", phaseIs(v1beta1.ApplicationRunning))

	before := metricValue(t, "ferry_application_paused_checks_total", "", "")
	h.apply(fmt.Sprintf(annotatedApp, "paused", `controller.core.oam.dev/pause: "true"`, "app:2"))
	require.Eventually(t, func() bool { return metricValue(t, "ferry_application_paused_checks_total", "", "") > before },
		15*time.Second, 50*time.Millisecond, "the controller saw the paused app")
	require.Equal(t, "app:1", image(h, "paused"), "nothing delivered while paused")
	app := h.app("paused")
	require.NotEqual(t, app.Generation, app.Status.ObservedGeneration, "the paused spec is not observed")

	h.apply(fmt.Sprintf(annotatedApp, "paused", "", "app:2"))
	require.Eventually(t, func() bool { return image(h, "paused") == "app:2" }, 30*time.Second, 100*time.Millisecond,
		"unpaused, the change is delivered")
}

// TestPublishVersionPinsWhatIsDelivered: while app.oam.dev/publishVersion keeps its value, spec
// changes wait; a new publish version delivers them as a new revision.
func TestPublishVersionPinsWhatIsDelivered(t *testing.T) {
	h := startHub(t)
	h.startController(controller.Options{})
	h.apply(fmt.Sprintf(annotatedApp, "pinned", `app.oam.dev/publishVersion: "v1"`, "app:1"))
	h.waitExists(&appsv1.Deployment{}, "default", "pinned")
	h.markReady("default", "pinned")
	app := h.waitApp("pinned", "running", phaseIs(v1beta1.ApplicationRunning))
	require.Equal(t, int64(1), app.Status.LatestRevision.Revision)

	changed := h.apply(fmt.Sprintf(annotatedApp, "pinned", `app.oam.dev/publishVersion: "v1"`, "app:2"))
	h.waitApp("pinned", "the changed spec observed", func(a *v1beta1.Application) bool {
		return a.Generation == changed.Generation && phaseIs(v1beta1.ApplicationRunning)(a)
	})
	require.Equal(t, "app:1", image(h, "pinned"), "the pinned revision is what is delivered")
	require.Equal(t, int64(1), h.app("pinned").Status.LatestRevision.Revision, "no new revision while pinned")

	h.apply(fmt.Sprintf(annotatedApp, "pinned", `app.oam.dev/publishVersion: "v2"`, "app:2"))
	app = h.waitApp("pinned", "revision 2", func(a *v1beta1.Application) bool {
		return a.Status.LatestRevision != nil && a.Status.LatestRevision.Revision == 2
	})
	require.Equal(t, "pinned-v2", app.Status.LatestRevision.Name)
	require.Eventually(t, func() bool { return image(h, "pinned") == "app:2" }, 30*time.Second, 100*time.Millisecond)
}
