package controller_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

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

// TestEnvBindingWithoutSteps: an Application with KubeVela's deprecated env-binding policy and no
// workflow runs one deploy2env step per environment on the controller, in order, each
// delivering its environment's components, patched, to its namespace; an apply-remaining step
// skips its exceptions.
func TestEnvBindingWithoutSteps(t *testing.T) {
	h := startHub(t)
	h.startController(controller.Options{})
	for _, ns := range []string{"qa", "prod"} {
		require.NoError(t, h.c.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))
	}
	h.apply(`apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: {name: envs}
spec:
  components:
    - {name: api, type: worker, properties: {image: api:1}}
    - {name: cache, type: worker, properties: {image: redis:7}}
  policies:
    - name: envs
      type: env-binding
      properties:
        envs:
          - name: qa
            placement: {namespaceSelector: {name: qa}}
            selector: {components: [api]}
          - name: prod
            placement: {namespaceSelector: {name: prod}}
            patch: {components: [{name: api, properties: {image: "api:2"}}]}
`)
	h.waitExists(&appsv1.Deployment{}, "qa", "api")
	h.markReady("qa", "api")
	h.waitExists(&appsv1.Deployment{}, "prod", "api")
	require.False(t, h.exists(&appsv1.Deployment{}, "qa", "cache"), "qa's selector leaves cache out")
	h.markReady("prod", "api")
	h.waitExists(&appsv1.Deployment{}, "prod", "cache")
	h.markReady("prod", "cache")
	app := h.waitApp("envs", "running", phaseIs(v1beta1.ApplicationRunning))
	var steps []string
	for _, s := range app.Status.Workflow.Steps {
		steps = append(steps, s.Name+" "+s.Type+" "+s.Phase)
	}
	require.Equal(t, []string{"deploy-envs-qa deploy2env succeeded", "deploy-envs-prod deploy2env succeeded"}, steps)
	prod := &appsv1.Deployment{}
	require.True(t, h.exists(prod, "prod", "api"))
	require.Equal(t, "api:2", prod.Spec.Template.Spec.Containers[0].Image)
	qa := &appsv1.Deployment{}
	require.True(t, h.exists(qa, "qa", "api"))
	require.Equal(t, "api:1", qa.Spec.Template.Spec.Containers[0].Image)

	// The old apply-remaining step: everything but its exceptions, on the hub.
	h.apply(`apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: {name: remaining}
spec:
  components:
    - {name: one, type: k8s-objects, properties: {objects: [{apiVersion: v1, kind: ConfigMap, data: {a: b}}]}}
    - {name: two, type: k8s-objects, properties: {objects: [{apiVersion: v1, kind: ConfigMap, data: {c: d}}]}}
  workflow:
    steps:
      - {name: rest, type: apply-remaining, properties: {exceptions: [two]}}
`)
	h.waitApp("remaining", "running", phaseIs(v1beta1.ApplicationRunning))
	require.True(t, h.exists(&corev1.ConfigMap{}, "default", "one"))
	require.False(t, h.exists(&corev1.ConfigMap{}, "default", "two"))
}

