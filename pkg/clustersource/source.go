package clustersource

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/version"
	clusterv1 "open-cluster-management.io/api/cluster/v1"
	clusterv1beta1 "open-cluster-management.io/api/cluster/v1beta1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ferryhq/ferry/pkg/appfile"
	"github.com/ferryhq/ferry/pkg/cue"
	"github.com/ferryhq/ferry/pkg/definition"
	"github.com/ferryhq/ferry/pkg/identity"
)

// ServerVersion tells the hub's version; a discovery client implements it.
type ServerVersion interface {
	ServerVersion() (*version.Info, error)
}

// Options say where the sources read.
type Options struct {
	// Reader reads definitions and ManagedClusters, usually from the controller's cache.
	Reader client.Reader
	// APIReader reads the objects ref-objects names from the API server (they are not in a
	// cache of the objects apps own). Reader when nil.
	APIReader client.Reader
	// Version is the hub's discovery client; without it the hub is assumed to run
	// cue.DefaultClusterVersion.
	Version ServerVersion
	// SystemNamespace holds the definitions every namespace sees.
	SystemNamespace string
	// NoManagedClusters says the hub does not serve ManagedClusters, so none are listed.
	NoManagedClusters bool
	// VersionTTL is how long the hub's version is remembered (10m when zero).
	VersionTTL time.Duration
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// New returns the sources of a planner that plans against the hub cluster.
func New(o Options) appfile.Sources {
	if o.APIReader == nil {
		o.APIReader = o.Reader
	}
	if o.VersionTTL == 0 {
		o.VersionTTL = 10 * time.Minute
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	c := &clusters{o: o}
	return appfile.Sources{
		Definitions: definition.NewClusterSource(o.Reader, o.SystemNamespace),
		Clusters:    c,
		Versions:    c,
		Objects:     &objects{reader: o.APIReader},
		Placements:  placements{reader: o.Reader},
	}
}

// clusters lists ManagedClusters and tells cluster versions.
type clusters struct {
	o Options

	mu      sync.Mutex
	hub     cue.ClusterVersion
	hubRead time.Time
}

// ManagedClusters implements appfile.ClusterSource: every ManagedCluster, with why it is not
// available when its ManagedClusterConditionAvailable says so. A cluster without the condition
// (no registration agent) counts as available.
func (c *clusters) ManagedClusters(ctx context.Context) ([]appfile.Cluster, error) {
	if c.o.NoManagedClusters {
		return nil, nil
	}
	var list clusterv1.ManagedClusterList
	if err := c.o.Reader.List(ctx, &list); err != nil {
		if meta.IsNoMatchError(err) || apierrors.IsNotFound(err) {
			return nil, nil // OCM is not installed: only the hub
		}
		return nil, fmt.Errorf("list managed clusters: %w", err)
	}
	out := make([]appfile.Cluster, 0, len(list.Items))
	for _, mc := range list.Items {
		cl := appfile.Cluster{Name: mc.Name, Labels: mc.Labels}
		if cond := meta.FindStatusCondition(mc.Status.Conditions, clusterv1.ManagedClusterConditionAvailable); cond != nil && cond.Status != metav1.ConditionTrue {
			cl.Unavailable = fmt.Sprintf("cluster %s is not available (%s: %s)", mc.Name, cond.Reason, cond.Message)
		}
		out = append(out, cl)
	}
	return out, nil
}

// ClusterVersion implements appfile.VersionSource: the hub's from its /version, a managed
// cluster's from its ManagedCluster status, and the hub's when a managed cluster has not
// reported one.
func (c *clusters) ClusterVersion(ctx context.Context, cluster string) (cue.ClusterVersion, error) {
	if cluster != appfile.LocalCluster && !c.o.NoManagedClusters {
		mc := &clusterv1.ManagedCluster{}
		err := c.o.Reader.Get(ctx, client.ObjectKey{Name: cluster}, mc)
		switch {
		case err == nil && mc.Status.Version.Kubernetes != "":
			v, perr := cue.ParseClusterVersion(mc.Status.Version.Kubernetes, "")
			if perr == nil {
				return v, nil
			}
		case err != nil && !apierrors.IsNotFound(err) && !meta.IsNoMatchError(err):
			return cue.ClusterVersion{}, fmt.Errorf("read ManagedCluster %s: %w", cluster, err)
		}
	}
	return c.hubVersion()
}

func (c *clusters) hubVersion() (cue.ClusterVersion, error) {
	if c.o.Version == nil {
		return cue.DefaultClusterVersion, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.hubRead.IsZero() && c.o.Now().Sub(c.hubRead) < c.o.VersionTTL {
		return c.hub, nil
	}
	info, err := c.o.Version.ServerVersion()
	if err != nil {
		return cue.ClusterVersion{}, fmt.Errorf("read the hub's version: %w", err)
	}
	v, err := cue.ParseClusterVersion(info.GitVersion, info.Platform)
	if err != nil {
		return cue.ClusterVersion{}, fmt.Errorf("the hub's version: %w", err)
	}
	c.hub, c.hubRead = v, c.o.Now()
	return v, nil
}

// objects reads the objects ref-objects components name, as the identity the plan is made for
// when the context carries its reader (identity.WithReader).
type objects struct {
	reader client.Reader
}

// Read implements appfile.ObjectReader: objects on the hub. Reading a managed cluster's
// objects would need a connection to it, which OCM's pull model does not give the hub.
func (o *objects) Read(ctx context.Context, cluster string, ref map[string]any) (map[string]any, error) {
	u := &unstructured.Unstructured{Object: ref}
	if cluster != appfile.LocalCluster {
		return nil, fmt.Errorf("%s %s: reading objects on managed cluster %q is not supported: the hub has no connection to it (OCM delivers by pull); reference objects on the hub (leave cluster empty), and they are delivered wherever the component goes",
			u.GetKind(), u.GetName(), cluster)
	}
	live := &unstructured.Unstructured{}
	live.SetGroupVersionKind(u.GroupVersionKind())
	err := identity.ReaderFrom(ctx, o.reader).Get(ctx, client.ObjectKey{Namespace: u.GetNamespace(), Name: u.GetName()}, live)
	if apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("%s %s not found on the hub", u.GetKind(), objectName(u))
	}
	if meta.IsNoMatchError(err) {
		return nil, fmt.Errorf("%s %s: the hub does not serve kind %s in %s", u.GetKind(), objectName(u), u.GetKind(), u.GetAPIVersion())
	}
	if err != nil {
		return nil, fmt.Errorf("read %s %s: %w", u.GetKind(), objectName(u), err)
	}
	return live.Object, nil
}

// List implements appfile.ObjectReader: objects on the hub with the labels.
func (o *objects) List(ctx context.Context, cluster string, ref map[string]any, labels map[string]string) ([]map[string]any, error) {
	u := &unstructured.Unstructured{Object: ref}
	if cluster != appfile.LocalCluster {
		return nil, fmt.Errorf("%s with labels %v: listing objects on managed cluster %q is not supported: the hub has no connection to it (OCM delivers by pull)",
			u.GetKind(), labels, cluster)
	}
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(u.GroupVersionKind().GroupVersion().WithKind(u.GetKind() + "List"))
	err := identity.ReaderFrom(ctx, o.reader).List(ctx, list, client.InNamespace(u.GetNamespace()), client.MatchingLabels(labels))
	if meta.IsNoMatchError(err) {
		return nil, fmt.Errorf("%s: the hub does not serve kind %s in %s", u.GetKind(), u.GetKind(), u.GetAPIVersion())
	}
	if err != nil {
		return nil, fmt.Errorf("list %s in %s: %w", u.GetKind(), u.GetNamespace(), err)
	}
	out := make([]map[string]any, 0, len(list.Items))
	for _, item := range list.Items {
		out = append(out, item.Object)
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i]["metadata"].(map[string]any)["name"].(string) < out[j]["metadata"].(map[string]any)["name"].(string)
	})
	return out, nil
}

