package clustersource

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/version"
	clusterv1 "open-cluster-management.io/api/cluster/v1"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	ferryscheme "github.com/ferryhq/ferry/api/scheme"
	"github.com/ferryhq/ferry/pkg/appfile"
	"github.com/ferryhq/ferry/pkg/cue"
)

// serverVersion counts the hub's /version requests.
type serverVersion struct {
	gitVersion string
	calls      int
}

func (s *serverVersion) ServerVersion() (*version.Info, error) {
	s.calls++
	return &version.Info{GitVersion: s.gitVersion, Platform: "linux/arm64"}, nil
}

// TestClusterVersions: the hub's version comes from its API server, read once per TTL; a
// managed cluster's from its ManagedCluster, or the hub's while it reports none.
func TestClusterVersions(t *testing.T) {
	scheme, err := ferryscheme.New()
	require.NoError(t, err)
	reported := &clusterv1.ManagedCluster{}
	reported.Name = "edge"
	reported.Status.Version.Kubernetes = "v1.30.7-eks-1"
	silent := &clusterv1.ManagedCluster{}
	silent.Name = "new"
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(reported, silent).WithStatusSubresource(reported, silent).Build()
	hub := &serverVersion{gitVersion: "v1.29.3"}
	now := time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)
	src := New(Options{Reader: c, Version: hub, VersionTTL: time.Minute, Now: func() time.Time { return now }})
	ctx := context.Background()

	tests := []struct {
		cluster string
		want    cue.ClusterVersion
	}{
		{appfile.LocalCluster, cue.ClusterVersion{Major: "1", Minor: 29, GitVersion: "v1.29.3", Platform: "linux/arm64"}},
		{"edge", cue.ClusterVersion{Major: "1", Minor: 30, GitVersion: "v1.30.7-eks-1"}},
		{"new", cue.ClusterVersion{Major: "1", Minor: 29, GitVersion: "v1.29.3", Platform: "linux/arm64"}},
		{"unknown", cue.ClusterVersion{Major: "1", Minor: 29, GitVersion: "v1.29.3", Platform: "linux/arm64"}},
	}
	for _, tt := range tests {
		got, err := src.Versions.ClusterVersion(ctx, tt.cluster)
		require.NoError(t, err)
		require.Equal(t, tt.want, got, tt.cluster)
	}
	require.Equal(t, 1, hub.calls, "the hub's version is read once per TTL")
	now = now.Add(2 * time.Minute)
	hub.gitVersion = "v1.30.0"
	got, err := src.Versions.ClusterVersion(ctx, appfile.LocalCluster)
	require.NoError(t, err)
	require.Equal(t, "v1.30.0", got.GitVersion, "an upgraded hub is seen after the TTL")
}

// TestObjectsOfManagedClustersAreRefused: ref-objects reads the hub; a managed cluster's
// objects are out of reach, and the error says so.
func TestObjectsOfManagedClustersAreRefused(t *testing.T) {
	scheme, err := ferryscheme.New()
	require.NoError(t, err)
	src := New(Options{Reader: fake.NewClientBuilder().WithScheme(scheme).Build()})
	ref := map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "x", "namespace": "default"}}
	_, err = src.Objects.Read(context.Background(), "edge", ref)
	require.ErrorContains(t, err, `reading objects on managed cluster "edge" is not supported`)
	_, err = src.Objects.Read(context.Background(), appfile.LocalCluster, ref)
	require.EqualError(t, err, "ConfigMap default/x not found on the hub")
}
