package dispatch

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	workv1 "open-cluster-management.io/api/work/v1"

	"github.com/ferryhq/ferry/pkg/appfile"
	"github.com/ferryhq/ferry/pkg/definition"
)

func deployment(name string) map[string]any {
	return map[string]any{"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": name, "namespace": "shop"}, "spec": map[string]any{"replicas": int64(2)}}
}

func service(name string) map[string]any {
	return map[string]any{"apiVersion": "v1", "kind": "Service", "metadata": map[string]any{"name": name, "namespace": "shop"}}
}

func TestWorkName(t *testing.T) {
	require.Equal(t, "shop-prod", WorkName("shop", "prod", "", 0))
	require.Equal(t, "shop-prod", WorkName("shop", "prod", "default", 0))
	require.Equal(t, "shop-prod-2", WorkName("shop", "prod", "", 2))
	require.Equal(t, "shop-prod-to-eu", WorkName("shop", "prod", "to-eu", 0))
	long := WorkName(strings.Repeat("a", 60), "prod", "", 0)
	require.LessOrEqual(t, len(long), 50)
	require.Equal(t, long, WorkName(strings.Repeat("a", 60), "prod", "", 0), "stable")
	require.NotEqual(t, long, WorkName(strings.Repeat("a", 60), "dev", "", 0))
	require.NotEqual(t, long, WorkName(strings.Repeat("a", 60), "prod", "eu", 0))
}

func TestBuildManifestWorks(t *testing.T) {
	reg, err := definition.Builtin()
	require.NoError(t, err)
	web, err := reg.Get(definition.KindComponent, "webservice")
	require.NoError(t, err)
	manifests := []appfile.Manifest{
		{Component: "web", Object: deployment("web")},
		{Component: "web", Output: "webserviceExpose", Object: service("web")},
		{Component: "data", Object: map[string]any{"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": map[string]any{"name": "data", "namespace": "shop"}}},
		{Component: "conf", Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "shared", "namespace": "shop"}}},
	}
	works, err := BuildManifestWorks(WorkOptions{
		App: "shop", AppNamespace: "prod", Cluster: "eu-1", Manifests: manifests,
		Policy: func(m appfile.Manifest) ObjectPolicy {
			return ObjectPolicy{Orphan: m.Component == "data", ReadOnly: m.Component == "conf"}
		},
		HealthPolicy: func(m appfile.Manifest) string {
			if m.Component == "web" {
				return web.Status.HealthPolicy
			}
			return ""
		},
	})
	require.NoError(t, err)
	require.Len(t, works, 1)
	w := works[0]
	require.Equal(t, "shop-prod", w.Name)
	require.Equal(t, "eu-1", w.Namespace)
	require.Equal(t, map[string]string{"app.oam.dev/name": "shop", "app.oam.dev/namespace": "prod", "app.oam.dev/cluster": "eu-1"}, w.Labels)
	require.Len(t, w.Spec.Workload.Manifests, 4)

	cfg := w.Spec.ManifestConfigs
	require.Equal(t, workv1.ResourceIdentifier{Group: "apps", Resource: "deployments", Name: "web", Namespace: "shop"}, cfg[0].ResourceIdentifier)
	require.Equal(t, workv1.UpdateStrategyTypeServerSideApply, cfg[0].UpdateStrategy.Type)
	require.Equal(t, FieldManager, cfg[0].UpdateStrategy.ServerSideApply.FieldManager)
	require.Equal(t, workv1.FeedbackWatchType, cfg[0].FeedbackScrapeType, "health comes back without waiting for a poll")
	require.Empty(t, cfg[3].FeedbackScrapeType, "nothing to feed back for a ConfigMap")

	stepWorks, err := BuildManifestWorks(WorkOptions{App: "shop", AppNamespace: "prod", Cluster: "eu-1", Step: "to-eu", Manifests: manifests[:1]})
	require.NoError(t, err)
	require.Equal(t, "shop-prod-to-eu", stepWorks[0].Name)
	require.Equal(t, "to-eu", stepWorks[0].Labels[LabelStep])
	require.Equal(t, workv1.WellKnownStatusType, cfg[0].FeedbackRules[0].Type)
	require.Equal(t, workv1.JSONPathsType, cfg[0].FeedbackRules[1].Type)
	var names []string
	for _, p := range cfg[0].FeedbackRules[1].JsonPaths {
		names = append(names, p.Name)
	}
	require.Equal(t, []string{"metadata.generation", "spec.replicas", "status.observedGeneration", "status.readyReplicas", "status.updatedReplicas"}, names)
	require.Empty(t, cfg[1].FeedbackRules, "a Service has no well-known status and no health policy here")
	require.Equal(t, workv1.UpdateStrategyTypeReadOnly, cfg[3].UpdateStrategy.Type)

	require.Equal(t, workv1.DeletePropagationPolicyTypeSelectivelyOrphan, w.Spec.DeleteOption.PropagationPolicy)
	require.Equal(t, []workv1.OrphaningRule{
		{Group: "", Resource: "persistentvolumeclaims", Name: "data", Namespace: "shop"},
		{Group: "", Resource: "configmaps", Name: "shared", Namespace: "shop"},
	}, w.Spec.DeleteOption.SelectivelyOrphan.OrphaningRules)

	var first map[string]any
	require.NoError(t, json.Unmarshal(w.Spec.Workload.Manifests[0].Raw, &first))
	require.Equal(t, "Deployment", first["kind"])
}

