package controller

import (
	"context"
	"fmt"
	"time"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	workv1 "open-cluster-management.io/api/work/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/appfile"
	"github.com/ferryhq/ferry/pkg/definition"
	"github.com/ferryhq/ferry/pkg/dispatch"
	"github.com/ferryhq/ferry/pkg/identity"
	"github.com/ferryhq/ferry/pkg/workflow"
)

// appRun is the state of one reconcile of one Application.
type appRun struct {
	r    *ApplicationReconciler
	app  *v1beta1.Application // working copy; its status is what gets written
	orig *v1beta1.Application
	ref  dispatch.AppRef
	now  time.Time

	// source is the Application as the revision sees it: the app, or its pinned revision's spec.
	source *v1beta1.Application
	// pinned is the revision a publishVersion annotation holds the app to.
	pinned *v1beta1.ApplicationRevision
	plan   *appfile.Plan
	// revision is the name and number of the revision being delivered.
	revName string
	revNum  int64
	// exact, when set, is what the revision rendered: definitions changed while its workflow
	// runs, and its ManifestWorks are delivered as they were rendered, not as now.
	exact []dispatch.RenderedObject

	// applied are the deploy steps applied in this reconcile; keepState skips them.
	applied map[string]bool
	// applyFailed is set when an apply in this reconcile failed, so that the Applied
	// condition the failing step set is not overwritten.
	applyFailed bool
	// live caches objects read in this reconcile by dispatch.ResourceKey.
	live map[string]*unstructured.Unstructured
	// absent holds, by objectKey, the objects read in this reconcile that did not exist (or
	// were not the app's to see in the cache): one appearing unsettles the app.
	absent map[string]bool
	// trackers caches the app's resource trackers as the cache lists them, once per reconcile
	// (nil: not listed yet).
	trackers []v1beta1.ResourceTracker
	// health caches component status by component/cluster/namespace.
	health map[string]v1beta1.ApplicationComponentStatus
	// works caches ManifestWorks by step/cluster for this reconcile.
	works map[string][]workv1.ManifestWork
	// worksWritten names the clusters whose ManifestWorks this reconcile created or changed.
	worksWritten map[string]bool
	// unavailable names the managed clusters that are not available, with why.
	unavailable map[string]string
	// hub applies, reads and deletes the app's objects, and reader reads for its steps: as
	// the app's identity with Options.Impersonate (see actAs).
	hub      *dispatch.Hub
	reader   client.Reader
	identity identity.Identity
	// requeue is the soonest time the app must be looked at again; zero: the resync interval.
	requeue time.Duration
}

func newAppRun(r *ApplicationReconciler, app *v1beta1.Application) *appRun {
	return &appRun{
		r: r, hub: r.hub, reader: r.apiReader, app: app.DeepCopy(), orig: app, ref: dispatch.AppRef{Name: app.Name, Namespace: app.Namespace},
		now: r.opts.Now(), source: app,
		applied: map[string]bool{}, live: map[string]*unstructured.Unstructured{}, absent: map[string]bool{},
		health: map[string]v1beta1.ApplicationComponentStatus{}, works: map[string][]workv1.ManifestWork{},
		worksWritten: map[string]bool{},
	}
}

// definition resolves a type name as the app's plan did.
func (run *appRun) definition(ctx context.Context, kind definition.Kind, name string) (*definition.Definition, error) {
	return run.r.sources.Definitions.Definition(ctx, run.app.Namespace, kind, name)
}

// after asks for the next reconcile within d.
func (run *appRun) after(d time.Duration) {
	if d > 0 && (run.requeue == 0 || d < run.requeue) {
		run.requeue = d
	}
}

// result is when to look at the app again: what the workflow or a wait needs when that is
// sooner than the resync interval (sooner while unhealthy), else the resync interval. The
// resync is spread by up to 10% so that apps created together do not come back together.
func (run *appRun) result() ctrl.Result {
	return run.r.resultFor(run.app, run.requeue)
}

// resultFor is result for an app and the wait its reconcile asked for (0: none).
func (r *ApplicationReconciler) resultFor(app *v1beta1.Application, requeue time.Duration) ctrl.Result {
	interval := r.opts.ResyncInterval
	if app.Status.Phase == v1beta1.ApplicationUnhealthy {
		interval = min(interval, r.opts.UnhealthyRecheck)
	}
	if requeue > 0 && requeue <= interval {
		return ctrl.Result{RequeueAfter: requeue}
	}
	ref := dispatch.AppRef{Name: app.Name, Namespace: app.Namespace}
	spread := time.Duration(fnv32(ref.String())%100) * interval / 1000
	return ctrl.Result{RequeueAfter: interval + spread}
}

func fnv32(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return h
}

// condition sets a condition; its transition time changes only when its status does.
func (run *appRun) condition(typ string, ok bool, reason, message string) {
	status := metav1.ConditionFalse
	if ok {
		status = metav1.ConditionTrue
	}
	meta.SetStatusCondition(&run.app.Status.Conditions, metav1.Condition{
		Type: typ, Status: status, Reason: reason, Message: truncate(message), ObservedGeneration: run.app.Generation})
}

// maxMessage bounds messages in the status: a condition message may have at most 32768 bytes,
// and an app on a hundred clusters can have that much to say.
const maxMessage = 4096

func truncate(s string) string {
	if len(s) <= maxMessage {
		return s
	}
	cut := maxMessage - 40
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s … (%d more bytes)", s[:cut], len(s)-cut)
}

// setPhase derives status.status from the workflow and health.
func (run *appRun) setPhase() {
	st := &run.app.Status
	if !run.app.DeletionTimestamp.IsZero() {
		st.Phase = v1beta1.ApplicationDeleting
		return
	}
	if meta.IsStatusConditionFalse(st.Conditions, v1beta1.ConditionRendered) || st.Workflow == nil {
		st.Phase = v1beta1.ApplicationRendering
		run.condition(v1beta1.ConditionReady, false, v1beta1.ReasonRendering, "the application does not render")
		return
	}
	switch workflow.Phase(st.Workflow.Phase) {
	case workflow.PhaseSuspending:
		st.Phase = v1beta1.ApplicationWorkflowSuspending
	case workflow.PhaseTerminated:
		st.Phase = v1beta1.ApplicationWorkflowTerminated
	case workflow.PhaseFailed:
		st.Phase = v1beta1.ApplicationWorkflowFailed
	case workflow.PhaseSucceeded:
		st.Phase = v1beta1.ApplicationRunning
		if meta.IsStatusConditionFalse(st.Conditions, v1beta1.ConditionHealthy) {
			st.Phase = v1beta1.ApplicationUnhealthy
		}
	default:
		st.Phase = v1beta1.ApplicationRunningWorkflow
	}
	ready := st.Phase == v1beta1.ApplicationRunning
	message := "the application is running and healthy"
	if !ready {
		message = "the application is " + string(st.Phase)
	}
	run.condition(v1beta1.ConditionReady, ready, phaseReason(st.Phase), message)
}

func phaseReason(p v1beta1.ApplicationPhase) string {
	if p == "" {
		return "Unknown"
	}
	return string([]rune{rune(p[0] - 'a' + 'A')}) + string(p[1:])
}
