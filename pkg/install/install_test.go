package install

import (
	"testing"

	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/ferryhq/ferry/pkg/definition"
)

func TestObjects(t *testing.T) {
	crdsOnly, err := Objects(Options{})
	require.NoError(t, err)
	kinds := map[string]int{}
	for _, o := range crdsOnly {
		kinds[o.GetKind()]++
	}
	require.Equal(t, 1, kinds["Namespace"])
	require.Equal(t, 7, kinds["CustomResourceDefinition"])
	builtin, err := definition.Builtin()
	require.NoError(t, err)
	require.Equal(t, len(builtin.List(definition.KindComponent)), kinds["ComponentDefinition"], "every built-in component")
	require.Equal(t, len(builtin.List(definition.KindTrait)), kinds["TraitDefinition"], "every built-in trait")
	require.Zero(t, kinds["Deployment"], "no controller without Controller")

	all, err := Objects(Options{Namespace: "platform", Controller: true, Image: "registry.local/ferry:dev"})
	require.NoError(t, err)
	var seen []string
	for _, o := range all {
		switch o.GetKind() {
		case "Deployment":
			containers, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
			require.Equal(t, "registry.local/ferry:dev", containers[0].(map[string]any)["image"])
			require.Equal(t, "platform", o.GetNamespace())
		case "ClusterRoleBinding":
			subjects, _, _ := unstructured.NestedSlice(o.Object, "subjects")
			require.Equal(t, "platform", subjects[0].(map[string]any)["namespace"])
		case "ValidatingWebhookConfiguration":
			hooks, _, _ := unstructured.NestedSlice(o.Object, "webhooks")
			ns, _, _ := unstructured.NestedString(hooks[0].(map[string]any), "clientConfig", "service", "namespace")
			require.Equal(t, "platform", ns)
		case "ComponentDefinition":
			require.Equal(t, "platform", o.GetNamespace())
		}
		seen = append(seen, o.GetKind())
	}
	require.Contains(t, seen, "ServiceAccount")
	require.Contains(t, seen, "Service")
	require.Equal(t, "Namespace", all[0].GetKind(), "the namespace comes first")
}

// TestObjectsForAControllerOutsideTheCluster: --no-controller --webhook-url installs the
// webhook at the URL (path included) and the controller's identity, not its Deployment.
func TestObjectsForAControllerOutsideTheCluster(t *testing.T) {
	objs, err := Objects(Options{WebhookURL: "https://127.0.0.1:9443"})
	require.NoError(t, err)
	kinds := map[string]int{}
	for _, o := range objs {
		kinds[o.GetKind()]++
		if o.GetKind() != "ValidatingWebhookConfiguration" {
			continue
		}
		hooks, _, _ := unstructured.NestedSlice(o.Object, "webhooks")
		cc, _, _ := unstructured.NestedMap(hooks[0].(map[string]any), "clientConfig")
		require.Equal(t, map[string]any{"url": "https://127.0.0.1:9443/validate-core-oam-dev-v1beta1-application"}, cc)
		policy, _, _ := unstructured.NestedString(hooks[0].(map[string]any), "failurePolicy")
		require.Equal(t, "Fail", policy)
	}
	require.Equal(t, 1, kinds["ValidatingWebhookConfiguration"])
	require.Equal(t, 1, kinds["ServiceAccount"])
	require.Equal(t, 1, kinds["ClusterRoleBinding"])
	require.Zero(t, kinds["Deployment"])
	require.Zero(t, kinds["Service"])

	for _, bad := range []string{"http://127.0.0.1:9443", "https://127.0.0.1", "https://127.0.0.1:9443/x", "127.0.0.1:9443"} {
		_, err := Objects(Options{WebhookURL: bad})
		require.ErrorContains(t, err, "want https://HOST:PORT", bad)
	}
}

// TestLeastPrivilege: by default the controller's ClusterRole writes only Ferry's own kinds and
// bookkeeping — never what tenants deploy, which it writes impersonating them — and a
// single-tenant install adds the role that writes them, and runs the controller so.
func TestLeastPrivilege(t *testing.T) {
	// What the controller writes with its own identity: its kinds and bookkeeping.
	own := map[string]bool{
		"core.oam.dev/*": true, "/events": true, "events.k8s.io/events": true, "coordination.k8s.io/leases": true,
		"work.open-cluster-management.io/manifestworks": true, "/configmaps": true,
		"admissionregistration.k8s.io/*": true, "authorization.k8s.io/*": true,
	}
	writes := func(objs []*unstructured.Unstructured, role string) []string {
		var out []string
		for _, o := range objs {
			if o.GetKind() != "ClusterRole" || o.GetName() != role {
				continue
			}
			rules, _, _ := unstructured.NestedSlice(o.Object, "rules")
			for _, r := range rules {
				rule := r.(map[string]any)
				verbs, _, _ := unstructured.NestedStringSlice(rule, "verbs")
				groups, _, _ := unstructured.NestedStringSlice(rule, "apiGroups")
				resources, _, _ := unstructured.NestedStringSlice(rule, "resources")
				for _, v := range verbs {
					if v == "get" || v == "list" || v == "watch" || v == "impersonate" {
						continue
					}
					for _, g := range groups {
						for _, res := range resources {
							if !own[g+"/"+res] && !own[g+"/*"] {
								out = append(out, v+" "+g+"/"+res)
							}
						}
					}
				}
			}
		}
		return out
	}
	objs, err := Objects(Options{Controller: true})
	require.NoError(t, err)
	require.Empty(t, writes(objs, "ferry-controller"), "the controller writes nothing of the tenants' with its own identity")
	kinds := map[string]int{}
	for _, o := range objs {
		kinds[o.GetKind()]++
		require.NotEqual(t, SingleTenantRole, o.GetName())
		if o.GetKind() == "Role" {
			require.Equal(t, DefaultNamespace, o.GetNamespace(), "Secrets only in the system namespace")
		}
		if o.GetKind() == "Deployment" {
			containers, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
			require.NotContains(t, containers[0].(map[string]any)["args"], "--impersonate=false")
		}
	}
	require.Equal(t, 1, kinds["MutatingWebhookConfiguration"], "admission records identities")

	single, err := Objects(Options{Controller: true, SingleTenant: true, Namespace: "platform"})
	require.NoError(t, err)
	require.Contains(t, writes(single, SingleTenantRole), "create apps/deployments")
	found := 0
	for _, o := range single {
		switch {
		case o.GetName() == SingleTenantRole && o.GetKind() == "ClusterRoleBinding":
			subjects, _, _ := unstructured.NestedSlice(o.Object, "subjects")
			require.Equal(t, "platform", subjects[0].(map[string]any)["namespace"])
			found++
		case o.GetKind() == "RoleBinding":
			subjects, _, _ := unstructured.NestedSlice(o.Object, "subjects")
			require.Equal(t, "platform", subjects[0].(map[string]any)["namespace"])
		case o.GetKind() == "Deployment":
			containers, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
			require.Contains(t, containers[0].(map[string]any)["args"], "--impersonate=false")
			found++
		}
	}
	require.Equal(t, 2, found)
}
