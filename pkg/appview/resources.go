package appview

import (
	"context"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	workv1 "open-cluster-management.io/api/work/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/dispatch"
)

// Resource is one object an Application owns, as its resource trackers record it.
type Resource struct {
	Cluster   string `json:"cluster"`
	Component string `json:"component,omitempty"`
	Trait     string `json:"trait,omitempty"`
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	// State is exists or missing for the hub; for a managed cluster, applied, not applied or
	// unknown, as its ManifestWork reports.
	State string `json:"state"`
}

// Resources lists what the app's trackers record, with whether each object exists, sorted
// by cluster, component, kind, namespace and name. The ManifestWorks of each managed cluster
// are read once.
func Resources(ctx context.Context, c client.Client, app *v1beta1.Application) ([]Resource, error) {
	trackers := &dispatch.Trackers{Client: c}
	rts, err := trackers.List(ctx, dispatch.AppRef{Name: app.Name, Namespace: app.Namespace}, true)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	works := map[string][]workv1.ManifestWork{}
	var out []Resource
	for _, rt := range rts {
		for _, r := range rt.Spec.ManagedResources {
			key := dispatch.ResourceKey(r)
			if seen[key] {
				continue
			}
			seen[key] = true
			rv := Resource{Cluster: r.Cluster, Component: r.Component, Trait: r.Trait, Kind: r.Kind, Namespace: r.Namespace, Name: r.Name}
			if r.Cluster == "local" || r.Cluster == "" {
				u := &unstructured.Unstructured{}
				u.SetGroupVersionKind(schema.FromAPIVersionAndKind(r.APIVersion, r.Kind))
				rv.State = "missing"
				if c.Get(ctx, client.ObjectKey{Namespace: r.Namespace, Name: r.Name}, u) == nil {
					rv.State = "exists"
				}
			} else {
				ws, ok := works[r.Cluster]
				if !ok {
					ws = clusterWorks(ctx, c, app, r.Cluster)
					works[r.Cluster] = ws
				}
				rv.State = remoteState(ws, r)
			}
			out = append(out, rv)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		return strings.Join([]string{a.Cluster, a.Component, a.Kind, a.Namespace, a.Name}, "/") <
			strings.Join([]string{b.Cluster, b.Component, b.Kind, b.Namespace, b.Name}, "/")
	})
	return out, nil
}

// clusterWorks are the app's ManifestWorks in a managed cluster's namespace; none when they
// cannot be read (every object's state is then unknown).
func clusterWorks(ctx context.Context, c client.Client, app *v1beta1.Application, cluster string) []workv1.ManifestWork {
	var works workv1.ManifestWorkList
	if err := c.List(ctx, &works, client.InNamespace(cluster), client.MatchingLabels{
		v1beta1.LabelAppName: app.Name, v1beta1.LabelAppNamespace: app.Namespace}); err != nil {
		return nil
	}
	return works.Items
}

// remoteState reads what the cluster's agent reported about an object in its ManifestWorks.
func remoteState(works []workv1.ManifestWork, r v1beta1.ManagedResource) string {
	for _, w := range works {
		for _, m := range w.Status.ResourceStatus.Manifests {
			if m.ResourceMeta.Kind == r.Kind && m.ResourceMeta.Name == r.Name && m.ResourceMeta.Namespace == r.Namespace {
				if cond := meta.FindStatusCondition(m.Conditions, workv1.ManifestApplied); cond != nil && cond.Status == "True" {
					return "applied"
				}
				return "not applied"
			}
		}
	}
	return "unknown"
}
