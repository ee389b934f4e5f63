package dispatch

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ferryhq/ferry/api/v1beta1"
)

// AppRef identifies an Application.
type AppRef struct {
	Name, Namespace string
}

func (a AppRef) String() string { return a.Namespace + "/" + a.Name }

// ownedBy reports whether labels say the object belongs to the app.
func (a AppRef) ownedBy(labels map[string]string) bool {
	return labels[v1beta1.LabelAppName] == a.Name && labels[v1beta1.LabelAppNamespace] == a.Namespace
}

// LabelAppRevisionNumber records a tracker's revision number as a label, so trackers list in order.
const LabelAppRevisionNumber = "app.oam.dev/revision-number"

// ResourceKey identifies a tracked object.
func ResourceKey(r v1beta1.ManagedResource) string {
	return fmt.Sprintf("%s|%s|%s|%s|%s", r.Cluster, groupOf(r.APIVersion), r.Kind, r.Namespace, r.Name)
}

func groupOf(apiVersion string) string {
	for i := len(apiVersion) - 1; i >= 0; i-- {
		if apiVersion[i] == '/' {
			return apiVersion[:i]
		}
	}
	return ""
}

// Trackers records what an Application's revisions dispatched, in cluster-scoped
// ResourceTrackers named <namespace>.<app>.v<revision>. A tracker is append-only for the life
// of its revision: garbage collection trusts it.
type Trackers struct {
	Client client.Client
	// Reader reads trackers; the live API so that a cache that is behind never hides a
	// record. Client when nil.
	Reader client.Reader
}

// TrackerName names the tracker of one revision.
func TrackerName(app AppRef, revision int64) string {
	return fmt.Sprintf("%s.%s.v%d", app.Namespace, app.Name, revision)
}

// Record adds resources to the revision's tracker, creating it when needed. Resources already
// recorded are left as they are. When the (cached) Client already shows every resource recorded,
// nothing is read from the API or written.
func (t *Trackers) Record(ctx context.Context, app AppRef, revision int64, resources []v1beta1.ManagedResource) error {
	cached := &v1beta1.ResourceTracker{}
	if t.Reader != nil {
		err := t.Client.Get(ctx, client.ObjectKey{Name: TrackerName(app, revision)}, cached)
		switch {
		case err == nil && recordsAll(cached, resources):
			return nil
		case apierrors.IsNotFound(err):
			// Most likely a new revision: create at once; if the cache was behind, the
			// create fails and the loop below reads and appends.
			err := t.Client.Create(ctx, newTracker(app, revision, resources))
			if !apierrors.IsAlreadyExists(err) {
				return err
			}
		}
	}
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		rt := &v1beta1.ResourceTracker{}
		err := t.reader().Get(ctx, client.ObjectKey{Name: TrackerName(app, revision)}, rt)
		switch {
		case apierrors.IsNotFound(err):
			rt = newTracker(app, revision, resources)
			err := t.Client.Create(ctx, rt)
			if apierrors.IsAlreadyExists(err) {
				return apierrors.NewConflict(v1beta1.GroupVersion.WithResource("resourcetrackers").GroupResource(), rt.Name, err)
			}
			return err
		case err != nil:
			return err
		}
		known := make(map[string]bool, len(rt.Spec.ManagedResources))
		for _, r := range rt.Spec.ManagedResources {
			known[ResourceKey(r)] = true
		}
		added := false
		for _, r := range resources {
			if !known[ResourceKey(r)] {
				known[ResourceKey(r)] = true
				rt.Spec.ManagedResources = append(rt.Spec.ManagedResources, r)
				added = true
			}
		}
		if !added {
			return nil
		}
		return t.Client.Update(ctx, rt)
	})
}

func newTracker(app AppRef, revision int64, resources []v1beta1.ManagedResource) *v1beta1.ResourceTracker {
	return &v1beta1.ResourceTracker{
		ObjectMeta: metav1.ObjectMeta{Name: TrackerName(app, revision), Labels: map[string]string{
			v1beta1.LabelAppName: app.Name, v1beta1.LabelAppNamespace: app.Namespace,
			LabelAppRevisionNumber: strconv.FormatInt(revision, 10)}},
		Spec: v1beta1.ResourceTrackerSpec{ApplicationRevision: revision, ManagedResources: append([]v1beta1.ManagedResource(nil), resources...)},
	}
}

func recordsAll(rt *v1beta1.ResourceTracker, resources []v1beta1.ManagedResource) bool {
	known := make(map[string]bool, len(rt.Spec.ManagedResources))
	for _, r := range rt.Spec.ManagedResources {
		known[ResourceKey(r)] = true
	}
	for _, r := range resources {
		if !known[ResourceKey(r)] {
			return false
		}
	}
	return true
}

// List returns the app's trackers, oldest revision first. Unless fresh, they come from the
// (cached) Client, where a tracker created moments ago may be missing or behind: read one with
// Get before acting on what it records.
func (t *Trackers) List(ctx context.Context, app AppRef, fresh bool) ([]v1beta1.ResourceTracker, error) {
	var list v1beta1.ResourceTrackerList
	var reader client.Reader = t.Client
	if fresh {
		reader = t.reader()
	}
	if err := reader.List(ctx, &list, client.MatchingLabels{
		v1beta1.LabelAppName: app.Name, v1beta1.LabelAppNamespace: app.Namespace}); err != nil {
		return nil, fmt.Errorf("list resource trackers of %s: %w", app, err)
	}
	sort.Slice(list.Items, func(i, j int) bool {
		return list.Items[i].Spec.ApplicationRevision < list.Items[j].Spec.ApplicationRevision
	})
	return list.Items, nil
}

// Get reads one revision's tracker from the live API; found is false when there is none.
func (t *Trackers) Get(ctx context.Context, app AppRef, revision int64) (rt *v1beta1.ResourceTracker, found bool, err error) {
	rt = &v1beta1.ResourceTracker{}
	err = t.reader().Get(ctx, client.ObjectKey{Name: TrackerName(app, revision)}, rt)
	if apierrors.IsNotFound(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read resource tracker %s: %w", TrackerName(app, revision), err)
	}
	return rt, true, nil
}

// Forget removes the records drop matches from a revision's tracker: objects collected within
// the revision (a cluster no step targets any more).
func (t *Trackers) Forget(ctx context.Context, app AppRef, revision int64, drop func(v1beta1.ManagedResource) bool) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		rt := &v1beta1.ResourceTracker{}
		if err := t.reader().Get(ctx, client.ObjectKey{Name: TrackerName(app, revision)}, rt); err != nil {
			return client.IgnoreNotFound(err)
		}
		kept := slices.DeleteFunc(slices.Clone(rt.Spec.ManagedResources), drop)
		if len(kept) == len(rt.Spec.ManagedResources) {
			return nil
		}
		rt.Spec.ManagedResources = kept
		return t.Client.Update(ctx, rt)
	})
}

// Delete removes one tracker; a missing one is fine.
func (t *Trackers) Delete(ctx context.Context, rt *v1beta1.ResourceTracker) error {
	if err := t.Client.Delete(ctx, rt); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete resource tracker %s: %w", rt.Name, err)
	}
	return nil
}

func (t *Trackers) reader() client.Reader {
	if t.Reader != nil {
		return t.Reader
	}
	return t.Client
}
