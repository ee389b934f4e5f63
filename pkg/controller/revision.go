package controller

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	workv1 "open-cluster-management.io/api/work/v1"

	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/appfile"
	"github.com/ferryhq/ferry/pkg/dispatch"
)

// RevisionName names revision n of an app.
func RevisionName(app string, n int64) string { return fmt.Sprintf("%s-v%d", app, n) }

// render parses and renders the Application (or the revision its publishVersion pins) into a
// plan. A user error is reported in the Rendered condition and stops the reconcile.
func (r *ApplicationReconciler) render(ctx context.Context, run *appRun) error {
	if err := r.pin(ctx, run); err != nil {
		return err
	}
	latest := run.app.Status.LatestRevision
	run.revName, run.revNum = RevisionName(run.app.Name, 1), 1
	if latest != nil {
		run.revName, run.revNum = latest.Name, latest.Revision
	}
	if err := r.plan(ctx, run); err != nil {
		return err
	}
	if latest != nil {
		if err := r.loadRenderedFrom(ctx, run, latest.Name); err != nil {
			return err
		}
	}
	run.condition(v1beta1.ConditionRendered, true, v1beta1.ReasonRendered, "the application renders")
	return nil
}

// loadRenderedFrom makes a revision that a rollback made deliver the objects it took over
// (run.exact): what the revision it returned to rendered.
func (r *ApplicationReconciler) loadRenderedFrom(ctx context.Context, run *appRun, name string) error {
	rev := &v1beta1.ApplicationRevision{}
	if err := r.client.Get(ctx, client.ObjectKey{Namespace: run.app.Namespace, Name: name}, rev); err != nil {
		return client.IgnoreNotFound(err)
	}
	if rev.Annotations[v1beta1.AnnotationRenderedFrom] == "" || rev.Spec.Rendered == nil {
		return nil
	}
	objects, err := dispatch.DecodeRendered(rev.Spec.Rendered)
	if err != nil {
		return fmt.Errorf("revision %s: %w", rev.Name, err)
	}
	run.exact = objects
	return nil
}

// pin reads the revision a publishVersion annotation holds the app to: while the annotation
// keeps the value of the latest revision, spec changes are not delivered.
func (r *ApplicationReconciler) pin(ctx context.Context, run *appRun) error {
	pv := run.app.Annotations[v1beta1.AnnotationPublishVersion]
	latest := run.app.Status.LatestRevision
	if pv == "" || latest == nil {
		return nil
	}
	rev := &v1beta1.ApplicationRevision{}
	err := r.client.Get(ctx, client.ObjectKey{Namespace: run.app.Namespace, Name: latest.Name}, rev)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read revision %s: %w", latest.Name, err)
	}
	if rev.Spec.PublishVersion == pv {
		run.pinned = rev
		src := run.app.DeepCopy()
		src.Spec = *rev.Spec.Application.DeepCopy()
		run.source = src
	}
	return nil
}

// plan renders run.source for revision run.revName. A problem of the app or a definition is
// reported in the Rendered condition; a failure to read a source is returned, and retried.
func (r *ApplicationReconciler) plan(ctx context.Context, run *appRun) error {
	plan, err := r.planner.Plan(ctx, appfile.FromApplication(run.source), appfile.PlanOptions{AppRevision: run.revName, AppRevisionNum: run.revNum})
	var problems appfile.ErrorList
	if err != nil && !errors.As(err, &problems) {
		return fmt.Errorf("plan: %w", err)
	}
	if err != nil {
		// Mostly the app's or a definition's fault; a definition that could not be read is
		// retried soon, and an edit of the app or a definition brings it back at once.
		prev := meta.FindStatusCondition(run.app.Status.Conditions, v1beta1.ConditionRendered)
		if prev == nil || prev.Status != metav1.ConditionFalse || prev.Message != err.Error() {
			r.event(run, "Warning", v1beta1.ReasonRenderFailed, err.Error())
		}
		run.condition(v1beta1.ConditionRendered, false, v1beta1.ReasonRenderFailed, err.Error())
		run.after(r.opts.UnhealthyRecheck)
		return errStop
	}
	run.plan = plan
	run.unavailable = unavailableClusters(plan.Clusters)
	return nil
}

