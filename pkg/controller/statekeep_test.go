package controller_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/controller"
	"github.com/ferryhq/ferry/pkg/workflow/appworkflow"
	"github.com/ferryhq/ferry/pkg/workflow/cuestep"
)

// TestDriftIsCorrectedAndSettledAppsCostNoWrites: a hand edit of an owned Deployment is put back
// within the resync interval, and a settled, healthy app is not written to between resyncs.
func TestDriftIsCorrectedAndSettledAppsCostNoWrites(t *testing.T) {
	h := startHub(t)
	h.startController(controller.Options{ResyncInterval: time.Second})
	h.apply(`
apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: {name: steady}
spec:
  components:
    - {name: api, type: webservice, properties: {image: "api:1", ports: [{port: 8080, expose: true}]}}
`)
	h.waitExists(&appsv1.Deployment{}, "default", "api")
	h.markReady("default", "api")
	h.waitApp("steady", "running", phaseIs(v1beta1.ApplicationRunning))
	// Once a resync finds the app settled, its status is final.
	settled := metricValue(t, "ferry_application_settled_checks_total", "", "")
	require.Eventually(t, func() bool { return metricValue(t, "ferry_application_settled_checks_total", "", "") > settled },
		15*time.Second, 50*time.Millisecond, "a resync finds the app settled")
	app := h.app("steady")
	api, svc := &appsv1.Deployment{}, &corev1.Service{}
	require.True(t, h.exists(api, "default", "api"))
	require.True(t, h.exists(svc, "default", "api"))
	appRV, apiRV, svcRV := app.ResourceVersion, api.ResourceVersion, svc.ResourceVersion

	settled = metricValue(t, "ferry_application_settled_checks_total", "", "")
	require.Eventually(t, func() bool { return metricValue(t, "ferry_application_settled_checks_total", "", "") >= settled+3 },
		15*time.Second, 50*time.Millisecond, "three more resyncs")
	require.Equal(t, appRV, h.app("steady").ResourceVersion, "no status write when nothing changed")
	require.True(t, h.exists(api, "default", "api"))
	require.Equal(t, apiRV, api.ResourceVersion, "no write to the Deployment when it did not drift")
	require.True(t, h.exists(svc, "default", "api"))
	require.Equal(t, svcRV, svc.ResourceVersion)

	// A person edits the image by hand.
	api.Spec.Template.Spec.Containers[0].Image = "api:hacked"
	require.NoError(t, h.c.Update(context.Background(), api, client.FieldOwner("kubectl-edit")))
	require.Eventually(t, func() bool {
		return h.exists(api, "default", "api") && api.Spec.Template.Spec.Containers[0].Image == "api:1"
	}, 10*time.Second, 100*time.Millisecond, "the drift is corrected within the resync interval")
}

// TestControllerRestartsMidWorkflow stops the controller at several points of a workflow and
// starts a new one each time: no finished step runs again, the request is sent once, and its
// output reaches the later step intact.
func TestControllerRestartsMidWorkflow(t *testing.T) {
	h := startHub(t)
	var calls atomic.Int32
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		n := calls.Add(1)
		fmt.Fprintf(w, "ticket-%d for %s", n, body)
	}))
	defer server.Close()
	u, _ := url.Parse(server.URL)
	opts := controller.Options{HTTP: cuestep.HTTPOptions{AllowedHosts: []string{u.Hostname()}, AllowedNetworks: loopback}}

	stop := h.startController(opts)
	h.apply(fmt.Sprintf(`
apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: {name: release}
spec:
  components:
    - {name: web, type: worker, properties: {image: "web:1"}}
  workflow:
    steps:
      - {name: ship, type: deploy}
      - name: announce
        type: request
        properties: {url: %q, method: POST, body: {release: "web:1"}}
        outputs: [{name: ticket, valueFrom: http.response.body}]
      - {name: approve, type: suspend}
      - name: record
        type: apply-object
        inputs: [{from: ticket, parameterKey: value.data.ticket}]
        properties:
          value: {apiVersion: v1, kind: ConfigMap, metadata: {name: release-ticket}, data: {}}
`, server.URL+"/announce"))

	// 1: stopped while the deploy step waits for health.
	h.waitApp("release", "the deploy step waiting", func(a *v1beta1.Application) bool {
		return a.Status.Workflow != nil && a.Status.Workflow.Steps[0].Reason == "Waiting"
	})
	stop()
	h.markReady("default", "web")
	stop = h.startController(opts)

	// 2: stopped while suspended for approval, after the request was sent.
	app := h.waitApp("release", "the approval", phaseIs(v1beta1.ApplicationWorkflowSuspending))
	require.Equal(t, int32(1), calls.Load())
	shipID := app.Status.Workflow.Steps[0].ID
	stop()
	before := metricValue(t, "ferry_application_reconcile_total", "phase", string(v1beta1.ApplicationWorkflowSuspending))
	stop = h.startController(opts)
	require.Eventually(t, func() bool {
		return metricValue(t, "ferry_application_reconcile_total", "phase", string(v1beta1.ApplicationWorkflowSuspending)) > before
	}, 15*time.Second, 50*time.Millisecond, "the new controller reconciles the suspended app")
	app = h.waitApp("release", "still suspended", phaseIs(v1beta1.ApplicationWorkflowSuspending))
	require.Equal(t, shipID, app.Status.Workflow.Steps[0].ID, "the deploy step did not run again")

	// 3: resumed, and the controller replaced right after.
	require.NoError(t, appworkflow.Control(context.Background(), h.c, client.ObjectKey{Namespace: "default", Name: "release"},
		appworkflow.CommandResume, "", "", time.Now()))
	stop()
	h.startController(opts)
	h.waitApp("release", "running", phaseIs(v1beta1.ApplicationRunning))
	require.Equal(t, int32(1), calls.Load(), "the request was sent once")
	cm := &corev1.ConfigMap{}
	require.True(t, h.exists(cm, "default", "release-ticket"))
	require.Equal(t, `ticket-1 for {"release":"web:1"}`, cm.Data["ticket"], "the output survived every restart")
	require.Equal(t, "release", cm.Labels[v1beta1.LabelAppName], "objects steps apply belong to the app")
}
