package controller_test

import (
	"testing"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"

	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/controller"
)

// TestApplyComponentSteps: apply-component steps deliver one component each, in workflow
// order: the second waits until the first is healthy. Their objects are the app's, so an
// update that drops one collects it.
func TestApplyComponentSteps(t *testing.T) {
	h := startHub(t)
	h.startController(controller.Options{})
	h.apply(`apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: {name: ordered}
spec:
  components:
    - {name: db, type: worker, properties: {image: postgres:17}}
    - {name: api, type: worker, properties: {image: api:1}}
  workflow:
    steps:
      - {name: db-first, type: apply-component, properties: {component: db}}
      - {name: then-api, type: apply-component, properties: {component: api}}
`)
	h.waitExists(&appsv1.Deployment{}, "default", "db")
	app := h.waitApp("ordered", "the first step to wait for db", func(a *v1beta1.Application) bool {
		return a.Status.Workflow != nil && len(a.Status.Workflow.Steps) > 0 && a.Status.Workflow.Steps[0].Phase == "running"
	})
	require.Contains(t, app.Status.Workflow.Steps[0].Message, `component "db"`)
	require.False(t, h.exists(&appsv1.Deployment{}, "default", "api"), "the second step waits for the first")

	h.markReady("default", "db")
	h.waitExists(&appsv1.Deployment{}, "default", "api")
	h.markReady("default", "api")
	app = h.waitApp("ordered", "running", phaseIs(v1beta1.ApplicationRunning))
	require.Len(t, app.Status.Services, 2)

	// Dropping the second step (and its component) collects what it delivered.
	h.apply(`apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: {name: ordered}
spec:
  components:
    - {name: db, type: worker, properties: {image: postgres:17}}
  workflow:
    steps:
      - {name: db-first, type: apply-component, properties: {component: db}}
`)
	h.waitGone(&appsv1.Deployment{}, "default", "api")
	require.True(t, h.exists(&appsv1.Deployment{}, "default", "db"))
}

// TestWorkflowOnlyApplication: an Application without components (KubeVela allows it) runs its
// workflow to the end on the controller, with an unnamed policy beside it.
func TestWorkflowOnlyApplication(t *testing.T) {
	h := startHub(t)
	h.startController(controller.Options{})
	h.apply(`apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: {name: steps-only}
spec:
  policies:
    - type: garbage-collect
      properties: {keepLegacyResource: true}
  workflow:
    steps:
      - {name: note, type: print-message-in-status, properties: {message: nothing to deploy}}
`)
	app := h.waitApp("steps-only", "running", phaseIs(v1beta1.ApplicationRunning))
	require.Empty(t, app.Status.Services)
	require.Equal(t, "succeeded", app.Status.Workflow.Phase)
	require.Equal(t, "nothing to deploy", app.Status.Workflow.Steps[0].Message)
}
