package controller

import (
	"context"
	"errors"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	workv1 "open-cluster-management.io/api/work/v1"

	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/appfile"
	"github.com/ferryhq/ferry/pkg/appview"
	"github.com/ferryhq/ferry/pkg/dispatch"
	"github.com/ferryhq/ferry/pkg/workflow"
)

// collectGarbage deletes what older revisions deployed and the latest one no longer wants. It
// runs only once the latest revision's workflow has succeeded, and decides from trackers alone:
// the latest revision's tracker (read from the API, never a cache) lists everything it
// deployed, because objects are recorded before they are applied. A failure leaves the
// workflow alone and is retried.
func (r *ApplicationReconciler) collectGarbage(ctx context.Context, run *appRun) error {
	ws := run.app.Status.Workflow
	if ws == nil || ws.AppRevision != run.revName || workflow.Phase(ws.Phase) != workflow.PhaseSucceeded {
		return nil
	}
	old, err := r.oldTrackers(ctx, run, false)
	if err != nil {
		return err
	}
	if len(old) == 0 && run.revNum > 1 && !collectedAtThisGeneration(run.app) {
		// The cache says there is nothing older, but it may not have seen an older tracker
		// yet (the tracker informer lags under load: CI twice left a dropped policy's or
		// step's objects in place, "nothing left to collect"). Before this generation is
		// called collected, ask the API server once. A first revision has nothing older.
		if old, err = r.oldTrackers(ctx, run, true); err != nil {
			return err
		}
		if len(old) > 0 {
			ctrl.LoggerFrom(ctx).Info("the cache had not seen older resource trackers yet", "revisions", old)
		}
	}
	if len(old) == 0 || run.plan.Policies.KeepLegacyResource {
		run.condition(v1beta1.ConditionGarbageCollected, true, v1beta1.ReasonCollected, "nothing left to collect")
		return nil
	}
	current, _, err := r.trackers.Get(ctx, run.ref, run.revNum)
	if err != nil {
		return err
	}
	wanted := map[string]bool{}
	if current != nil {
		for _, res := range current.Spec.ManagedResources {
			wanted[dispatch.ResourceKey(res)] = true
		}
	}
	var pending []string
	var errs []error
	for _, rev := range old {
		p, err := r.collectTracker(ctx, run, rev, wanted)
		pending = append(pending, p...)
		if err != nil {
			errs = append(errs, err)
			if !run.plan.Policies.ContinueOnFailure {
				break
			}
		}
	}
	switch {
	case len(errs) > 0:
		run.condition(v1beta1.ConditionGarbageCollected, false, v1beta1.ReasonCollectFailed, errors.Join(errs...).Error())
		run.after(requeueSoon)
	case len(pending) > 0:
		run.condition(v1beta1.ConditionGarbageCollected, false, v1beta1.ReasonCollecting, "waiting for "+summarize(pending))
		run.after(requeueSoon)
	default:
		run.condition(v1beta1.ConditionGarbageCollected, true, v1beta1.ReasonCollected, "objects older revisions deployed are collected")
	}
	return nil
}

// oldTrackers lists the revisions of the app's trackers other than the latest, from the cache
// or, fresh, from the API server. Every other tracker is old: a newer one can only come from a
// reconcile whose status write was lost (the cache is never behind this reconciler's own
// Application writes, see cacheBehind), so the latest revision in the status is what is
// delivered.
func (r *ApplicationReconciler) oldTrackers(ctx context.Context, run *appRun, fresh bool) ([]int64, error) {
	trackers, err := r.listTrackers(ctx, run, fresh)
	if err != nil {
		return nil, err
	}
	var old []int64
	for _, rt := range trackers {
		if rt.Spec.ApplicationRevision != run.revNum {
			old = append(old, rt.Spec.ApplicationRevision)
		}
	}
	return old, nil
}

