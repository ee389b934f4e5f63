package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clusterv1 "open-cluster-management.io/api/cluster/v1"
	workv1 "open-cluster-management.io/api/work/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/controller"
)

const policiesApp = `apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: {name: mine, namespace: default}
spec:
  components:
    - name: config
      type: k8s-objects
      properties:
        objects:
          - {apiVersion: v1, kind: ConfigMap, metadata: {name: fresh}, data: {a: "1"}}
          - {apiVersion: v1, kind: ConfigMap, metadata: {name: taken}, data: {a: "1"}}
          - {apiVersion: v1, kind: ConfigMap, metadata: {name: settings}, data: {a: "1"}}
          - {apiVersion: v1, kind: ConfigMap, metadata: {name: mutable}, data: {a: "2"}}
  policies:
    - {name: hands-off, type: read-only, properties: {rules: [{selector: {resourceNames: [settings]}}]}}
`

const applyOnceApp = `apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: {name: mine, namespace: default}
spec:
  components:
    - name: config
      type: k8s-objects
      properties:
        objects:
          - {apiVersion: v1, kind: ConfigMap, metadata: {name: once}, data: {a: "1"}}
  policies:
    - {name: first-time, type: apply-once, properties: {enable: true}}
`

// TestLiveDiffGoesThroughTheControllersApply: live-diff previews exactly what the controller's
// apply would do — a conflict with another Application's object, nothing for objects that
// read-only and apply-once policies protect, a diff where an owned object changes, a create for
// a new one — and changes nothing.
func TestLiveDiffGoesThroughTheControllersApply(t *testing.T) {
	h := startCLIHub(t, false)
	dir, k, c, ctx := h.dir, h.k, h.c, t.Context()
	code, _, errOut := h.ferry(t, "install", "--no-controller")
	require.Equal(t, exitOK, code, errOut)
	owned := func(app string) map[string]string {
		return map[string]string{v1beta1.LabelAppName: app, v1beta1.LabelAppNamespace: "default"}
	}
	existing := []*corev1.ConfigMap{
		{ObjectMeta: metav1.ObjectMeta{Name: "taken", Namespace: "default", Labels: owned("other")}, Data: map[string]string{"a": "0"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "settings", Namespace: "default"}, Data: map[string]string{"a": "by hand"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "once", Namespace: "default", Labels: owned("mine")}, Data: map[string]string{"a": "edited"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "mutable", Namespace: "default", Labels: owned("mine")}, Data: map[string]string{"a": "1"}},
	}
	for _, cm := range existing {
		require.NoError(t, c.Create(ctx, cm))
	}

	file := filepath.Join(dir, "app.yaml")
	require.NoError(t, os.WriteFile(file, []byte(policiesApp), 0o644))
	code, out, errOut := run(t, "", append([]string{"live-diff", "-f", file}, k...)...)
	require.Equal(t, exitOK, code, errOut)
	require.Contains(t, out, "+ create ConfigMap default/fresh\n")
	require.Contains(t, out, "! would conflict: ConfigMap default/taken: it belongs to Application default/other")
	require.Contains(t, out, "= left alone (read-only) ConfigMap default/settings\n")
	require.Contains(t, out, "--- live ConfigMap default/mutable")
	require.Contains(t, out, "-  a: \"1\"\n+  a: \"2\"")
	for _, name := range []string{"settings", "taken"} {
		require.NotContains(t, out, "--- live ConfigMap default/"+name, "no diff for %s", name)
	}
	once := filepath.Join(dir, "once.yaml")
	require.NoError(t, os.WriteFile(once, []byte(applyOnceApp), 0o644))
	code, out, errOut = run(t, "", append([]string{"live-diff", "-f", once}, k...)...)
	require.Equal(t, exitOK, code, errOut)
	require.Equal(t, "= left alone (apply-once) ConfigMap default/once\napplication default/mine: no changes\n", out)

	// A custom policy's objects are previewed like a step's.
	code, _, errOut = run(t, "", append([]string{"def", "apply", "../../pkg/appfile/testdata/compat/defs/team-namespace.cue"}, k...)...)
	require.Equal(t, exitOK, code, errOut)
	require.NoError(t, c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "teams"}}))
	quota := filepath.Join(dir, "quota.yaml")
	require.NoError(t, os.WriteFile(quota, []byte(applyOnceApp+"    - {name: quota, type: team-quota, properties: {team: payments}}\n"), 0o644))
	code, out, errOut = run(t, "", append([]string{"live-diff", "-f", quota}, k...)...)
	require.Equal(t, exitOK, code, errOut)
	require.Contains(t, out, "+ create ResourceQuota default/quota\n")
	require.Contains(t, out, "+ create ConfigMap teams/owner-mine\n")

	// Nothing changed.
	require.Error(t, c.Get(ctx, client.ObjectKey{Namespace: "default", Name: "fresh"}, &corev1.ConfigMap{}))
	for _, want := range existing {
		got := &corev1.ConfigMap{}
		require.NoError(t, c.Get(ctx, client.ObjectKeyFromObject(want), got))
		require.Equal(t, want.Data, got.Data)
		require.Equal(t, want.ResourceVersion, got.ResourceVersion)
	}
}

