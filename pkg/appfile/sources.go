package appfile

import (
	"context"

	"github.com/ferryhq/ferry/pkg/cue"
	"github.com/ferryhq/ferry/pkg/definition"
)

// Sources are everything a plan reads besides the Application: definitions, the managed
// clusters, each cluster's Kubernetes version, and existing objects. Each has a cluster-backed
// implementation (package clustersource: the controller, the admission webhook, `ferry up` and
// `ferry live-diff`) and an offline one (Offline: `ferry dry-run`, `ferry def render` and
// `ferry def test`), and NewPlanner is the one way to plan with either.
type Sources struct {
	Definitions DefinitionSource
	Clusters    ClusterSource
	Versions    VersionSource
	// Objects reads objects that templates ask for (ref-objects). Without it, such templates
	// fail with a message saying how to give them.
	Objects ObjectReader
	// Placements reads OCM PlacementDecisions for topology policies that name a Placement.
	// Without it (offline), such a policy is an error saying so.
	Placements PlacementSource
}

// PlacementSource reads the decisions of an OCM Placement: the clusters it chose, in decision
// group order. decided is false while the placement controller has made no PlacementDecision
// for it yet (or the Placement does not exist).
type PlacementSource interface {
	Decisions(ctx context.Context, namespace, placement string) (decisions []Decision, decided bool, err error)
}

// Decision is one cluster a Placement chose, with its decision group.
type Decision struct {
	Cluster    string
	Group      string
	GroupIndex int
}

// DefinitionSource resolves type names for an Application in a namespace; *definition.Registry
// (offline) and *definition.ClusterSource (definition CRs) implement it.
type DefinitionSource interface {
	Definition(ctx context.Context, namespace string, kind definition.Kind, name string) (*definition.Definition, error)
}

// ClusterSource lists the managed clusters. The hub, "local", is always known and not listed.
type ClusterSource interface {
	ManagedClusters(ctx context.Context) ([]Cluster, error)
}

// VersionSource tells the Kubernetes version of a cluster ("local" is the hub): what templates
// see as context.clusterVersion.
type VersionSource interface {
	ClusterVersion(ctx context.Context, cluster string) (cue.ClusterVersion, error)
}

// ObjectReader reads existing objects.
type ObjectReader interface {
	// Read returns the object ref names (apiVersion, kind, metadata.name and .namespace) on
	// cluster ("local" is the hub).
	Read(ctx context.Context, cluster string, ref map[string]any) (map[string]any, error)
	// List returns the objects of ref's apiVersion and kind in its metadata.namespace that
	// have every one of labels, sorted by name.
	List(ctx context.Context, cluster string, ref map[string]any, labels map[string]string) ([]map[string]any, error)
}

// OfflineOptions are what an offline plan knows.
type OfflineOptions struct {
	// Definitions are the definitions, e.g. the built-ins with a folder of the user's.
	Definitions *definition.Registry
	// Clusters are the managed clusters to plan for.
	Clusters []Cluster
	// Objects stand in for existing objects; nil: templates that read objects fail.
	Objects StaticObjects
	// Version is every cluster's version; cue.DefaultClusterVersion when zero.
	Version cue.ClusterVersion
}

// Offline returns Sources that need no cluster.
func Offline(o OfflineOptions) Sources {
	if o.Version == (cue.ClusterVersion{}) {
		o.Version = cue.DefaultClusterVersion
	}
	src := Sources{Definitions: o.Definitions, Clusters: StaticClusters(o.Clusters), Versions: FixedVersion(o.Version)}
	if o.Objects != nil {
		src.Objects = o.Objects
	}
	return src
}

// StaticClusters is a ClusterSource over a fixed list.
type StaticClusters []Cluster

// ManagedClusters implements ClusterSource.
func (s StaticClusters) ManagedClusters(context.Context) ([]Cluster, error) { return s, nil }

// FixedVersion is a VersionSource that gives every cluster the same version.
type FixedVersion cue.ClusterVersion

// ClusterVersion implements VersionSource.
func (v FixedVersion) ClusterVersion(context.Context, string) (cue.ClusterVersion, error) {
	return cue.ClusterVersion(v), nil
}