// ensureRevision makes sure an ApplicationRevision records what is delivered: a new one when
// the spec, the publish version or a used definition changed.
func (r *ApplicationReconciler) ensureRevision(ctx context.Context, run *appRun) error {
	if run.pinned != nil {
		return nil
	}
	hash, err := appfile.RevisionHash(run.source, run.plan.Definitions)
	if err != nil {
		return err
	}
	latest := run.app.Status.LatestRevision
	if latest != nil && latest.RevisionHash == hash {
		return nil
	}
	if exact, err := r.keepDelivering(ctx, run, latest); err != nil || exact {
		return err
	}
	next := int64(1)
	if latest != nil {
		next = latest.Revision + 1
	}
	created := true
	run.exact = nil // what the latest revision delivers is not the new one's
	for attempt := 0; ; attempt++ {
		// Render as this revision (context.appRevision), so that what it keeps is what it
		// delivers.
		run.revName, run.revNum = RevisionName(run.app.Name, next), next
		if err := r.plan(ctx, run); err != nil {
			return err
		}
		rev := r.newRevision(ctx, run, next, hash)
		err := r.client.Create(ctx, rev)
		if err == nil {
			break
		}
		if !apierrors.IsAlreadyExists(err) || attempt == 3 {
			return fmt.Errorf("create revision %s: %w", rev.Name, err)
		}
		// The status lost track of revisions: a reconcile created one and its status write was
		// lost (a crash, a conflict), or another writer raced. The highest revision with this
		// content is the same revision: adopt it, so its workflow, and what its steps sent,
		// carry on instead of running again. Otherwise continue after the highest.
		highest, err := r.highestRevision(ctx, run)
		if err != nil {
			return err
		}
		if highest != nil && highest.Spec.RevisionHash == hash {
			next, created = highest.Spec.Revision, false
			break
		}
		next = 1
		if highest != nil {
			next = highest.Spec.Revision + 1
		}
	}
	run.app.Status.LatestRevision = &v1beta1.Revision{Name: RevisionName(run.app.Name, next), Revision: next, RevisionHash: hash}
	if run.revNum != next {
		// An adopted revision: render as it.
		run.revName, run.revNum = RevisionName(run.app.Name, next), next
		if err := r.plan(ctx, run); err != nil {
			return err
		}
	}
	if created {
		r.event(run, "Normal", v1beta1.ReasonRevision, fmt.Sprintf("revision %s (%s)", run.revName, hash))
		if len(run.plan.Warnings) > 0 {
			r.event(run, "Warning", v1beta1.ReasonIgnoredFields, fmt.Sprintf("revision %s: %s", run.revName, strings.Join(run.plan.Warnings, "; ")))
		}
	}
	return r.pruneRevisions(ctx, run)
}

func (r *ApplicationReconciler) newRevision(ctx context.Context, run *appRun, n int64, hash string) *v1beta1.ApplicationRevision {
	rev := &v1beta1.ApplicationRevision{
		ObjectMeta: metav1.ObjectMeta{
			Name: RevisionName(run.app.Name, n), Namespace: run.app.Namespace,
			Labels: map[string]string{v1beta1.LabelAppName: run.app.Name, v1beta1.LabelAppNamespace: run.app.Namespace,
				dispatch.LabelAppRevisionNumber: strconv.FormatInt(n, 10)},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: v1beta1.GroupVersion.String(), Kind: "Application",
				Name: run.app.Name, UID: run.app.UID}},
		},
		Spec: v1beta1.ApplicationRevisionSpec{Revision: n, RevisionHash: hash,
			PublishVersion: run.app.Annotations[v1beta1.AnnotationPublishVersion],
			Application:    *run.source.Spec.DeepCopy()},
	}
	for _, d := range run.plan.Definitions {
		rev.Spec.Definitions = append(rev.Spec.Definitions, v1beta1.DefinitionSnapshot{Kind: d.Kind, Name: d.Name, Hash: d.Hash})
	}
	if from, ok := r.rollbackSource(ctx, run); ok {
		// A rollback: deliver what the revision it returns to rendered, exactly.
		rev.Annotations = map[string]string{v1beta1.AnnotationRenderedFrom: from.Name}
		rev.Spec.Rendered = from.Spec.Rendered.DeepCopy()
		if objects, err := dispatch.DecodeRendered(rev.Spec.Rendered); err == nil {
			run.exact = objects
		}
		return rev
	}
	rendered, err := r.rendered(ctx, run)
	if err != nil {
		// The revision still works; only a rollback to it cannot be exact.
		ctrl.LoggerFrom(ctx).Info("revision keeps no rendered objects", "revision", rev.Name, "reason", err.Error())
	}
	rev.Spec.Rendered = rendered
	return rev
}

