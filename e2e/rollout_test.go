package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	workv1 "open-cluster-management.io/api/work/v1"

	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/dispatch"
	"github.com/ferryhq/ferry/pkg/testenv"
	"github.com/ferryhq/ferry/pkg/workflow"
)

// fleetRollout delivers web to four clusters one at a time: each must be healthy for 3s before
// the next changes; one that is not healthy within 20s stops the rollout, which then returns
// the clusters it changed to what they ran before.
const fleetRollout = `
apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: {name: web, namespace: shop}
spec:
  components:
    - {name: web, type: webservice, properties: {image: "web:%s"}}
  policies:
    - {name: fleet, type: topology, properties: {clusters: [c1, c2, c3, c4]}}
  workflow:
    steps:
      - name: roll-out
        type: deploy
        properties:
          policies: [fleet]
          rolloutStrategy:
            type: Progressive
            progressive: {maxConcurrency: 1, minSuccessTime: 3s, progressDeadline: 20s, maxFailures: 0}
          onFailure: rollback
`

// TestProgressiveRollout runs a Progressive rollout over four managed clusters with real work
// agents. Revision 1 reaches the clusters one at a time in decision order, each only after the
// one before has been healthy for minSuccessTime (the start times prove it), although the
// controller restarts in the middle: the new one continues at the same cluster and rewrites
// nothing that was done. Revision 2 meets a
// cluster whose new pods never become ready: the rollout stops there (maxFailures: 0), the
// cluster after it is never touched, and onFailure: rollback returns the changed clusters to
// revision 1's objects. Nothing is tried again afterwards; `ferry status` shows each cluster.
// Revision 3 is guarded by rollback.onUnhealthyWithin: when a cluster's pods fail after it
// succeeded, that cluster alone returns to what it ran before and the workflow fails. Revision 4
// reaches every cluster, but a gate after it fails: every cluster returns to what it ran.
func TestProgressiveRollout(t *testing.T) {
	f := startFleet(t,
		testenv.ClusterSpec{Name: "c1"}, testenv.ClusterSpec{Name: "c2"},
		testenv.ClusterSpec{Name: "c3"}, testenv.ClusterSpec{Name: "c4"})
	ctx := context.Background()
	ferry := ferryOnHub(t, f)
	clusters := []string{"c1", "c2", "c3", "c4"}

	f.applyApp(fmt.Sprintf(fleetRollout, "1"))
	workName := dispatch.WorkName("web", "shop", "roll-out", 0)

	// The controller restarts while c2 is changing: the new one continues at c2 and writes
	// nothing to c1, which is done.
	f.waitApp("shop", "web", "c2 changing", func(a *v1beta1.Application) bool {
		p := a.Status.Workflow.Steps[0].Progress
		return p != nil && len(p.Rollout) == 4 && p.Rollout[1].Phase == "Progressing"
	})
	c1Work := &workv1.ManifestWork{}
	require.NoError(t, f.hub.Get(ctx, client.ObjectKey{Namespace: "c1", Name: workName}, c1Work))
	f.restartController(2 * time.Second)
	app := f.waitApp("shop", "web", "revision 1 everywhere", phase(v1beta1.ApplicationRunning))
	after := &workv1.ManifestWork{}
	require.NoError(t, f.hub.Get(ctx, client.ObjectKey{Namespace: "c1", Name: workName}, after))
	require.Equal(t, c1Work.Generation, after.Generation, "c1's ManifestWork was not written again")
	require.Equal(t, "web-v1", after.Annotations[v1beta1.AnnotationAppRevision])
	step := app.Status.Workflow.Steps[0].StepStatus
	require.Equal(t, string(workflow.StepSucceeded), step.Phase, step.Message)
	require.NotNil(t, step.Progress)
	require.Len(t, step.Progress.Rollout, 4)
	for i, c := range step.Progress.Rollout {
		require.Equal(t, clusters[i], c.Cluster, "decision order")
		require.Equal(t, "Succeeded", c.Phase)
		require.Empty(t, c.From, "%s ran nothing before", c.Cluster)
		if i > 0 {
			prev := step.Progress.Rollout[i-1]
			require.GreaterOrEqual(t, c.Started.Sub(prev.Started.Time), 3*time.Second,
				"%s changed only after %s had been healthy for minSuccessTime", c.Cluster, prev.Cluster)
			require.False(t, c.Started.Before(prev.Finished), "%s changed after %s succeeded", c.Cluster, prev.Cluster)
		}
	}
	for _, c := range clusters {
		require.Equal(t, "web:1", image(f.deployment(c, "shop", "web")), c)
	}
	c4 := f.deployment("c4", "shop", "web")

	// Revision 2: c3's new pods never become ready.
	f.sick["c3"].Store(true)
	f.applyApp(fmt.Sprintf(fleetRollout, "2"))
	app = f.waitApp("shop", "web", "the rollout to stop", func(a *v1beta1.Application) bool {
		return a.Status.Workflow != nil && a.Status.Workflow.AppRevision == "web-v2" && a.Status.Workflow.Finished
	})
	step = app.Status.Workflow.Steps[0].StepStatus
	require.Equal(t, string(workflow.StepFailed), step.Phase)
	require.Equal(t, workflow.ReasonRolledBack, step.Reason)
	require.Contains(t, step.Message, `rollout stopped: c3: did not succeed within progressDeadline 20s: component "web"`)
	require.Contains(t, step.Message, "rolled back c1 to web-v1, c2 to web-v1, c3 to web-v1")
	phases := map[string]string{}
	for _, c := range step.Progress.Rollout {
		phases[c.Cluster] = c.Phase
		if c.Cluster != "c4" {
			require.Equal(t, "web-v1", c.From, c.Cluster)
		}
	}
	require.Equal(t, map[string]string{"c1": "RolledBack", "c2": "RolledBack", "c3": "RolledBack", "c4": "Pending"}, phases)

	// The changed clusters run revision 1's objects again; c4 was never touched.
	for _, c := range []string{"c1", "c2", "c3"} {
		require.Eventually(t, func() bool { return image(f.deployment(c, "shop", "web")) == "web:1" }, 30*time.Second, 200*time.Millisecond,
			"%s returns to web:1", c)
		work := &workv1.ManifestWork{}
		require.NoError(t, f.hub.Get(ctx, client.ObjectKey{Namespace: c, Name: workName}, work))
		require.Equal(t, "web-v1", work.Annotations[v1beta1.AnnotationAppRevision], c)
	}
	now := f.deployment("c4", "shop", "web")
	require.Equal(t, c4.UID, now.UID)
	require.Equal(t, c4.Generation, now.Generation, "c4 was never changed")
	require.Equal(t, "web:1", image(now))
	events := &corev1.EventList{}
	require.NoError(t, f.hub.List(ctx, events, client.InNamespace("shop")))
	var reasons []string
	for _, e := range events.Items {
		reasons = append(reasons, e.Reason)
	}
	require.Contains(t, reasons, v1beta1.ReasonRolloutStopped)
	require.Contains(t, reasons, v1beta1.ReasonRolledBack)

	// No retry: the failed revision is not tried again, so the ManifestWorks stay as they are.
	f.worksStayFor(5*time.Second, workName, clusters...)

	out, err := ferry("status", "web", "-n", "shop")
	require.NoError(t, err, out)
	require.Regexp(t, `(?m)^      cluster c1: RolledBack \(group fleet, changed \S+, from web-v1\): returned to web-v1; before: healthy for 3s$`, out)
	require.Regexp(t, `(?m)^      cluster c3: RolledBack \(group fleet, changed \S+, from web-v1\): returned to web-v1; before: did not succeed within progressDeadline 20s`, out)
	require.Regexp(t, `(?m)^      cluster c4: Pending \(group fleet\)$`, out)
	require.True(t, strings.Contains(out, "rolled back c1 to web-v1, c2 to web-v1, c3 to web-v1"), out)

	// Revision 3, with c3 healthy again and a guard: a cluster that turns unhealthy within a
	// minute of succeeding goes back to what it ran before, and the step fails.
	f.sick["c3"].Store(false)
	guarded := strings.Replace(fmt.Sprintf(fleetRollout, "3"), "          onFailure: rollback\n",
		"          rollback: {onFailure: true, onUnhealthyWithin: 1m}\n", 1)
	f.applyApp(guarded)
	f.waitApp("shop", "web", "revision 3 everywhere", func(a *v1beta1.Application) bool {
		return a.Status.Phase == v1beta1.ApplicationRunning && a.Status.Workflow.AppRevision == "web-v3"
	})
	for _, c := range clusters {
		require.Equal(t, "web:3", image(f.deployment(c, "shop", "web")), c)
	}
	f.sick["c2"].Store(true)
	sickened := f.deployment("c2", "shop", "web")
	sickened.Status.ReadyReplicas, sickened.Status.AvailableReplicas = 0, 0
	require.NoError(t, f.spokes["c2"].Status().Update(ctx, sickened))
	app = f.waitApp("shop", "web", "the guard to roll c2 back", func(a *v1beta1.Application) bool {
		return a.Status.Workflow.Phase == string(workflow.PhaseFailed)
	})
	step = app.Status.Workflow.Steps[0].StepStatus
	require.Equal(t, workflow.ReasonRolledBack, step.Reason)
	require.Contains(t, step.Message, `unhealthy within onUnhealthyWithin 1m0s of succeeding: c2: component "web"`)
	require.Contains(t, step.Message, "rolled back c2 to web-v1")
	require.Eventually(t, func() bool { return image(f.deployment("c2", "shop", "web")) == "web:1" }, 30*time.Second, 200*time.Millisecond,
		"c2 returns to the revision it ran before")
	for _, c := range []string{"c1", "c3", "c4"} {
		require.Equal(t, "web:3", image(f.deployment(c, "shop", "web")), "%s stays healthy on revision 3", c)
	}
	require.Equal(t, v1beta1.ApplicationWorkflowFailed, app.Status.Phase)
	f.worksStayFor(5*time.Second, workName, clusters...)

	// Revision 4 reaches every cluster, then a gate after it fails (a metric check whose
	// Prometheus is not allowed): rollback on failure returns every cluster to what it ran.
	f.sick["c2"].Store(false)
	gated := strings.Replace(fmt.Sprintf(fleetRollout, "4"), "          onFailure: rollback\n", `          onFailure: rollback
      - name: canary-analysis
        type: check-metrics
        properties: {query: "sum(up)", condition: ">=1", metricEndpoint: "http://prometheus.invalid:9090"}
`, 1)
	f.applyApp(gated)
	app = f.waitApp("shop", "web", "the gate to fail and the rollback", func(a *v1beta1.Application) bool {
		return a.Status.Workflow.AppRevision == "web-v4" && a.Status.Workflow.Phase == string(workflow.PhaseFailed) &&
			a.Status.Workflow.Steps[0].Reason == workflow.ReasonRolledBack
	})
	step = app.Status.Workflow.Steps[0].StepStatus
	require.Contains(t, step.Message, `the workflow failed (step "canary-analysis" failed`)
	require.Contains(t, step.Message, "rolled back c1 to web-v3, c2 to web-v1, c3 to web-v3, c4 to web-v3")
	for c, want := range map[string]string{"c1": "web:3", "c2": "web:1", "c3": "web:3", "c4": "web:3"} {
		require.Eventually(t, func() bool { return image(f.deployment(c, "shop", "web")) == want }, 30*time.Second, 200*time.Millisecond,
			"%s returns to %s", c, want)
	}
	f.worksStayFor(3*time.Second, workName, clusters...)
}

// worksStayFor checks that the named ManifestWorks are not written (their generation stays) for
// a while: nothing is retried.
func (f *fleet) worksStayFor(d time.Duration, name string, clusters ...string) {
	f.t.Helper()
	ctx := context.Background()
	generations := func() map[string]int64 {
		out := map[string]int64{}
		for _, c := range clusters {
			work := &workv1.ManifestWork{}
			require.NoError(f.t, f.hub.Get(ctx, client.ObjectKey{Namespace: c, Name: name}, work))
			out[c] = work.Generation
		}
		return out
	}
	before := generations()
	time.Sleep(d)
	require.Equal(f.t, before, generations(), "the ManifestWorks are not written again")
}

// image is a Deployment's first container's image; "" when there is no Deployment.
func image(d *appsv1.Deployment) string {
	if d == nil {
		return ""
	}
	return d.Spec.Template.Spec.Containers[0].Image
}
