package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ferryhq/ferry/addons"
	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/addon"
	"github.com/ferryhq/ferry/pkg/install"
	"github.com/ferryhq/ferry/pkg/testenv"
)

// fillMirror fetches the upstream artifacts of a built-in addon into a mirror directory under
// .cache (once; later runs reuse it), checking each digest, as a platform team fills the
// mirror of an air-gapped hub.
func fillMirror(t *testing.T, name string) string {
	t.Helper()
	root, err := testenv.FindRepoRoot()
	require.NoError(t, err)
	mirror := filepath.Join(root, ".cache", "addon-mirror")
	reg := addon.NewDirRegistry(addon.BuiltinRegistryName, addons.FS, "addons")
	ix, err := reg.Index(context.Background())
	require.NoError(t, err)
	a, err := reg.Fetch(context.Background(), name, ix.Entries[name][0].Version)
	require.NoError(t, err)
	for _, art := range a.Metadata.Artifacts {
		p, err := addon.MirrorPath(mirror, art.URL)
		require.NoError(t, err)
		if data, err := os.ReadFile(p); err == nil && addon.Digest(data) == art.SHA256 {
			continue
		}
		data := download(t, art.URL)
		sum := sha256.Sum256(data)
		require.Equal(t, art.SHA256, hex.EncodeToString(sum[:]), "%s changed upstream", art.URL)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p+".part", data, 0o644))
		require.NoError(t, os.Rename(p+".part", p))
	}
	return mirror
}

// download fetches an artifact. A module zip on the Go module proxy is fetched by the go
// command (`go mod download`), through whichever proxy GOPROXY names, and read from the module
// cache, which keeps the proxy's bytes; anything else with a plain GET.
func download(t *testing.T, rawURL string) []byte {
	t.Helper()
	if m := moduleZip.FindStringSubmatch(rawURL); m != nil {
		cmd := exec.Command("go", "mod", "download", "-json", m[1]+"@"+m[2])
		cmd.Dir = t.TempDir() // outside the module: no go.mod is read or changed
		out, err := cmd.Output()
		require.NoError(t, err, "go mod download %s@%s", m[1], m[2])
		var info struct{ Zip string }
		require.NoError(t, json.Unmarshal(out, &info))
		data, err := os.ReadFile(info.Zip)
		require.NoError(t, err)
		return data
	}
	resp, err := http.Get(rawURL) //nolint:noctx // a test download
	require.NoError(t, err, "fetch %s for the mirror", rawURL)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "GET %s", rawURL)
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return data
}

var moduleZip = regexp.MustCompile(`^https://proxy\.golang\.org/([a-z0-9./_-]+)/@v/(v[^/]+)\.zip$`)

// ferryOnHub builds the ferry CLI and returns a function that runs it against the fleet's hub,
// as users do; it also plays the hub's kubelet until the test ends.
func ferryOnHub(t *testing.T, f *fleet) func(args ...string) (string, error) {
	t.Helper()
	bin := buildFerry(t)
	kubeconfig := filepath.Join(t.TempDir(), "hub.kubeconfig")
	require.NoError(t, testenv.WriteKubeconfig(kubeconfig, f.env.Hub.Config))
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go testenv.PlayKubelet(ctx, f.hub, 200*time.Millisecond)
	cache := t.TempDir()
	return func(args ...string) (string, error) {
		cmd := exec.Command(bin, append(args, "--kubeconfig", kubeconfig)...)
		cmd.Env = append(os.Environ(), "XDG_CACHE_HOME="+cache)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
}

// buildFerry builds the ferry CLI as users get it and returns the binary's path.
func buildFerry(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "ferry")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/ferryhq/ferry/cmd/ferry").CombinedOutput()
	require.NoError(t, err, string(out))
	return bin
}

