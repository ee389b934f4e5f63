package controller_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/controller"
)

const revisedApp = `
apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: {name: revised}
spec:
  components:
    - {name: revised, type: worker, properties: {image: "%s"}}
`

// TestLostStatusWriteAdoptsTheSameRevision: when the status that recorded a new revision is
// lost (the controller died before writing it), the next controller finds the revision with the
// same content and carries on with it instead of making a second revision of the same spec
// (KubeVela-style duplicate revisions restart workflows and resend what their steps sent).
func TestLostStatusWriteAdoptsTheSameRevision(t *testing.T) {
	h := startHub(t)
	stop := h.startController(controller.Options{})
	ctx := context.Background()
	h.apply(fmt.Sprintf(revisedApp, "app:1"))
	h.waitExists(&appsv1.Deployment{}, "default", "revised")
	h.markReady("default", "revised")
	before := h.waitApp("revised", "running", phaseIs(v1beta1.ApplicationRunning))
	require.Equal(t, "revised-v1", before.Status.LatestRevision.Name)

	h.apply(fmt.Sprintf(revisedApp, "app:2"))
	app := h.waitApp("revised", "revision 2 running", func(a *v1beta1.Application) bool {
		return a.Status.LatestRevision.Revision == 2 && phaseIs(v1beta1.ApplicationRunning)(a)
	})
	stop()

	// The status goes back to what it was before revision 2, as if its write had been lost.
	app.Status = before.Status
	require.NoError(t, h.c.Status().Update(ctx, app))

	h.startController(controller.Options{})
	app = h.waitApp("revised", "revision 2 again", func(a *v1beta1.Application) bool {
		return a.Status.LatestRevision.Revision == 2 && phaseIs(v1beta1.ApplicationRunning)(a)
	})
	require.Equal(t, "revised-v2", app.Status.LatestRevision.Name)
	err := h.c.Get(ctx, client.ObjectKey{Namespace: "default", Name: "revised-v3"}, &v1beta1.ApplicationRevision{})
	require.True(t, apierrors.IsNotFound(err), "no second revision of the same spec")
}
