package controller_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/controller"
)

// TestRestoredOwnershipLabelIsRecognised: an owned object whose app.oam.dev labels a person
// removes is no longer the app's (a conflict, nothing overwritten); once they are put back, the
// app owns it again at the next event, not at a resync.
func TestRestoredOwnershipLabelIsRecognised(t *testing.T) {
	h := startHub(t)
	h.startController(controller.Options{ResyncInterval: time.Hour, UnhealthyRecheck: time.Hour})
	ctx := context.Background()
	h.apply(`
apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: {name: owned}
spec:
  components:
    - {name: owned, type: worker, properties: {image: "owned:1"}}
`)
	h.waitExists(&appsv1.Deployment{}, "default", "owned")
	h.markReady("default", "owned")
	h.waitApp("owned", "running", phaseIs(v1beta1.ApplicationRunning))

	applied := func(status metav1.ConditionStatus) func(*v1beta1.Application) bool {
		return func(a *v1beta1.Application) bool {
			c := apimeta.FindStatusCondition(a.Status.Conditions, v1beta1.ConditionApplied)
			return c != nil && c.Status == status
		}
	}
	setLabels := func(labels map[string]string) {
		d := &appsv1.Deployment{}
		require.NoError(t, h.c.Get(ctx, client.ObjectKey{Namespace: "default", Name: "owned"}, d))
		d.Labels = labels
		require.NoError(t, h.c.Update(ctx, d))
	}
	d := &appsv1.Deployment{}
	require.True(t, h.exists(d, "default", "owned"))
	labels := d.Labels
	setLabels(map[string]string{"kept": "by-hand"})
	app := h.waitApp("owned", "a conflict", applied(metav1.ConditionFalse))
	require.Contains(t, apimeta.FindStatusCondition(app.Status.Conditions, v1beta1.ConditionApplied).Message, "no Application manages it")

	setLabels(labels)
	h.waitApp("owned", "owned again", applied(metav1.ConditionTrue))
}
