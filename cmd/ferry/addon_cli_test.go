package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"

	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	clusterv1 "open-cluster-management.io/api/cluster/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/addon"
	"github.com/ferryhq/ferry/pkg/controller"
	"github.com/ferryhq/ferry/pkg/install"
	"github.com/ferryhq/ferry/pkg/testenv"
)

// TestAddonLifecycle drives `ferry addon` on a real hub installed the default way (admission
// webhook on) with the controller running: registries (a directory, and an HTTP index served
// on loopback from packages `ferry addon package` and `index` made), dependency resolution,
// --dry-run -o yaml, enable --wait, list and status from the real Application, upgrade keeping
// parameters and object UIDs, disable refused while used and exact once not, and an addon whose
// Application fails listed as failed.
func TestAddonLifecycle(t *testing.T) {
	h := startCLIHub(t, true)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := h.c
	port := testenv.FreePortForTest(t)
	// Single-tenant, as the controller below runs: apps act with the controller's rights, which
	// enable checks up front.
	code, _, errOut := h.ferry(t, "install", "--no-controller", "--webhook-url", fmt.Sprintf("https://127.0.0.1:%d", port), "--impersonate=false")
	require.Equal(t, exitOK, code, errOut)
	done := make(chan error, 1)
	go func() {
		done <- controller.Run(ctx, h.cfg, controller.ManagerOptions{
			Webhook: controller.WebhookOptions{Host: "127.0.0.1", Port: port, ManageCert: true}})
	}()
	defer func() { cancel(); require.NoError(t, <-done) }()
	go testenv.PlayKubelet(ctx, c, 50*time.Millisecond)
	ns := install.DefaultNamespace
	for _, name := range []string{"edge-1", "edge-2"} {
		require.NoError(t, c.Create(ctx, &clusterv1.ManagedCluster{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"region": "eu"}},
			Spec: clusterv1.ManagedClusterSpec{HubAcceptsClient: true}}))
	}

	// A built-in addon with a dependency, on a managed cluster: the dependency goes there too,
	// and the hub gets only the definitions.
	code, out, errOut := h.ferry(t, "addon", "enable", "uptime", "--clusters", "edge-1", "replicas=2", "--dry-run", "-o", "yaml")
	require.Equal(t, exitOK, code, errOut)
	placed := map[string][]any{}
	for _, doc := range strings.Split(out, "\n---\n") {
		obj := map[string]any{}
		require.NoError(t, yaml.Unmarshal([]byte(doc), &obj))
		u := unstructured.Unstructured{Object: obj}
		if u.GetKind() != "Application" {
			continue
		}
		policies, _, _ := unstructured.NestedSlice(obj, "spec", "policies")
		require.Len(t, policies, 1, u.GetName())
		clusters, _, _ := unstructured.NestedSlice(policies[0].(map[string]any), "properties", "clusters")
		placed[u.GetName()] = clusters
	}
	require.Equal(t, map[string][]any{"addon-uptime": {"local", "edge-1"}, "addon-uptime-crds": {"local", "edge-1"}}, placed)
	code, out, errOut = h.ferry(t, "addon", "enable", "uptime", "--clusters", "edge-1", "replicas=9")
	require.Equal(t, exitUserError, code, out)
	require.Contains(t, errOut, "parameter.replicas: invalid value 9 (out of bound <=5)")

	// A directory registry with crds 1.1.0, 1.3.0 and 2.0.0, a (crds >=1.2 <2, c) and c (crds ^1.3).
	code, out, errOut = h.ferry(t, "addon", "registry", "add", "deps", "--type", "dir", "--url", "testdata/addons/deps")
	require.Equal(t, exitOK, code, errOut)
	require.Contains(t, out, "registry deps added (dir, 4 addons)")

	// --dry-run -o yaml prints everything enable would apply, and applies nothing.
	code, out, errOut = h.ferry(t, "addon", "enable", "a", "greeting=hi", "apiToken=s3cret", "--dry-run", "-o", "yaml")
	require.Equal(t, exitOK, code, errOut)
	for _, want := range []string{"name: addon-crds", "name: addon-c", "name: addon-a", "kind: ComponentDefinition", "name: widget",
		"name: addon-a-record", "addons.ferry.dev/version: 1.3.0"} {
		require.Contains(t, out, want)
	}
	records, err := addon.Records(ctx, c, ns)
	require.NoError(t, err)
	require.Empty(t, records, "a dry run applies nothing")
	// The installed controller's ServiceAccount may not create CRDs on the hub: said up front.
	require.Contains(t, errOut, "Warning: addon crds@1.3.0: the controller (ServiceAccount ferry-system/ferry-controller) may not apply customresourcedefinitions.apiextensions.k8s.io (cluster scope) on the hub")
	require.NotContains(t, errOut, "configmaps", "what the controller may apply is not mentioned")

	// Enable: crds 1.3.0 (the newest that satisfies both constraints) first, then c, then a.
	code, out, errOut = h.ferry(t, "addon", "enable", "a", "greeting=hi", "apiToken=s3cret", "--wait", "--timeout", "90s")
	require.Equal(t, exitOK, code, errOut+out)
	iCRDs := strings.Index(out, "addon crds@1.3.0 enabled on the hub (a dependency)")
	iC := strings.Index(out, "addon c@1.0.0 enabled on the hub (a dependency)")
	iA := strings.Index(out, "addon a@1.0.0 enabled on the hub")
	require.True(t, iCRDs >= 0 && iC > iCRDs && iA > iC, out)
	crd := &unstructured.Unstructured{}
	crd.SetAPIVersion("apiextensions.k8s.io/v1")
	crd.SetKind("CustomResourceDefinition")
	require.NoError(t, c.Get(ctx, client.ObjectKey{Name: "widgets.test.ferry.dev"}, crd))
	require.Equal(t, "1.3.0", crd.GetLabels()["fixture-version"])
	settings := &corev1.ConfigMap{}
	require.NoError(t, c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "a-settings"}, settings))
	require.Equal(t, "hi", settings.Data["greeting"])

	code, out, errOut = h.ferry(t, "addon", "list")
	require.Equal(t, exitOK, code, errOut)
	require.Regexp(t, `crds\s+deps\s+2.0.0, 1.3.0, 1.1.0\s+1.3.0\s+enabled`, out)
	require.Regexp(t, `a\s+deps\s+1.0.0\s+1.0.0\s+enabled`, out)
	require.Regexp(t, `uptime\s+ferry\s+1.0.0\s+-\s+disabled`, out)
	code, out, errOut = h.ferry(t, "addon", "status", "a")
	require.Equal(t, exitOK, code, errOut)
	require.Contains(t, out, "state:    enabled")
	require.Contains(t, out, `"apiToken":"******"`)
	require.NotContains(t, out, "s3cret")
	require.Contains(t, out, "depends:  c, crds")

	// Disable is refused while an Application uses a's component type, or an addon needs it.
	app := &v1beta1.Application{ObjectMeta: metav1.ObjectMeta{Name: "gadget", Namespace: "default"},
		Spec: v1beta1.ApplicationSpec{Components: []v1beta1.ApplicationComponent{{Name: "g", Type: "widget"}}}}
	require.NoError(t, c.Create(ctx, app))
	code, _, errOut = h.ferry(t, "addon", "disable", "a")
	require.Equal(t, exitUserError, code)
	require.Contains(t, errOut, "addon a is used by applications default/gadget (component widget)")
	code, _, errOut = h.ferry(t, "addon", "disable", "crds")
	require.Equal(t, exitUserError, code)
	require.Contains(t, errOut, "addon crds is used by addons a, c")

	// Disable after the app is gone removes what a installed, and nothing else: a bystander
	// ConfigMap labelled like the addon's objects survives.
	require.NoError(t, c.Delete(ctx, app))
	bystander := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "bystander", Namespace: ns,
		Labels: map[string]string{addon.LabelAddonName: "a", "app.oam.dev/name": "addon-a"}}}
	require.NoError(t, c.Create(ctx, bystander))
	require.Eventually(t, func() bool {
		return apierrors.IsNotFound(c.Get(ctx, client.ObjectKeyFromObject(app), &v1beta1.Application{}))
	}, 30*time.Second, 200*time.Millisecond)
	code, out, errOut = h.ferry(t, "addon", "disable", "a", "--timeout", "60s")
	require.Equal(t, exitOK, code, errOut)
	require.Contains(t, out, "addon a disabled")
	require.True(t, apierrors.IsNotFound(c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "a-settings"}, &corev1.ConfigMap{})))
	require.True(t, apierrors.IsNotFound(c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "widget"}, &v1beta1.ComponentDefinition{})))
	require.True(t, apierrors.IsNotFound(c.Get(ctx, client.ObjectKey{Namespace: ns, Name: addon.RecordName("a")}, &corev1.Secret{})))
	require.NoError(t, c.Get(ctx, client.ObjectKeyFromObject(bystander), &corev1.ConfigMap{}), "the bystander survives")
	require.NoError(t, c.Get(ctx, client.ObjectKey{Name: "widgets.test.ferry.dev"}, crd), "crds stays: c still needs it")

	// An HTTP registry: packages and an index made by the CLI, served by a real file server.
	pkgs := t.TempDir()
	for _, v := range []string{"1.0.0", "1.1.0"} {
		code, out, errOut = run(t, "", "addon", "package", "testdata/addons/http-src/tools-"+v, "-d", pkgs)
		require.Equal(t, exitOK, code, errOut)
		require.Contains(t, out, filepath.Join(pkgs, "tools-"+v+".tgz")+" written")
	}
	code, out, errOut = run(t, "", "addon", "index", pkgs)
	require.Equal(t, exitOK, code, errOut)
	require.Contains(t, out, "1 addons, 2 versions")
	url := serveDir(t, pkgs)
	code, out, errOut = h.ferry(t, "addon", "registry", "add", "web", "--type", "http", "--url", url)
	require.Equal(t, exitOK, code, errOut)
	require.Contains(t, out, "registry web added (http, 1 addons)")

	code, out, errOut = h.ferry(t, "addon", "enable", "tools@1.0.0", "level=debug", "--wait", "--timeout", "60s")
	require.Equal(t, exitOK, code, errOut+out)
	keep := &corev1.ConfigMap{}
	require.NoError(t, c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "tools-keep"}, keep))
	require.NoError(t, c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "tools-old"}, &corev1.ConfigMap{}))

	// Upgrade keeps the parameters and the unchanged objects (same UID), drops what 1.1.0 no
	// longer has, and adds what it brings.
	code, out, errOut = h.ferry(t, "addon", "upgrade", "tools", "--wait", "--timeout", "60s")
	require.Equal(t, exitOK, code, errOut+out)
	require.Contains(t, out, "addon tools@1.1.0 upgraded from 1.0.0")
	level := &corev1.ConfigMap{}
	require.Eventually(t, func() bool {
		return c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "tools-level"}, level) == nil && level.Data["version"] == "1.1.0"
	}, 30*time.Second, 200*time.Millisecond)
	require.Equal(t, "debug", level.Data["level"], "the recorded parameter is kept")
	kept := &corev1.ConfigMap{}
	require.NoError(t, c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "tools-keep"}, kept))
	require.Equal(t, keep.UID, kept.UID, "an unchanged object is taken over, not recreated")
	require.Eventually(t, func() bool {
		return apierrors.IsNotFound(c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "tools-old"}, &corev1.ConfigMap{}))
	}, 30*time.Second, 200*time.Millisecond, "what 1.1.0 no longer has is collected")
	require.NoError(t, c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "tools-new"}, &corev1.ConfigMap{}))

	// Status truth: an addon whose Application cannot be applied is failed, with the reason,
	// never enabled.
	// --wait does not give up while the controller keeps trying: it waits out --timeout, showing why.
	code, out, errOut = h.ferry(t, "addon", "enable", "broken", "--wait", "--timeout", "4s")
	require.Equal(t, exitUserError, code, errOut+out)
	require.Contains(t, out, "broken: failed: trying again: apply ConfigMap ferry-system/Not_A_Valid_Name")
	require.Contains(t, errOut, "addons not enabled after 4s")
	require.Eventually(t, func() bool {
		_, out, _ := h.ferry(t, "addon", "list")
		return regexpMatch(`broken\s+deps\s+1.0.0\s+1.0.0\s+failed \(.*Not_A_Valid_Name`, out)
	}, 60*time.Second, 500*time.Millisecond)
	code, out, _ = h.ferry(t, "addon", "status", "broken")
	require.Equal(t, exitOK, code)
	require.Contains(t, out, "state:    failed")

	// Resolution failures install nothing and say why.
	code, _, errOut = h.ferry(t, "addon", "enable", "a@9.9.9")
	require.Equal(t, exitUserError, code)
	require.Contains(t, errOut, "no version of addon a satisfies every constraint: you asks for 9.9.9; available: 1.0.0 (deps)")
	code, _, errOut = h.ferry(t, "addon", "enable", "nope")
	require.Equal(t, exitUserError, code)
	require.Contains(t, errOut, "addon nope is in no registry")
	code, _, errOut = h.ferry(t, "addon", "enable", "a", "greting=typo")
	require.Equal(t, exitUserError, code)
	require.Contains(t, errOut, "parameter.greting: unknown parameter (known: greeting, apiToken)")
	rec, err := addon.GetRecord(ctx, c, ns, "a")
	require.NoError(t, err)
	require.Nil(t, rec, "a failed enable leaves nothing")

	// Broken addons a registry lists: enable fails with the file and field, and leaves nothing.
	code, _, errOut = h.ferry(t, "addon", "registry", "add", "broken", "--type", "dir", "--url", "testdata/addons/broken")
	require.Equal(t, exitOK, code, errOut)
	for name, want := range map[string]string{
		"bad-cue":      "bad-cue/template.cue:2:23: expected '}', found 'EOF'",
		"bad-def":      "bad-def/definitions/bad.cue:2:37: patch.metadata.labels: conflicting values 3 and string",
		"bad-resource": "bad-resource/resources/x.yaml: document 1: an object needs apiVersion and kind",
		"bad-plan":     `bad-plan/template.cue) does not plan on this hub: application "addon-bad-plan": spec.components[0].type: component "x": unknown component type "websrvice" (did you mean "webservice"?)`,
		"bad-artifact": "artifact crds: download (use --mirror DIR on a hub without network)",
	} {
		code, _, errOut = h.ferry(t, "addon", "enable", name)
		require.Equal(t, exitUserError, code, name)
		require.Contains(t, errOut, want, name)
		require.NotContains(t, errOut, "panic", name)
		rec, err := addon.GetRecord(ctx, c, ns, name)
		require.NoError(t, err)
		require.Nil(t, rec, "%s: nothing recorded", name)
		require.True(t, apierrors.IsNotFound(c.Get(ctx, client.ObjectKey{Namespace: ns, Name: addon.AppName(name)}, &v1beta1.Application{})), name)
	}
	require.True(t, apierrors.IsNotFound(c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "bad"}, &v1beta1.TraitDefinition{})), "no definition of a failed enable")

	code, out, errOut = h.ferry(t, "addon", "registry", "list")
	require.Equal(t, exitOK, code, errOut)
	require.Regexp(t, `deps\s+dir\s+\S+testdata/addons/deps`, out)
	require.Regexp(t, `web\s+http\s+`+url, out)
	// An OCI registry (go-containerregistry's, on loopback): push with package --push, list.
	oci := "oci://" + strings.TrimPrefix(serveHandler(t, registry.New(registry.Logger(log.New(io.Discard, "", 0)))), "http://") + "/team/addons"
	code, out, errOut = run(t, "", "addon", "package", "testdata/addons/http-src/tools-1.1.0", "-d", t.TempDir(), "--push", oci)
	require.Equal(t, exitOK, code, errOut)
	require.Contains(t, out, "/team/addons:tools-1.1.0")
	code, out, errOut = h.ferry(t, "addon", "registry", "add", "oci", "--type", "oci", "--url", oci)
	require.Equal(t, exitOK, code, errOut)
	require.Contains(t, out, "registry oci added (oci, 1 addons)")
	code, out, errOut = h.ferry(t, "addon", "list")
	require.Equal(t, exitOK, code, errOut)
	require.Regexp(t, `tools\s+oci\s+1.1.0 \(oci\); 1.1.0, 1.0.0 \(web\)\s+1.1.0\s+enabled`, out, "versions per registry")
	code, _, errOut = h.ferry(t, "addon", "registry", "remove", "web")
	require.Equal(t, exitOK, code, errOut)
	code, out, errOut = h.ferry(t, "addon", "list")
	require.Equal(t, exitOK, code, errOut)
	require.Regexp(t, `tools\s+oci\s+1.1.0\s+1.1.0\s+enabled`, out)
}