const remoteApp = `apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: {name: remote, namespace: default}
spec:
  components:
    - {name: remote, type: worker, properties: {image: "remote:1"}}
  policies:
    - {name: there, type: topology, properties: {clusters: [staging]}}
`

// TestLiveDiffShowsManifestWorkChanges: for a managed cluster, live-diff shows the change to
// the ManifestWork the controller would write.
func TestLiveDiffShowsManifestWorkChanges(t *testing.T) {
	h := startCLIHub(t, true)
	dir, k, c, ctx := h.dir, h.k, h.c, t.Context()
	code, _, errOut := h.ferry(t, "install", "--no-controller")
	require.Equal(t, exitOK, code, errOut)
	require.NoError(t, c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "staging"}}))
	require.NoError(t, c.Create(ctx, &clusterv1.ManagedCluster{ObjectMeta: metav1.ObjectMeta{Name: "staging"}}))

	file := filepath.Join(dir, "remote.yaml")
	require.NoError(t, os.WriteFile(file, []byte(remoteApp), 0o644))
	code, out, errOut := run(t, "", append([]string{"live-diff", "-f", file}, k...)...)
	require.Equal(t, exitOK, code, errOut)
	require.Equal(t, "+ create ManifestWork staging/remote-default\n", out)

	// The controller writes the ManifestWork (no agent applies it here).
	h.startController(t, controller.ManagerOptions{})
	code, _, errOut = run(t, "", append([]string{"up", "-f", file}, k...)...)
	require.Equal(t, exitOK, code, errOut)
	require.Eventually(t, func() bool {
		return c.Get(ctx, client.ObjectKey{Namespace: "staging", Name: "remote-default"}, &workv1.ManifestWork{}) == nil
	}, 30*time.Second, 100*time.Millisecond)

	code, out, errOut = run(t, "", append([]string{"live-diff", "-f", file}, k...)...)
	require.Equal(t, exitOK, code, errOut)
	require.Equal(t, "application default/remote: no changes\n", out)
	changed := filepath.Join(dir, "changed.yaml")
	require.NoError(t, os.WriteFile(changed, []byte(strings.Replace(remoteApp, "remote:1", "remote:2", 1)), 0o644))
	code, out, errOut = run(t, "", append([]string{"live-diff", "-f", changed}, k...)...)
	require.Equal(t, exitOK, code, errOut)
	require.Contains(t, out, "--- live ManifestWork staging/remote-default")
	require.Contains(t, out, "-            - image: remote:1\n+            - image: remote:2\n")
}