// collectLeftClusters lets go of the ManifestWorks of managed clusters that no delivery step of
// the current revision targets any more — an OCM Placement decided otherwise, a cluster was
// relabelled out of a selector — once the workflow has succeeded, as garbage collection does
// between revisions: their objects leave those clusters with the ManifestWorks, and the
// tracker forgets them once they are gone. Clusters that are still targeted are not touched.
func (r *ApplicationReconciler) collectLeftClusters(ctx context.Context, run *appRun) error {
	ws := run.app.Status.Workflow
	if ws == nil || ws.AppRevision != run.revName || workflow.Phase(ws.Phase) != workflow.PhaseSucceeded || run.plan == nil {
		return nil
	}
	trackers, err := r.listTrackers(ctx, run, false)
	if err != nil {
		return err
	}
	targeted := map[string]bool{}
	for _, sp := range run.plan.Steps {
		if sp.Waiting != "" {
			// A Placement without decisions (not decided yet, deleted, none made): that is
			// no reason to take the app off the clusters it runs on.
			return nil
		}
		for _, t := range sp.Targets {
			targeted[t.Cluster] = true
		}
	}
	left := map[string]bool{}
	var works []v1beta1.ManagedResource
	for _, rt := range trackers {
		if rt.Spec.ApplicationRevision != run.revNum {
			continue
		}
		for _, res := range rt.Spec.ManagedResources {
			if res.Kind == "ManifestWork" && appview.ClusterName(res.Cluster) == appfile.LocalCluster && !targeted[res.Namespace] &&
				res.Component == "" && run.deliveryWork(res.Name) {
				works = append(works, res)
				left[res.Namespace] = true
			}
		}
	}
	if len(works) == 0 {
		return nil
	}
	var pending []string
	for _, res := range works {
		gone, err := r.collect(ctx, run, res)
		if err != nil {
			return err
		}
		if !gone {
			pending = append(pending, fmt.Sprintf("%s %s/%s", res.Kind, res.Namespace, res.Name))
		}
	}
	if len(pending) > 0 {
		run.condition(v1beta1.ConditionGarbageCollected, false, v1beta1.ReasonCollecting, "waiting for "+summarize(pending))
		run.after(requeueSoon)
		return nil
	}
	return r.trackers.Forget(ctx, run.ref, run.revNum, func(res v1beta1.ManagedResource) bool {
		return (res.Kind == "ManifestWork" && left[res.Namespace] && appview.ClusterName(res.Cluster) == appfile.LocalCluster) || left[res.Cluster]
	})
}

// deliveryWork reports whether a ManifestWork name is one Ferry gives a delivery step's work
// (not one an app's component creates on the hub).
func (run *appRun) deliveryWork(name string) bool {
	for _, sp := range run.plan.Steps {
		base := dispatch.WorkName(run.app.Name, run.app.Namespace, sp.Name, 0)
		if name == base {
			return true
		}
		if rest, ok := strings.CutPrefix(name, base+"-"); ok && rest != "" && strings.Trim(rest, "0123456789") == "" {
			return true
		}
	}
	return false
}

// listTrackers lists the app's trackers: fresh from the API server, or from the cache once per
// reconcile.
func (r *ApplicationReconciler) listTrackers(ctx context.Context, run *appRun, fresh bool) ([]v1beta1.ResourceTracker, error) {
	if fresh {
		return r.trackers.List(ctx, run.ref, true)
	}
	if run.trackers == nil {
		list, err := r.trackers.List(ctx, run.ref, false)
		if err != nil {
			return nil, err
		}
		run.trackers = list
	}
	return run.trackers, nil
}

// collectedAtThisGeneration reports whether an earlier reconcile of this generation found
// nothing left to collect (or collected it all).
func collectedAtThisGeneration(app *v1beta1.Application) bool {
	c := meta.FindStatusCondition(app.Status.Conditions, v1beta1.ConditionGarbageCollected)
	return c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == app.Generation
}

// collectTracker collects the objects one old revision deployed that wanted does not hold, and
// deletes its tracker once they are gone. Objects kept until the app is deleted move to the
// latest revision's tracker first, so they stay tracked.
func (r *ApplicationReconciler) collectTracker(ctx context.Context, run *appRun, rev int64, wanted map[string]bool) ([]string, error) {
	rt, found, err := r.trackers.Get(ctx, run.ref, rev)
	if err != nil || !found {
		return nil, err
	}
	decision := dispatch.CollectOnUpdate(rt.Spec.ManagedResources, wanted)
	var pending []string
	for _, res := range decision.Collect {
		gone, err := r.collect(ctx, run, res)
		if err != nil {
			return pending, err
		}
		if !gone {
			pending = append(pending, fmt.Sprintf("%s %s/%s", res.Kind, res.Namespace, res.Name))
		}
	}
	if len(decision.Keep) > 0 {
		if err := r.trackers.Record(ctx, run.ref, run.revNum, decision.Keep); err != nil {
			return pending, err
		}
	}
	if len(pending) > 0 {
		return pending, nil
	}
	return nil, r.trackers.Delete(ctx, rt)
}