func regexpMatch(pattern, s string) bool {
	return regexp.MustCompile(pattern).MatchString(s)
}

// serveDir serves dir over HTTP on loopback until the test ends.
func serveDir(t *testing.T, dir string) string {
	t.Helper()
	return serveHandler(t, http.FileServer(http.Dir(dir)))
}

// serveHandler serves h over HTTP on loopback until the test ends.
func serveHandler(t *testing.T, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String() + "/"
}

// TestAddonOffline: an addon scaffolded by init vets, packages and indexes without a cluster;
// a broken one is refused with its file:line; doc writes its page.
func TestAddonOffline(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "hello-addon")
	code, out, errOut := run(t, "", "addon", "init", "hello-addon", "-d", src)
	require.Equal(t, exitOK, code, errOut)
	require.Contains(t, out, "addon hello-addon created in "+src)
	code, out, errOut = run(t, "", "addon", "vet", src)
	require.Equal(t, exitOK, code, errOut)
	require.Equal(t, "hello-addon@0.1.0: ok (1 definitions, 1 components)\n", out)
	code, _, errOut = run(t, "", "addon", "init", "hello-addon", "-d", src)
	require.Equal(t, exitUserError, code)
	require.Contains(t, errOut, "already exists")

	code, out, errOut = run(t, "", "addon", "package", src, "-d", filepath.Join(dir, "site"))
	require.Equal(t, exitOK, code, errOut)
	require.Contains(t, out, "hello-addon-0.1.0.tgz written")
	code, out, errOut = run(t, "", "addon", "index", filepath.Join(dir, "site"))
	require.Equal(t, exitOK, code, errOut)
	require.Contains(t, out, "index.yaml written: 1 addons, 1 versions")

	code, out, errOut = run(t, "", "addon", "doc", src)
	require.Equal(t, exitOK, code, errOut)
	require.Contains(t, out, "# hello-addon 0.1.0")
	require.Contains(t, out, "| `replicas` | `int` | `1` | no | Replicas of the addon's server |")
	require.Contains(t, out, "### Trait `hello-addon-labels`")

	meta := filepath.Join(src, "metadata.yaml")
	require.NoError(t, os.WriteFile(meta, []byte("name: hello-addon\nversion: 1.0\ndependencies:\n  - {name: x, version: \">=one\"}\n"), 0o644))
	code, _, errOut = run(t, "", "addon", "vet", src)
	require.Equal(t, exitUserError, code)
	require.Contains(t, errOut, meta+`:2:10: version "1.0" is not semver`)
	require.Contains(t, errOut, meta+`:4:24: dependencies[0].version ">=one" is not a semver constraint`)
	code, _, errOut = run(t, "", "addon", "package", src)
	require.Equal(t, exitUserError, code, "a broken addon is not packaged")
	require.Contains(t, errOut, "is not semver")
}