func objectName(u *unstructured.Unstructured) string {
	if u.GetNamespace() == "" {
		return u.GetName()
	}
	return u.GetNamespace() + "/" + u.GetName()
}

// placements reads PlacementDecisions, usually from the controller's cache.
type placements struct{ reader client.Reader }

// Decisions implements appfile.PlacementSource: the clusters of every PlacementDecision of the
// Placement, in decision group order (and the placement controller's order within a group).
func (p placements) Decisions(ctx context.Context, namespace, placement string) ([]appfile.Decision, bool, error) {
	var list clusterv1beta1.PlacementDecisionList
	err := p.reader.List(ctx, &list, client.InNamespace(namespace), client.MatchingLabels{clusterv1beta1.PlacementLabel: placement})
	if meta.IsNoMatchError(err) {
		return nil, false, fmt.Errorf("the hub does not serve OCM PlacementDecisions: install OCM's cluster manager")
	}
	if err != nil {
		return nil, false, err
	}
	if len(list.Items) == 0 {
		return nil, false, nil
	}
	index := func(d clusterv1beta1.PlacementDecision) int {
		n, err := strconv.Atoi(d.Labels[clusterv1beta1.DecisionGroupIndexLabel])
		if err != nil {
			return 0
		}
		return n
	}
	sort.SliceStable(list.Items, func(i, j int) bool {
		if a, b := index(list.Items[i]), index(list.Items[j]); a != b {
			return a < b
		}
		return list.Items[i].Name < list.Items[j].Name
	})
	var out []appfile.Decision
	for _, d := range list.Items {
		for _, cd := range d.Status.Decisions {
			out = append(out, appfile.Decision{Cluster: cd.ClusterName, Group: d.Labels[clusterv1beta1.DecisionGroupNameLabel], GroupIndex: index(d)})
		}
	}
	return out, true, nil
}
