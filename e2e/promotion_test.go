package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/install"
	"github.com/ferryhq/ferry/pkg/testenv"
	"github.com/ferryhq/ferry/pkg/workflow/appworkflow"
)

// flavoured renders a ConfigMap saying which version of the definition rendered it.
const flavoured = `
apiVersion: core.oam.dev/v1beta1
kind: ComponentDefinition
metadata: {name: flavoured}
spec:
  workload: {definition: {apiVersion: v1, kind: ConfigMap}}
  schematic:
    cue:
      template: |
        output: {
          apiVersion: "v1"
          kind:       "ConfigMap"
          metadata: name: context.name
          data: flavour: "FLAVOUR"
        }
        parameter: {}
`

const promotedApp = `
apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: {name: promoted, namespace: shop}
spec:
  components:
    - {name: settings, type: flavoured}
  policies:
    - {name: staging, type: topology, properties: {clusterLabelSelector: {env: staging}}}
    - {name: prod, type: topology, properties: {clusterLabelSelector: {env: prod}}}
  workflow:
    steps:
      - {name: deploy-staging, type: deploy, properties: {policies: [staging]}}
      - {name: approve, type: suspend}
      - {name: deploy-prod, type: deploy, properties: {policies: [prod]}}
`

// TestExactPromotion: a definition changed on the hub while a promotion waits for approval does
// not change what the promotion delivers — prod gets exactly what staging got (revision 1 as it
// rendered). Once that workflow has ended, the new definition makes revision 2, which starts the
// promotion again from staging. A rollback then delivers revision 1's objects as they were
// rendered, not a new render with the changed definition.
func TestExactPromotion(t *testing.T) {
	f := startFleet(t,
		testenv.ClusterSpec{Name: "staging", Labels: map[string]string{"env": "staging"}},
		testenv.ClusterSpec{Name: "prod", Labels: map[string]string{"env": "prod"}})
	ctx := context.Background()
	def := &v1beta1.ComponentDefinition{}
	require.NoError(t, yaml.Unmarshal([]byte(strings.Replace(flavoured, "FLAVOUR", "a", 1)), def))
	def.Namespace = install.DefaultNamespace
	require.NoError(t, f.hub.Create(ctx, def))

	f.applyApp(promotedApp)
	f.waitApp("shop", "promoted", "the approval", phase(v1beta1.ApplicationWorkflowSuspending))
	require.Equal(t, "a", f.flavour("staging"))

	// The platform team changes the definition while the release waits for approval.
	require.NoError(t, f.hub.Get(ctx, client.ObjectKeyFromObject(def), def))
	changed := &v1beta1.ComponentDefinition{}
	require.NoError(t, yaml.Unmarshal([]byte(strings.Replace(flavoured, "FLAVOUR", "b", 1)), changed))
	def.Spec = changed.Spec
	require.NoError(t, f.hub.Update(ctx, def))
	time.Sleep(3 * time.Second) // the controller sees the change
	app := f.waitApp("shop", "promoted", "still waiting", phase(v1beta1.ApplicationWorkflowSuspending))
	require.Equal(t, "promoted-v1", app.Status.LatestRevision.Name, "no new revision while the promotion runs")
	require.Equal(t, "a", f.flavour("staging"))

	require.NoError(t, appworkflow.Control(ctx, f.hub, client.ObjectKey{Namespace: "shop", Name: "promoted"}, appworkflow.CommandResume, "", "", time.Now()))
	f.waitApp("shop", "promoted", "the new revision's approval", func(a *v1beta1.Application) bool {
		return a.Status.Phase == v1beta1.ApplicationWorkflowSuspending && a.Status.LatestRevision.Name == "promoted-v2"
	})
	require.Equal(t, "a", f.flavour("prod"), "prod got exactly what staging got")
	require.Equal(t, "b", f.flavour("staging"), "revision 2 starts again from staging")

	// Roll back: revision 3 delivers what revision 1 rendered, although the definition on the
	// hub now renders b.
	key := client.ObjectKey{Namespace: "shop", Name: "promoted"}
	to, err := appworkflow.Rollback(ctx, f.hub, key)
	require.NoError(t, err)
	require.Equal(t, "promoted-v1", to)
	f.waitApp("shop", "promoted", "the rollback's approval", func(a *v1beta1.Application) bool {
		return a.Status.Phase == v1beta1.ApplicationWorkflowSuspending && a.Status.LatestRevision.Name == "promoted-v3"
	})
	rev := &v1beta1.ApplicationRevision{}
	require.NoError(t, f.hub.Get(ctx, client.ObjectKey{Namespace: "shop", Name: "promoted-v3"}, rev))
	require.Equal(t, "promoted-v1", rev.Annotations[v1beta1.AnnotationRenderedFrom])
	require.Eventually(t, func() bool { return f.flavour("staging") == "a" }, 30*time.Second, 200*time.Millisecond,
		"staging gets revision 1's objects back, not a new render")
	require.NoError(t, appworkflow.Control(ctx, f.hub, key, appworkflow.CommandResume, "", "", time.Now()))
	f.waitApp("shop", "promoted", "the rollback delivered", phase(v1beta1.ApplicationRunning))
	require.Equal(t, "a", f.flavour("prod"))
	require.Equal(t, "a", f.flavour("staging"))
}

// flavour reads the settings ConfigMap's flavour on a spoke.
func (f *fleet) flavour(cluster string) string {
	f.t.Helper()
	cm := &corev1.ConfigMap{}
	require.Eventually(f.t, func() bool {
		return f.spokes[cluster].Get(context.Background(), client.ObjectKey{Namespace: "shop", Name: "settings"}, cm) == nil
	}, 30*time.Second, 200*time.Millisecond, "settings on %s", cluster)
	return cm.Data["flavour"]
}