// rollbackSource is the revision a rollback annotation names, when the app's spec is still that
// revision's and it kept what it rendered.
func (r *ApplicationReconciler) rollbackSource(ctx context.Context, run *appRun) (*v1beta1.ApplicationRevision, bool) {
	name := run.app.Annotations[v1beta1.AnnotationRollbackTo]
	if name == "" {
		return nil, false
	}
	from := &v1beta1.ApplicationRevision{}
	if err := r.apiReader.Get(ctx, client.ObjectKey{Namespace: run.app.Namespace, Name: name}, from); err != nil || from.Spec.Rendered == nil {
		return nil, false
	}
	if !apiequality.Semantic.DeepEqual(from.Spec.Application, run.source.Spec) {
		return nil, false // the spec moved on since the rollback
	}
	return from, true
}

// keepDelivering decides that a change of definitions alone does not make a new revision while
// the latest revision's workflow runs and has delivered something: what reaches prod is what
// staging got. The revision's ManifestWorks are then delivered as it rendered them (run.exact);
// once its workflow has ended, the next reconcile makes a new revision with the new
// definitions, which starts the workflow again. A spec change always makes a new revision at
// once.
func (r *ApplicationReconciler) keepDelivering(ctx context.Context, run *appRun, latest *v1beta1.Revision) (bool, error) {
	ws := run.app.Status.Workflow
	if latest == nil || ws == nil || ws.AppRevision != latest.Name || ws.Finished || len(succeededDeploySteps(ws, run.plan)) == 0 {
		// Nothing of the revision has been delivered and verified yet (a definition fixed for
		// an app stuck at its first step takes effect at once).
		return false, nil
	}
	rev := &v1beta1.ApplicationRevision{}
	if err := r.client.Get(ctx, client.ObjectKey{Namespace: run.app.Namespace, Name: latest.Name}, rev); err != nil {
		return false, client.IgnoreNotFound(err)
	}
	if rev.Spec.Rendered == nil {
		return false, nil // made by an older Ferry: nothing to deliver exactly
	}
	defs := make([]appfile.DefinitionRef, 0, len(rev.Spec.Definitions))
	for _, d := range rev.Spec.Definitions {
		defs = append(defs, appfile.DefinitionRef{Kind: d.Kind, Name: d.Name, Hash: d.Hash})
	}
	sameSpec, err := appfile.RevisionHash(run.source, defs)
	if err != nil || sameSpec != latest.RevisionHash {
		return false, err
	}
	objects, err := dispatch.DecodeRendered(rev.Spec.Rendered)
	if err != nil {
		return false, fmt.Errorf("revision %s: %w", rev.Name, err)
	}
	run.exact = objects
	ctrl.LoggerFrom(ctx).V(1).Info("definitions changed while the workflow runs: delivering what the revision rendered", "revision", rev.Name)
	return true, nil
}

// exactObject is what the revision rendered for a ManifestWork, when run.exact holds it.
func (run *appRun) exactObject(step string, work *unstructured.Unstructured) (*unstructured.Unstructured, bool) {
	for _, o := range run.exact {
		if o.Step != step || o.Cluster != work.GetNamespace() {
			continue
		}
		u := &unstructured.Unstructured{Object: o.Object}
		if u.GetKind() == "ManifestWork" && u.GetName() == work.GetName() {
			return u.DeepCopy(), true
		}
	}
	return nil, false
}