// TestKubeVelaStepsOnTheHub runs KubeVela's config, export and deployment steps on the
// controller against the API server: create-config writes a config Secret, read-config gives
// its properties to a later step through an output, export-data writes them to the clusters
// of a topology policy, apply-deployment waits until its Deployment is ready.
func TestKubeVelaStepsOnTheHub(t *testing.T) {
	h := startHub(t)
	h.startController(controller.Options{})
	h.apply(`apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: {name: steps}
spec:
  components:
    - {name: web, type: k8s-objects, properties: {objects: [{apiVersion: v1, kind: ConfigMap, data: {a: b}}]}}
  policies:
    - {name: hub, type: topology, properties: {clusters: [local]}}
  workflow:
    steps:
      - {name: deploy, type: deploy, properties: {policies: [hub]}}
      - {name: save, type: create-config, properties: {name: registry, template: image-registry, config: {registry: ghcr.io, port: 443}}}
      - name: load
        type: read-config
        properties: {name: registry}
        outputs: [{name: registry, valueFrom: output.$returns.config.registry}]
      - name: export
        type: export-data
        inputs: [{from: registry, parameterKey: data.registry}]
        properties: {name: settings, topology: hub, data: {source: config}}
      - {name: canary, type: apply-deployment, properties: {image: "nginx:1.27", replicas: 2}}
`)
	h.waitExists(&appsv1.Deployment{}, "default", "canary")
	h.markReady("default", "canary")
	app := h.waitApp("steps", "running", phaseIs(v1beta1.ApplicationRunning))
	require.Equal(t, "succeeded", app.Status.Workflow.Phase)

	secret := &corev1.Secret{}
	require.True(t, h.exists(secret, "default", "registry"))
	require.Equal(t, "image-registry", secret.Labels["config.oam.dev/type"])
	require.JSONEq(t, `{"registry":"ghcr.io","port":443}`, string(secret.Data["input-properties"]))
	settings := &corev1.ConfigMap{}
	require.True(t, h.exists(settings, "default", "settings"))
	require.Equal(t, map[string]string{"source": "config", "registry": "ghcr.io"}, settings.Data)
	canary := &appsv1.Deployment{}
	require.True(t, h.exists(canary, "default", "canary"))
	require.Equal(t, int32(2), *canary.Spec.Replicas)
	require.Equal(t, "nginx:1.27", canary.Spec.Template.Spec.Containers[0].Image)
}

// TestCustomStepOnTheDeployAction: a WorkflowStepDefinition written as KubeVela writes its
// deploy step (a message, then vela/multicluster #Deploy with the step's policies) delivers
// what the planner made of it, waits for health, and its objects are the app's: dropping the
// step collects them.
func TestCustomStepOnTheDeployAction(t *testing.T) {
	h := startHub(t)
	h.startController(controller.Options{})
	ctx := context.Background()
	h.installDefinition("../appfile/testdata/compat/defs/deploy-with-note.cue", "default")
	require.NoError(t, h.c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "staging"}}))
	h.apply(`apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: {name: custom}
spec:
  components:
    - {name: web, type: worker, properties: {image: "nginx:1.27"}}
  policies:
    - {name: staging, type: topology, properties: {clusters: [local], namespace: staging}}
  workflow:
    steps:
      - {name: ship, type: deploy-with-note, properties: {policies: [staging]}}
`)
	h.waitExists(&appsv1.Deployment{}, "staging", "web")
	app := h.waitApp("custom", "the step to wait for web", func(a *v1beta1.Application) bool {
		return a.Status.Workflow != nil && len(a.Status.Workflow.Steps) > 0 && a.Status.Workflow.Steps[0].Phase == "running"
	})
	require.Contains(t, app.Status.Workflow.Steps[0].Message, `component "web"`)
	h.markReady("staging", "web")
	app = h.waitApp("custom", "running", phaseIs(v1beta1.ApplicationRunning))
	require.Equal(t, "deploying with 1 policies; deployed to 1 target(s), healthy", app.Status.Workflow.Steps[0].Message)
	require.Len(t, app.Status.Services, 1)
	require.True(t, app.Status.Services[0].Healthy)

	h.apply(`apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: {name: custom}
spec:
  components:
    - {name: web, type: worker, properties: {image: "nginx:1.27"}}
  workflow:
    steps:
      - {name: note, type: print-message-in-status, properties: {message: nothing}}
`)
	h.waitGone(&appsv1.Deployment{}, "staging", "web")
}

