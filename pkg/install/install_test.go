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