// TestFluxcdAddonOnAFleet enables the built-in fluxcd addon with the ferry CLI on a hub and two
// managed clusters with real OCM work agents: Flux's CRDs (verified upstream artifacts from a
// mirror) and controllers reach both spokes, its definitions stay on the hub, and an
// Application using helm-release delivers a HelmRelease to a spoke that becomes healthy as
// soon as the HelmRelease reports Ready, without a restart (KubeVela #5207).
func TestFluxcdAddonOnAFleet(t *testing.T) {
	f := startFleet(t, testenv.ClusterSpec{Name: "edge-1"}, testenv.ClusterSpec{Name: "edge-2"})
	ctx := context.Background()
	mirror := fillMirror(t, "fluxcd")
	ferry := ferryOnHub(t, f)

	// The addon's Application acts as whoever enables it — here the hub's admin, who may apply
	// what fluxcd installs: the controller itself needs no grant (a single-tenant one would,
	// grantOnHub).

	out, err := ferry("addon", "enable", "fluxcd", "--clusters", "edge-1,edge-2", "--mirror", mirror, "--wait", "--timeout", "150s")
	require.NoError(t, err, out)
	require.Contains(t, out, "addon fluxcd@2.7.3 enabled on clusters edge-1, edge-2")
	require.NotContains(t, out, "may not apply", "the admin may apply what fluxcd puts on the hub")

	// Definitions on the hub only; CRDs and controllers on every cluster, the hub too.
	require.NoError(t, f.hub.Get(ctx, client.ObjectKey{Name: "helmreleases.helm.toolkit.fluxcd.io"}, crdObject()))
	require.NoError(t, f.hub.Get(ctx, client.ObjectKey{Namespace: "flux-system", Name: "helm-controller"}, &appsv1.Deployment{}))
	require.NoError(t, f.hub.Get(ctx, client.ObjectKey{Namespace: install.DefaultNamespace, Name: "helm-release"}, &v1beta1.ComponentDefinition{}))
	require.NoError(t, f.hub.Get(ctx, client.ObjectKey{Namespace: install.DefaultNamespace, Name: "kustomize"}, &v1beta1.ComponentDefinition{}))
	for name, spoke := range f.spokes {
		for _, crd := range []string{"helmreleases.helm.toolkit.fluxcd.io", "helmrepositories.source.toolkit.fluxcd.io", "kustomizations.kustomize.toolkit.fluxcd.io"} {
			require.NoError(t, spoke.Get(ctx, client.ObjectKey{Name: crd}, crdObject()), "%s on %s", crd, name)
		}
		for _, d := range []string{"source-controller", "helm-controller", "kustomize-controller"} {
			dep := &appsv1.Deployment{}
			require.NoError(t, spoke.Get(ctx, client.ObjectKey{Namespace: "flux-system", Name: d}, dep), "%s on %s", d, name)
			require.Equal(t, "ghcr.io/fluxcd/"+d, strings.Split(dep.Spec.Template.Spec.Containers[0].Image, ":")[0])
		}
		err := spoke.Get(ctx, client.ObjectKey{Namespace: install.DefaultNamespace, Name: "helm-release"}, &v1beta1.ComponentDefinition{})
		require.Error(t, err, "definitions stay on the hub")
	}
	out, err = ferry("addon", "status", "fluxcd")
	require.NoError(t, err, out)
	require.Contains(t, out, "state:    enabled")
	require.Regexp(t, `edge-2\s+helm-controller\s+true`, out)

	// An Application with a helm-release component on edge-1.
	f.applyApp(`apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: {name: podinfo, namespace: web}
spec:
  components:
    - name: podinfo
      type: helm-release
      properties:
        url: https://stefanprodan.github.io/podinfo
        chart: podinfo
        version: ">=6.0.0"
        values: {replicaCount: 2}
  policies:
    - {name: edge, type: topology, properties: {clusters: [edge-1], namespace: web}}
`)
	spoke := f.spokes["edge-1"]
	hr := &unstructured.Unstructured{}
	hr.SetAPIVersion("helm.toolkit.fluxcd.io/v2")
	hr.SetKind("HelmRelease")
	require.Eventually(t, func() bool {
		return spoke.Get(ctx, client.ObjectKey{Namespace: "web", Name: "podinfo"}, hr) == nil
	}, 90*time.Second, 200*time.Millisecond, "the HelmRelease reaches edge-1")
	values, _, _ := unstructured.NestedMap(hr.Object, "spec", "values")
	require.Equal(t, map[string]any{"replicaCount": int64(2)}, values)
	repo := &unstructured.Unstructured{}
	repo.SetAPIVersion("source.toolkit.fluxcd.io/v1")
	repo.SetKind("HelmRepository")
	require.Eventually(t, func() bool {
		return spoke.Get(ctx, client.ObjectKey{Namespace: "web", Name: "podinfo"}, repo) == nil
	}, 30*time.Second, 200*time.Millisecond, "its HelmRepository reaches edge-1 too")
	app := f.waitApp("web", "podinfo", "waiting for the HelmRelease", func(a *v1beta1.Application) bool {
		return a.Status.Phase == v1beta1.ApplicationRunningWorkflow
	})
	require.False(t, service(app, "podinfo", "edge-1").Healthy)

	// helm-controller (played here) reports Ready: the component becomes healthy by itself.
	require.NoError(t, unstructured.SetNestedField(hr.Object, hr.GetGeneration(), "status", "observedGeneration"))
	require.NoError(t, unstructured.SetNestedSlice(hr.Object, []any{map[string]any{
		"type": "Ready", "status": "True", "reason": "InstallSucceeded", "message": "Helm install succeeded",
		"lastTransitionTime": metav1.Now().UTC().Format(time.RFC3339)}}, "status", "conditions"))
	require.NoError(t, spoke.Status().Update(ctx, hr))
	app = f.waitApp("web", "podinfo", "healthy once Flux says Ready", phase(v1beta1.ApplicationRunning))
	require.True(t, service(app, "podinfo", "edge-1").Healthy)
	require.Contains(t, service(app, "podinfo", "edge-1").Message, "InstallSucceeded: Helm install succeeded")

	// Disable is refused while the app uses helm-release.
	out, err = ferry("addon", "disable", "fluxcd")
	require.Error(t, err)
	require.Contains(t, out, "addon fluxcd is used by applications web/podinfo (component helm-release)")
}