// TestCustomPolicyObjects: the objects a custom PolicyDefinition renders are applied with the
// Application, before its workflow, and collected when the policy goes.
func TestCustomPolicyObjects(t *testing.T) {
	h := startHub(t)
	h.startController(controller.Options{})
	ctx := context.Background()
	h.installDefinition("../appfile/testdata/compat/defs/team-namespace.cue", "default")
	require.NoError(t, h.c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "teams"}}))
	app := `apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: {name: quota}
spec:
  components:
    - {name: web, type: k8s-objects, properties: {objects: [{apiVersion: v1, kind: ConfigMap, data: {a: b}}]}}
  policies:
    - {name: quota, type: team-quota, properties: {team: payments, cpu: "2"}}
`
	h.apply(app)
	h.waitApp("quota", "running", phaseIs(v1beta1.ApplicationRunning))
	quota := &corev1.ResourceQuota{}
	require.True(t, h.exists(quota, "default", "quota"))
	cpu := quota.Spec.Hard[corev1.ResourceRequestsCPU]
	require.Equal(t, "2", cpu.String())
	owner := &corev1.ConfigMap{}
	require.True(t, h.exists(owner, "teams", "owner-quota"))
	require.Equal(t, "payments", owner.Data["team"])
	require.Equal(t, "quota", owner.Labels[v1beta1.LabelAppName])

	h.apply(strings.Split(app, "  policies:")[0])
	h.waitGone(&corev1.ResourceQuota{}, "default", "quota")
	h.waitGone(&corev1.ConfigMap{}, "teams", "owner-quota")
}

// TestCollectServiceEndpoints: collect-service-endpoints finds where the app's Service is
// reached, and a later step takes its host through an output, as KubeVela's example does.
func TestCollectServiceEndpoints(t *testing.T) {
	h := startHub(t)
	h.startController(controller.Options{})
	h.apply(`apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: {name: endpoints}
spec:
  components:
    - name: web
      type: k8s-objects
      properties:
        objects: [{apiVersion: v1, kind: Service, spec: {ports: [{port: 8080, name: http}], selector: {app: web}}}]
  workflow:
    steps:
      - {name: deploy, type: deploy}
      - name: collect
        type: collect-service-endpoints
        outputs:
          - {name: host, valueFrom: value.endpoint.host}
          - {name: url, valueFrom: value.url}
      - name: export
        type: export-data
        inputs:
          - {from: host, parameterKey: data.host}
          - {from: url, parameterKey: data.url}
        properties: {name: where, data: {}}
`)
	h.waitApp("endpoints", "running", phaseIs(v1beta1.ApplicationRunning))
	where := &corev1.ConfigMap{}
	require.True(t, h.exists(where, "default", "where"))
	require.Equal(t, map[string]string{"host": "web.default", "url": "http://web.default:8080"}, where.Data)
}

// TestRestartWorkflowStep: the restart-workflow step schedules the finished workflow to run
// again (the app.oam.dev/restart-workflow annotation); at that time the controller runs it once
// more, and not again for the same time.
func TestRestartWorkflowStep(t *testing.T) {
	h := startHub(t)
	h.startController(controller.Options{})
	at := time.Now().Add(4 * time.Second).UTC().Format(time.RFC3339)
	h.apply(`apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: {name: again}
spec:
  components:
    - {name: web, type: k8s-objects, properties: {objects: [{apiVersion: v1, kind: ConfigMap, data: {a: b}}]}}
  workflow:
    steps:
      - {name: deploy, type: deploy}
      - {name: later, type: restart-workflow, properties: {at: "` + at + `"}}
`)
	app := h.waitApp("again", "the first run to finish", func(a *v1beta1.Application) bool {
		return a.Status.Workflow != nil && a.Status.Workflow.Finished && a.Status.Workflow.Run == 0
	})
	require.Equal(t, at, app.Annotations[v1beta1.AnnotationRestartWorkflow])
	require.Equal(t, "the workflow runs again: "+at, app.Status.Workflow.Steps[1].Message)
	app = h.waitApp("again", "a second run, at "+at, func(a *v1beta1.Application) bool {
		return a.Status.Workflow != nil && a.Status.Workflow.Run == 1 && a.Status.Workflow.Finished
	})
	atTime, err := time.Parse(time.RFC3339, at)
	require.NoError(t, err)
	require.GreaterOrEqual(t, app.Status.Workflow.StartTime.Compare(atTime), 0, "the second run starts at %s or later", at)
	// The second run started after the time: it is not restarted for it again.
	time.Sleep(3 * time.Second)
	require.NoError(t, h.c.Get(context.Background(), client.ObjectKeyFromObject(app), app))
	require.Equal(t, 1, app.Status.Workflow.Run)
}