func TestBuildSplitsLargeApplications(t *testing.T) {
	var manifests []appfile.Manifest
	for i := 0; i < 10; i++ {
		obj := service(strings.Repeat("s", 10) + string(rune('a'+i)))
		obj["data"] = strings.Repeat("x", 300)
		manifests = append(manifests, appfile.Manifest{Component: "c", Object: obj})
	}
	works, err := BuildManifestWorks(WorkOptions{App: "big", AppNamespace: "ns", Cluster: "c1", Manifests: manifests, MaxBytes: 1500})
	require.NoError(t, err)
	require.Greater(t, len(works), 2)
	total := 0
	for i, w := range works {
		require.Equal(t, WorkName("big", "ns", "", i), w.Name)
		require.Equal(t, workv1.DeletePropagationPolicyTypeForeground, w.Spec.DeleteOption.PropagationPolicy)
		require.Len(t, w.Spec.ManifestConfigs, len(w.Spec.Workload.Manifests))
		total += len(w.Spec.Workload.Manifests)
	}
	require.Equal(t, 10, total, "every manifest once, in order")

	_, err = BuildManifestWorks(WorkOptions{App: "big", AppNamespace: "ns", Cluster: "c1", Manifests: manifests[:1], MaxBytes: 100})
	require.ErrorContains(t, err, `of component "c" is`)
}

func TestObjectFromFeedback(t *testing.T) {
	two, name, ready := int64(2), "web", true
	obj := ObjectFromFeedback([]workv1.FeedbackValue{
		{Name: "ReadyReplicas", Value: workv1.FieldValue{Type: workv1.Integer, Integer: &two}},
		{Name: "status.readyReplicas", Value: workv1.FieldValue{Type: workv1.Integer, Integer: &two}},
		{Name: "metadata.name", Value: workv1.FieldValue{Type: workv1.String, String: &name}},
		{Name: "status.ready", Value: workv1.FieldValue{Type: workv1.Boolean, Boolean: &ready}},
	})
	require.Equal(t, map[string]any{
		"status":   map[string]any{"readyReplicas": int64(2), "ready": true},
		"metadata": map[string]any{"name": "web"},
	}, obj)
}

// TestConditionsFeedBack: a healthPolicy that looks for a condition by type gets that
// condition's fields fed back one by one (status.conditions is a list, feedback values are
// scalars) through a filtered JSONPath, and they are rebuilt into a conditions list on the hub.
func TestConditionsFeedBack(t *testing.T) {
	policy := `_ready: [for c in *context.output.status.conditions | [] if c.type == "Ready" && c.status == "True" {c}]
_observed: context.output.status.observedGeneration
isHealth: len(_ready) > 0 && _observed >= context.output.metadata.generation`
	require.Equal(t, []string{".metadata.generation", ".status.conditions[Ready].message", ".status.conditions[Ready].reason",
		".status.conditions[Ready].status", ".status.observedGeneration"}, FeedbackPaths(policy))
	require.Equal(t, `.status.conditions[?(@.type=="Ready")].status`, jsonPath(".status.conditions[Ready].status"))
	require.Equal(t, ".status.readyReplicas", jsonPath(".status.readyReplicas"))

	st, reason, gen := "True", "InstallSucceeded", int64(3)
	obj := ObjectFromFeedback([]workv1.FeedbackValue{
		{Name: "status.conditions[Ready].status", Value: workv1.FieldValue{Type: workv1.String, String: &st}},
		{Name: "status.conditions[Ready].reason", Value: workv1.FieldValue{Type: workv1.String, String: &reason}},
		{Name: "status.observedGeneration", Value: workv1.FieldValue{Type: workv1.Integer, Integer: &gen}},
	})
	require.Equal(t, map[string]any{"status": map[string]any{
		"observedGeneration": int64(3),
		"conditions":         []any{map[string]any{"type": "Ready", "status": "True", "reason": "InstallSucceeded"}},
	}}, obj)
}
