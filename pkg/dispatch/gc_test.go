package dispatch

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/appfile"
)

func res(name, collect string) v1beta1.ManagedResource {
	return v1beta1.ManagedResource{Cluster: appfile.LocalCluster, APIVersion: "v1", Kind: "ConfigMap", Namespace: "default", Name: name, Collect: collect}
}

func TestCollectOnUpdate(t *testing.T) {
	tests := []struct {
		name    string
		old     []v1beta1.ManagedResource
		wanted  []v1beta1.ManagedResource
		collect []string
		keep    []string
	}{
		{name: "still wanted stays", old: []v1beta1.ManagedResource{res("a", "")}, wanted: []v1beta1.ManagedResource{res("a", "")}},
		{name: "no longer wanted is collected", old: []v1beta1.ManagedResource{res("a", ""), res("b", "")},
			wanted: []v1beta1.ManagedResource{res("a", "")}, collect: []string{"b"}},
		{name: "collect-never is only untracked", old: []v1beta1.ManagedResource{res("a", appfile.CollectNever)}},
		{name: "collect-on-delete is kept", old: []v1beta1.ManagedResource{res("a", appfile.CollectOnAppDelete)}, keep: []string{"a"}},
		{name: "wanted wins over any strategy", old: []v1beta1.ManagedResource{res("a", appfile.CollectOnAppDelete)},
			wanted: []v1beta1.ManagedResource{res("a", "")}},
		{name: "same name on another cluster is another object", old: []v1beta1.ManagedResource{{Cluster: "edge", APIVersion: "v1", Kind: "ConfigMap", Namespace: "default", Name: "a"}},
			wanted: []v1beta1.ManagedResource{res("a", "")}, collect: []string{"a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wanted := map[string]bool{}
			for _, w := range tt.wanted {
				wanted[ResourceKey(w)] = true
			}
			got := CollectOnUpdate(tt.old, wanted)
			require.Equal(t, tt.collect, names(got.Collect))
			require.Equal(t, tt.keep, names(got.Keep))
		})
	}
}

func TestCollectOnDelete(t *testing.T) {
	trackers := []v1beta1.ResourceTracker{
		{Spec: v1beta1.ResourceTrackerSpec{ManagedResources: []v1beta1.ManagedResource{res("a", ""), res("kept", appfile.CollectOnAppDelete), res("never", appfile.CollectNever)}}},
		{Spec: v1beta1.ResourceTrackerSpec{ManagedResources: []v1beta1.ManagedResource{res("a", ""), res("b", "")}}},
	}
	require.Equal(t, []string{"a", "kept", "b"}, names(CollectOnDelete(trackers)), "each object once, collect-never left")
	require.Empty(t, CollectOnDelete(nil))
}

func names(list []v1beta1.ManagedResource) []string {
	var out []string
	for _, r := range list {
		out = append(out, r.Name)
	}
	return out
}