// rendered is what the plan delivers, every delivery step on every target, compressed.
func (r *ApplicationReconciler) rendered(ctx context.Context, run *appRun) (*v1beta1.RenderedObjects, error) {
	var objects []dispatch.RenderedObject
	for _, sp := range run.plan.Steps {
		desired, _, err := dispatch.DesiredObjects(r.desiredOptions(ctx, run, sp))
		if err != nil {
			return nil, err
		}
		for _, d := range desired {
			cluster := appfile.LocalCluster
			if d.Object.GetKind() == "ManifestWork" {
				cluster = d.Object.GetNamespace()
			}
			objects = append(objects, dispatch.RenderedObject{Step: sp.Name, Cluster: cluster, Object: d.Object.Object})
		}
	}
	return dispatch.EncodeRendered(objects)
}

func (r *ApplicationReconciler) listRevisions(ctx context.Context, reader client.Reader, app *v1beta1.Application) ([]v1beta1.ApplicationRevision, error) {
	var list v1beta1.ApplicationRevisionList
	if err := reader.List(ctx, &list, client.InNamespace(app.Namespace),
		client.MatchingLabels{v1beta1.LabelAppName: app.Name, v1beta1.LabelAppNamespace: app.Namespace}); err != nil {
		return nil, fmt.Errorf("list revisions: %w", err)
	}
	sort.Slice(list.Items, func(i, j int) bool { return list.Items[i].Spec.Revision < list.Items[j].Spec.Revision })
	return list.Items, nil
}

// highestRevision reads the app's newest revision from the API server; nil when it has none.
func (r *ApplicationReconciler) highestRevision(ctx context.Context, run *appRun) (*v1beta1.ApplicationRevision, error) {
	revs, err := r.listRevisions(ctx, r.apiReader, run.app)
	if err != nil || len(revs) == 0 {
		return nil, err
	}
	return &revs[len(revs)-1], nil
}

// pruneRevisions keeps the newest revisions up to the history limit.
func (r *ApplicationReconciler) pruneRevisions(ctx context.Context, run *appRun) error {
	limit := r.opts.RevisionHistoryLimit
	if l := run.plan.Policies.RevisionLimit; l != nil {
		limit = max(*l, 1)
	}
	if run.revNum <= int64(limit) {
		return nil // revisions are numbered from 1: there cannot be more than the limit yet
	}
	revs, err := r.listRevisions(ctx, r.apiReader, run.app)
	if err != nil {
		return err
	}
	running, err := r.runningRevisions(ctx, run)
	if err != nil {
		return err
	}
	for i := 0; i < len(revs)-limit; i++ {
		if running[revs[i].Name] {
			continue // a cluster runs it: a rollback there needs it
		}
		if err := r.client.Delete(ctx, &revs[i]); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("prune revision %s: %w", revs[i].Name, err)
		}
	}
	return nil
}

// runningRevisions names the revisions some managed cluster runs, as the app's ManifestWorks
// say.
func (r *ApplicationReconciler) runningRevisions(ctx context.Context, run *appRun) (map[string]bool, error) {
	var works workv1.ManifestWorkList
	err := r.client.List(ctx, &works, client.MatchingLabels{v1beta1.LabelAppName: run.app.Name, v1beta1.LabelAppNamespace: run.app.Namespace})
	if meta.IsNoMatchError(err) {
		return nil, nil // no OCM on this hub
	}
	if err != nil {
		return nil, fmt.Errorf("list the app's ManifestWorks: %w", err)
	}
	out := map[string]bool{}
	for _, w := range works.Items {
		if rev := w.Annotations[v1beta1.AnnotationAppRevision]; rev != "" {
			out[rev] = true
		}
	}
	return out, nil
}

func (r *ApplicationReconciler) event(run *appRun, typ, reason, message string) {
	if r.recorder != nil {
		r.recorder.Event(run.app, typ, reason, message)
	}
}
