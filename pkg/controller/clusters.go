package controller

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	workv1 "open-cluster-management.io/api/work/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/appfile"
	"github.com/ferryhq/ferry/pkg/dispatch"
	"github.com/ferryhq/ferry/pkg/health"
)

// unavailableClusters maps the clusters that are not available to why.
func unavailableClusters(clusters []appfile.Cluster) map[string]string {
	out := map[string]string{}
	for _, c := range clusters {
		if c.Unavailable != "" {
			out[c.Name] = c.Unavailable
		}
	}
	return out
}

// remoteHealth evaluates a component on a managed cluster from what its ManifestWork reports:
// the object as sent, with the status fields its healthPolicy reads fed back by the agent.
// Traits are not evaluated there: their objects' status is not fed back.
func (r *ApplicationReconciler) remoteHealth(ctx context.Context, run *appRun, step string, t appfile.TargetPlan, cp appfile.ComponentPlan) v1beta1.ApplicationComponentStatus {
	out := v1beta1.ApplicationComponentStatus{Name: cp.Name, Cluster: t.Cluster, Namespace: t.Namespace}
	if msg, down := run.unavailable[t.Cluster]; down {
		out.Message = msg + ": health unknown"
		return out
	}
	if run.worksWritten[t.Cluster] {
		// What the cache says of a ManifestWork written in this reconcile is about the version
		// before: health comes at the next reconcile, from the agent's report of this one.
		out.Message = fmt.Sprintf("waiting for the agent of cluster %s to apply the update", t.Cluster)
		return out
	}
	works, err := r.stepWorks(ctx, run, step, t.Cluster)
	if err != nil {
		out.Message = "cannot read its ManifestWorks: " + err.Error()
		return out
	}
	hc := health.Component{Name: cp.Name, Cluster: t.Cluster, Namespace: t.Namespace, Definition: cp.Definition,
		Parameter: cp.Parameter, Outputs: map[string]any{}, Context: cp.Context}
	for _, m := range t.Manifests {
		if m.Component != cp.Name || m.Trait != "" {
			continue
		}
		u := &unstructured.Unstructured{Object: m.Object}
		work, cond, found := manifestStatus(works, u)
		if !found {
			if m.Output == "" {
				out.Message = fmt.Sprintf("waiting for the agent of cluster %s to report %s", t.Cluster, dispatch.Describe(u))
				return out
			}
			continue
		}
		if applied := meta.FindStatusCondition(work.Status.Conditions, workv1.WorkApplied); applied == nil || applied.ObservedGeneration != work.Generation {
			// The agent has not applied the current version (it may be stopped): its feedback
			// is about an older one, and says nothing of this one's health.
			seen := int64(0)
			if applied != nil {
				seen = applied.ObservedGeneration
			}
			out.Message = fmt.Sprintf("waiting for the agent of cluster %s to apply ManifestWork %s (generation %d; it last applied %d)",
				t.Cluster, work.Name, work.Generation, seen)
			return out
		}
		if c := meta.FindStatusCondition(cond.Conditions, workv1.ManifestApplied); c != nil && c.Status == metav1.ConditionFalse {
			out.Message = fmt.Sprintf("%s is not applied on cluster %s: %s", dispatch.Describe(u), t.Cluster, c.Message)
			return out
		}
		live := runtime.DeepCopyJSON(m.Object)
		mergeInto(live, dispatch.ObjectFromFeedback(cond.StatusFeedbacks.Values))
		if m.Output == "" {
			hc.Workload = live
		} else {
			hc.Outputs[m.Output] = live
		}
	}
	st, err := health.Evaluate(r.opts.Engine, hc)
	if err != nil {
		st.Healthy, st.Message = false, err.Error()
	}
	return st
}

// stepWorks reads the ManifestWorks of one deploy step on one cluster, once per reconcile.
func (r *ApplicationReconciler) stepWorks(ctx context.Context, run *appRun, step, cluster string) ([]workv1.ManifestWork, error) {
	key := step + "/" + cluster
	if w, ok := run.works[key]; ok {
		return w, nil
	}
	var works workv1.ManifestWorkList
	if err := r.client.List(ctx, &works, client.InNamespace(cluster), client.MatchingLabels{
		v1beta1.LabelAppName: run.app.Name, v1beta1.LabelAppNamespace: run.app.Namespace, dispatch.LabelStep: step}); err != nil {
		return nil, err
	}
	run.works[key] = works.Items
	return works.Items, nil
}

// manifestStatus finds an object's status in ManifestWorks, and the work that holds it.
func manifestStatus(works []workv1.ManifestWork, u *unstructured.Unstructured) (*workv1.ManifestWork, workv1.ManifestCondition, bool) {
	gvk := u.GroupVersionKind()
	for i, w := range works {
		for _, mc := range w.Status.ResourceStatus.Manifests {
			rm := mc.ResourceMeta
			if rm.Group == gvk.Group && rm.Kind == gvk.Kind && rm.Name == u.GetName() && rm.Namespace == u.GetNamespace() {
				return &works[i], mc, true
			}
		}
	}
	return nil, workv1.ManifestCondition{}, false
}

// mergeInto copies src's fields into dst, recursively.
func mergeInto(dst, src map[string]any) {
	for k, v := range src {
		if sm, ok := v.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				mergeInto(dm, sm)
				continue
			}
		}
		dst[k] = v
	}
}
