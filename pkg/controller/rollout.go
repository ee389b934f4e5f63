package controller

import (
	"context"
	"fmt"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	workv1 "open-cluster-management.io/api/work/v1"

	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/appfile"
	"github.com/ferryhq/ferry/pkg/dispatch"
	"github.com/ferryhq/ferry/pkg/rollout"
	"github.com/ferryhq/ferry/pkg/workflow"
)

// managedTargets reports whether a step delivers to managed clusters, where a rollout applies.
func managedTargets(sp appfile.StepPlan) bool {
	return slices.ContainsFunc(sp.Targets, func(t appfile.TargetPlan) bool { return t.Cluster != appfile.LocalCluster })
}

// roll runs one check of a deploy step's progressive rollout: pkg/rollout decides which clusters
// have the step's revision by now, from their health and what the step's status kept; only
// those clusters' ManifestWorks are written (every cluster's is recorded in the tracker, so
// nothing is collected from the others). When the rollout stops and the step asks for it, the
// clusters it changed get back what they ran before, exactly as their revision rendered it.
func (d *deployer) roll(ctx context.Context, sp appfile.StepPlan, req workflow.DeployRequest) (workflow.DeployResult, error) {
	var targets []rollout.Target
	seen := map[string]bool{}
	for _, t := range sp.Targets {
		if t.Cluster == appfile.LocalCluster || seen[t.Cluster] {
			continue
		}
		seen[t.Cluster] = true
		targets = append(targets, rollout.Target{Cluster: t.Cluster, Group: t.Group, GroupIndex: t.GroupIndex})
	}
	progress := req.Progress.Clone()
	if progress == nil {
		progress = &workflow.Progress{}
	}
	res := rollout.Next(*req.Rollout, targets, progress.Rollout, func(cluster string) rollout.Health {
		return d.clusterHealth(ctx, sp, cluster)
	}, req.Now)
	for _, name := range res.Start {
		from, err := d.r.runningRevision(ctx, d.run, sp.Name, name)
		if err != nil {
			return workflow.DeployResult{}, err
		}
		for i := range res.Clusters {
			if res.Clusters[i].Cluster == name {
				res.Clusters[i].From = from
			}
		}
	}
	progress.Rollout = res.Clusters
	apply := map[string]bool{}
	for _, c := range res.Apply {
		apply[c] = true
	}
	retry, err := d.apply(ctx, sp, req.Parallelism, func(cluster string) bool { return apply[cluster] })
	if err != nil {
		return workflow.DeployResult{}, err
	}
	if len(res.Start) > 0 {
		d.r.event(d.run, "Normal", v1beta1.ReasonRollout, fmt.Sprintf("step %s: %s gets %s", sp.Name, strings.Join(res.Start, ", "), d.run.revName))
	}
	if !res.Stopped {
		return workflow.DeployResult{Done: res.Done && retry == "", Message: orDefault(retry, res.Message), Progress: progress, Recheck: res.Recheck}, nil
	}
	message := res.Message
	d.r.event(d.run, "Warning", v1beta1.ReasonRolloutStopped, fmt.Sprintf("step %s: %s", sp.Name, message))
	if req.RollbackOnFailure {
		summary, err := d.rollBack(ctx, sp, progress, req)
		if err != nil {
			return workflow.DeployResult{}, fmt.Errorf("%s; rollback: %w", message, err)
		}
		progress.RolledBack = summary
		message += "; " + summary
		d.r.event(d.run, "Warning", v1beta1.ReasonRolledBack, fmt.Sprintf("step %s: %s", sp.Name, summary))
	}
	return workflow.DeployResult{Stopped: true, Message: message, Progress: progress}, nil
}

// clusterHealth is the health of every component the step delivers to one cluster.
func (d *deployer) clusterHealth(ctx context.Context, sp appfile.StepPlan, cluster string) rollout.Health {
	for _, t := range sp.Targets {
		if t.Cluster != cluster {
			continue
		}
		for _, cp := range t.Components {
			if st := d.r.targetHealth(ctx, d.run, sp.Name, t, cp); !st.Healthy {
				return rollout.Health{Message: fmt.Sprintf("component %q: %s", cp.Name, orDefault(st.Message, "not healthy yet"))}
			}
		}
	}
	return rollout.Health{Healthy: true}
}