func crdObject() *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("apiextensions.k8s.io/v1")
	u.SetKind("CustomResourceDefinition")
	return u
}

// grantOnHub adds a ClusterRole for what an addon installs on the hub (CRDs, its namespace, a
// binding of its controller) and what its definitions write, bound to the controller's
// ServiceAccount.
func grantOnHub(ctx context.Context, t *testing.T, c client.Client, name string, extra ...rbacv1.PolicyRule) {
	t.Helper()
	role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "ferry-controller-" + name}, Rules: []rbacv1.PolicyRule{
		{APIGroups: []string{"apiextensions.k8s.io"}, Resources: []string{"customresourcedefinitions"}, Verbs: []string{"*"}},
		{APIGroups: []string{""}, Resources: []string{"namespaces"}, Verbs: []string{"*"}},
		{APIGroups: []string{"rbac.authorization.k8s.io"}, Resources: []string{"clusterrolebindings"}, Verbs: []string{"*"}},
		{APIGroups: []string{"rbac.authorization.k8s.io"}, Resources: []string{"clusterroles"}, ResourceNames: []string{"cluster-admin"}, Verbs: []string{"bind"}},
	}}
	role.Rules = append(role.Rules, extra...)
	require.NoError(t, c.Create(ctx, role))
	require.NoError(t, c.Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: role.Name},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: role.Name},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "ferry-controller", Namespace: install.DefaultNamespace}}}))
}