// collect lets go of one tracked object. Objects on managed clusters go with their
// ManifestWork. A ManifestWork whose cluster is unavailable is not waited for forever: once
// its deletion is requested, its finalizer is removed, and an event says its objects may remain
// on that cluster.
func (r *ApplicationReconciler) collect(ctx context.Context, run *appRun, res v1beta1.ManagedResource) (bool, error) {
	if res.Cluster != "" && res.Cluster != appfile.LocalCluster {
		return true, nil
	}
	hub := run.hub
	if dispatch.IsDeliveryWork(run.ref, res) {
		hub = r.hub // Ferry's own ManifestWork
	}
	gone, err := hub.Collect(ctx, run.ref, res)
	if apierrors.IsForbidden(err) {
		// Waiting would hold the app (and its deletion) until someone changes the RBAC: let go.
		who := "the controller is"
		if hub != r.hub && !run.identity.IsZero() {
			who = run.identity.User + " (the app's identity) is"
		}
		r.event(run, "Warning", v1beta1.ReasonCollectForbidden, fmt.Sprintf("%s %s/%s left in place: %s not allowed to delete it: %v",
			res.Kind, res.Namespace, res.Name, who, err))
		return true, nil
	}
	if err != nil || gone || res.Kind != "ManifestWork" {
		return gone, err
	}
	msg, down := run.unavailable[res.Namespace]
	if !down {
		return false, nil
	}
	work := &workv1.ManifestWork{}
	if err := r.apiReader.Get(ctx, client.ObjectKey{Namespace: res.Namespace, Name: res.Name}, work); err != nil {
		return apierrors.IsNotFound(err), client.IgnoreNotFound(err)
	}
	if len(work.Finalizers) == 0 {
		return false, nil
	}
	patch := client.MergeFrom(work.DeepCopy())
	work.Finalizers = nil
	if err := r.client.Patch(ctx, work, patch); err != nil && !apierrors.IsNotFound(err) {
		return false, fmt.Errorf("release ManifestWork %s/%s of an unavailable cluster: %w", res.Namespace, res.Name, err)
	}
	r.event(run, "Warning", v1beta1.ReasonClusterUnavailable, fmt.Sprintf("%s: ManifestWork %s removed without its agent's cleanup; its objects may remain on cluster %s",
		msg, res.Name, res.Namespace))
	return false, nil
}

// finalize removes everything the app owns, then lets it go.
func (r *ApplicationReconciler) finalize(ctx context.Context, run *appRun) (ctrl.Result, error) {
	run.setPhase()
	if !controllerutil.ContainsFinalizer(run.app, v1beta1.FinalizerCleanup) {
		return ctrl.Result{}, nil
	}
	trackers, err := r.trackers.List(ctx, run.ref, true)
	if err != nil {
		return ctrl.Result{}, err
	}
	clusters, err := r.sources.Clusters.ManagedClusters(ctx)
	if err != nil {
		return ctrl.Result{}, err
	}
	run.unavailable = unavailableClusters(clusters)
	var pending []string
	for _, res := range dispatch.CollectOnDelete(trackers) {
		gone, err := r.collect(ctx, run, res)
		if err != nil {
			run.condition(v1beta1.ConditionGarbageCollected, false, v1beta1.ReasonCollectFailed, err.Error())
			return ctrl.Result{RequeueAfter: requeueSoon}, nil
		}
		if !gone {
			pending = append(pending, fmt.Sprintf("%s %s/%s", res.Kind, res.Namespace, res.Name))
		}
	}
	if len(pending) > 0 {
		run.condition(v1beta1.ConditionGarbageCollected, false, v1beta1.ReasonDeleting, "waiting for "+summarize(pending))
		return ctrl.Result{RequeueAfter: requeueSoon}, nil
	}
	for i := range trackers {
		if err := r.trackers.Delete(ctx, &trackers[i]); err != nil {
			return ctrl.Result{}, err
		}
	}
	if err := r.deleteOwnedObjects(ctx, run.app); err != nil {
		return ctrl.Result{}, err
	}
	patch := client.MergeFrom(run.app.DeepCopy())
	controllerutil.RemoveFinalizer(run.app, v1beta1.FinalizerCleanup)
	if err := r.client.Patch(ctx, run.app, patch); err != nil && !apierrors.IsNotFound(err) {
		return ctrl.Result{}, err
	}
	r.ownWrites.Delete(types.NamespacedName{Namespace: run.app.Namespace, Name: run.app.Name})
	return ctrl.Result{}, nil
}

// deleteOwnedObjects removes the app's revisions and workflow context; owner references would
// too, but only where a garbage collector runs.
func (r *ApplicationReconciler) deleteOwnedObjects(ctx context.Context, app *v1beta1.Application) error {
	revs, err := r.listRevisions(ctx, r.apiReader, app)
	if err != nil {
		return err
	}
	for i := range revs {
		if err := r.client.Delete(ctx, &revs[i]); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete revision %s: %w", revs[i].Name, err)
		}
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: app.Namespace, Name: ContextConfigMapName(app.Name)}}
	if err := r.client.Delete(ctx, cm); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete workflow context: %w", err)
	}
	return nil
}

// summarize lists a few items and counts the rest.
func summarize(items []string) string {
	const shown = 5
	if len(items) <= shown {
		return strings.Join(items, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(items[:shown], ", "), len(items)-shown)
}
