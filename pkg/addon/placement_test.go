package addon

import (
	"testing"

	"github.com/Masterminds/semver/v3"
	"github.com/stretchr/testify/require"
)

// TestPlacements: a dependency goes at least wherever the addons that need it go, keeping
// where it already is; an addon that goes everywhere takes its dependencies everywhere.
func TestPlacements(t *testing.T) {
	res := &Resolution{
		Order:      []Candidate{{Name: "crds"}, {Name: "lib"}, {Name: "app"}},
		RequiredBy: map[string][]string{"crds": {"app", "lib"}, "lib": {"app"}},
	}
	m := &Manager{}
	tests := []struct {
		name    string
		req     EnableRequest
		records map[string]*Record
		want    map[string]placement
	}{
		{"same clusters as the dependent", EnableRequest{Name: "app", Clusters: []string{"edge-1"}}, nil,
			map[string]placement{"app": {clusters: []string{"edge-1"}}, "lib": {clusters: []string{"edge-1"}}, "crds": {clusters: []string{"edge-1"}}}},
		{"added to where a dependency already is", EnableRequest{Name: "app", Clusters: []string{"edge-2"}},
			map[string]*Record{"crds": {Name: "crds", Clusters: []string{"edge-1"}}},
			map[string]placement{"app": {clusters: []string{"edge-2"}}, "lib": {clusters: []string{"edge-2"}}, "crds": {clusters: []string{"edge-1", "edge-2"}}}},
		{"a selector is passed on", EnableRequest{Name: "app", ClusterSelector: map[string]string{"region": "eu"}}, nil,
			map[string]placement{"app": {selector: map[string]string{"region": "eu"}}, "lib": {selector: map[string]string{"region": "eu"}}, "crds": {selector: map[string]string{"region": "eu"}}}},
		{"everywhere takes dependencies everywhere", EnableRequest{Name: "app"},
			map[string]*Record{"crds": {Name: "crds", Clusters: []string{"edge-1"}}},
			map[string]placement{"app": {}, "lib": {}, "crds": {}}},
		{"a selector and a list of clusters: everywhere", EnableRequest{Name: "app", ClusterSelector: map[string]string{"region": "eu"}},
			map[string]*Record{"crds": {Name: "crds", Clusters: []string{"edge-1"}}},
			map[string]placement{"app": {selector: map[string]string{"region": "eu"}}, "lib": {selector: map[string]string{"region": "eu"}}, "crds": {}}},
		{"an upgrade keeps the recorded clusters", EnableRequest{Name: "app", Upgrade: true},
			map[string]*Record{"app": {Name: "app", Clusters: []string{"edge-3"}}},
			map[string]placement{"app": {clusters: []string{"edge-3"}}, "lib": {clusters: []string{"edge-3"}}, "crds": {clusters: []string{"edge-3"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, m.placements(tt.req, tt.records[tt.req.Name], res, tt.records))
		})
	}
}

func TestSystemRequirements(t *testing.T) {
	m := &Manager{o: Options{KubernetesVersion: "v1.34.2", FerryVersion: "v0.3.0-12-gabcdef"}}
	c := func(k8s, ferry string) Candidate {
		return Candidate{Name: "x", Version: "1.0.0", System: System{Kubernetes: k8s, Ferry: ferry}, semver: semver.MustParse("1.0.0")}
	}
	require.NoError(t, m.checkSystem(c(">=1.30.0-0", ">=0.3.0")))
	require.NoError(t, m.checkSystem(c("", "")))
	require.EqualError(t, m.checkSystem(c(">=1.35.0", "")), "addon x@1.0.0 needs kubernetes >=1.35.0; the hub has v1.34.2")
	require.EqualError(t, m.checkSystem(c("", "^1")), "addon x@1.0.0 needs ferry ^1; the hub has v0.3.0-12-gabcdef")
	dev := &Manager{o: Options{FerryVersion: "dev"}}
	require.NoError(t, dev.checkSystem(c("", "^9")), "a Ferry built from source is not checked")
}