// TestKpackAddonBuildsThenDeploys enables the built-in kpack addon on a hub and runs the PaaS
// flow it exists for: a kpack-build step writes a kpack Image for a Git repository and waits;
// when kpack (played here) reports the build Ready with an image digest, the step's output
// feeds the next step, which deploys that exact digest.
func TestKpackAddonBuildsThenDeploys(t *testing.T) {
	f := startFleet(t)
	ctx := context.Background()
	mirror := fillMirror(t, "kpack")
	ferry := ferryOnHub(t, f)
	grantOnHub(ctx, t, f.hub, "kpack", rbacv1.PolicyRule{APIGroups: []string{"kpack.io"}, Resources: []string{"images"}, Verbs: []string{"*"}})

	out, err := ferry("addon", "enable", "kpack", "--mirror", mirror, "--wait", "--timeout", "120s")
	require.NoError(t, err, out)
	require.NoError(t, f.hub.Get(ctx, client.ObjectKey{Name: "images.kpack.io"}, crdObject()))
	require.NoError(t, f.hub.Get(ctx, client.ObjectKey{Namespace: "kpack", Name: "kpack-controller"}, &appsv1.Deployment{}))

	f.applyApp(`apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: {name: shop, namespace: builds}
spec:
  workflow:
    steps:
      - name: build
        type: kpack-build
        properties:
          name: web
          tag: registry.example.com/team/web
          git: {url: "https://github.com/example/web", revision: v1.2.0}
        outputs: [{name: web-image, valueFrom: image}]
      - name: web
        type: apply-deployment
        inputs: [{from: web-image, parameterKey: image}]
        properties: {replicas: 2}
`)
	img := &unstructured.Unstructured{}
	img.SetAPIVersion("kpack.io/v1alpha2")
	img.SetKind("Image")
	require.Eventually(t, func() bool {
		return f.hub.Get(ctx, client.ObjectKey{Namespace: "builds", Name: "web"}, img) == nil
	}, 60*time.Second, 200*time.Millisecond, "the build step writes the kpack Image")
	rev, _, _ := unstructured.NestedString(img.Object, "spec", "source", "git", "revision")
	require.Equal(t, "v1.2.0", rev)
	app := f.waitApp("builds", "shop", "the build step waiting", func(a *v1beta1.Application) bool {
		return a.Status.Workflow != nil && len(a.Status.Workflow.Steps) > 0 && a.Status.Workflow.Steps[0].Reason == "Waiting"
	})
	require.Contains(t, app.Status.Workflow.Steps[0].Message, "kpack is building https://github.com/example/web@v1.2.0")
	require.True(t, apierrors.IsNotFound(f.hub.Get(ctx, client.ObjectKey{Namespace: "builds", Name: "web"}, &appsv1.Deployment{})),
		"nothing is deployed before the image is built")

	// kpack reports the build.
	digest := "registry.example.com/team/web@sha256:" + strings.Repeat("ab", 32)
	require.NoError(t, unstructured.SetNestedField(img.Object, img.GetGeneration(), "status", "observedGeneration"))
	require.NoError(t, unstructured.SetNestedField(img.Object, digest, "status", "latestImage"))
	require.NoError(t, unstructured.SetNestedSlice(img.Object, []any{map[string]any{"type": "Ready", "status": "True",
		"lastTransitionTime": metav1.Now().UTC().Format(time.RFC3339)}}, "status", "conditions"))
	require.NoError(t, f.hub.Status().Update(ctx, img))
	f.waitApp("builds", "shop", "running with the built image", phase(v1beta1.ApplicationRunning))
	dep := &appsv1.Deployment{}
	require.NoError(t, f.hub.Get(ctx, client.ObjectKey{Namespace: "builds", Name: "web"}, dep))
	require.Equal(t, digest, dep.Spec.Template.Spec.Containers[0].Image, "deployed by the digest kpack built")
}