// rollBack returns the clusters a stopped rollout changed to the revision each ran before: it
// applies that revision's ManifestWorks for the step and cluster as the revision rendered them.
// A cluster that ran nothing of the step before keeps what it got (there is nothing to return
// to, and deleting is not a rollback).
func (d *deployer) rollBack(ctx context.Context, sp appfile.StepPlan, progress *workflow.Progress, req workflow.DeployRequest) (string, error) {
	var back, kept []string
	for i := range progress.Rollout {
		c := &progress.Rollout[i]
		if c.Phase != rollout.Progressing && c.Phase != rollout.Succeeded && c.Phase != rollout.Failed {
			continue
		}
		if c.From == "" || c.From == d.run.revName {
			kept = append(kept, c.Cluster)
			continue
		}
		objects, err := d.r.revisionObjects(ctx, d.run, c.From, sp.Name, c.Cluster)
		if err != nil {
			return "", fmt.Errorf("cluster %s: %w", c.Cluster, err)
		}
		for _, obj := range objects {
			if _, err := d.r.hub.Apply(ctx, d.run.ref, &unstructured.Unstructured{Object: obj}, appfile.ObjectPolicy{}); err != nil {
				return "", fmt.Errorf("cluster %s: re-deliver %s: %w", c.Cluster, c.From, err)
			}
			d.run.worksWritten[c.Cluster] = true
		}
		now := req.Now
		c.Phase, c.Finished, c.Message = rollout.RolledBack, &now, fmt.Sprintf("returned to %s; before: %s", c.From, c.Message)
		back = append(back, c.Cluster+" to "+c.From)
	}
	summary := "rolled back " + strings.Join(back, ", ")
	if len(back) == 0 {
		summary = "rolled back nothing"
	}
	if len(kept) > 0 {
		summary += fmt.Sprintf("; %s had no earlier revision of step %s and keep%s %s", strings.Join(kept, ", "), sp.Name,
			map[bool]string{true: "s", false: ""}[len(kept) == 1], d.run.revName)
	}
	return summary, nil
}

// revisionObjects reads what a revision rendered for one step and cluster.
func (r *ApplicationReconciler) revisionObjects(ctx context.Context, run *appRun, revision, step, cluster string) ([]map[string]any, error) {
	rev := &v1beta1.ApplicationRevision{}
	if err := r.apiReader.Get(ctx, client.ObjectKey{Namespace: run.app.Namespace, Name: revision}, rev); err != nil {
		return nil, fmt.Errorf("read revision %s: %w", revision, err)
	}
	if rev.Spec.Rendered == nil {
		return nil, fmt.Errorf("revision %s keeps no rendered objects (made by an older Ferry, or too large): it cannot be re-delivered exactly", revision)
	}
	all, err := dispatch.DecodeRendered(rev.Spec.Rendered)
	if err != nil {
		return nil, fmt.Errorf("revision %s: %w", revision, err)
	}
	var out []map[string]any
	for _, o := range all {
		if o.Step == step && o.Cluster == cluster {
			out = append(out, o.Object)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("revision %s delivered nothing to cluster %s in step %s", revision, cluster, step)
	}
	return out, nil
}

// runningRevision names the revision whose objects a step's ManifestWork on a cluster holds
// now, as its annotation says (or, for a ManifestWork written before Ferry annotated them, the
// newest earlier revision whose tracker records it); "" when the cluster has none.
func (r *ApplicationReconciler) runningRevision(ctx context.Context, run *appRun, step, cluster string) (string, error) {
	name := dispatch.WorkName(run.app.Name, run.app.Namespace, step, 0)
	work := &workv1.ManifestWork{}
	err := r.client.Get(ctx, client.ObjectKey{Namespace: cluster, Name: name}, work)
	switch {
	case apierrors.IsNotFound(err):
		return "", nil
	case err != nil:
		return "", fmt.Errorf("read ManifestWork %s/%s: %w", cluster, name, err)
	}
	if rev := work.Annotations[v1beta1.AnnotationAppRevision]; rev != "" {
		return rev, nil
	}
	trackers, err := r.trackers.List(ctx, run.ref, false)
	if err != nil {
		return "", err
	}
	newest := int64(0)
	for _, rt := range trackers {
		n := rt.Spec.ApplicationRevision
		if n >= run.revNum || n <= newest {
			continue
		}
		for _, res := range rt.Spec.ManagedResources {
			if res.Kind == "ManifestWork" && res.Namespace == cluster && res.Name == name {
				newest = n
				break
			}
		}
	}
	if newest == 0 {
		return "", nil
	}
	return RevisionName(run.app.Name, newest), nil
}
