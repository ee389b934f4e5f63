package controller

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	workv1 "open-cluster-management.io/api/work/v1"

	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/appfile"
	"github.com/ferryhq/ferry/pkg/dispatch"
	"github.com/ferryhq/ferry/pkg/rollout"
	"github.com/ferryhq/ferry/pkg/workflow"
	"github.com/ferryhq/ferry/pkg/workflow/appworkflow"
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
		return workflow.DeployResult{Progress: progress}, err
	}
	if len(res.Start) > 0 {
		d.r.event(d.run, "Normal", v1beta1.ReasonRollout, fmt.Sprintf("step %s: %s gets %s", sp.Name, strings.Join(res.Start, ", "), d.run.revName))
	}
	if !res.Stopped {
		message := orDefault(retry, res.Message)
		done := res.Done && retry == ""
		if hub := d.hubWaiting(ctx, sp); done && hub != "" {
			done, message = false, hub // the step's objects on the hub itself are not rolled out
		}
		return workflow.DeployResult{Done: done, Message: message, Progress: progress, Recheck: res.Recheck}, nil
	}
	message := res.Message
	d.r.event(d.run, "Warning", v1beta1.ReasonRolloutStopped, fmt.Sprintf("step %s: %s", sp.Name, message))
	if req.RollbackOnFailure {
		summary, err := d.rollBack(ctx, sp, progress, req.Now, nil)
		if err != nil {
			return workflow.DeployResult{Progress: progress}, fmt.Errorf("%s; rollback: %w", message, err)
		}
		progress.RolledBack = summary
		message += "; " + summary
		d.r.event(d.run, "Warning", v1beta1.ReasonRolledBack, fmt.Sprintf("step %s: %s", sp.Name, summary))
	}
	return workflow.DeployResult{Stopped: true, Message: message, Progress: progress}, nil
}

// hubWaiting says what of a rolled-out step's hub targets is not healthy yet; "" when nothing.
func (d *deployer) hubWaiting(ctx context.Context, sp appfile.StepPlan) string {
	for _, t := range sp.Targets {
		if t.Cluster != appfile.LocalCluster {
			continue
		}
		for _, cp := range t.Components {
			if st := d.r.targetHealth(ctx, d.run, sp.Name, t, cp); !st.Healthy {
				return fmt.Sprintf("waiting for component %q on %s/%s: %s", cp.Name, t.Cluster, t.Namespace, orDefault(st.Message, "not healthy yet"))
			}
		}
	}
	return ""
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
//
// With only set, just those clusters go back.
func (d *deployer) rollBack(ctx context.Context, sp appfile.StepPlan, progress *workflow.Progress, now time.Time, only map[string]bool) (string, error) {
	var back, kept []string
	for i := range progress.Rollout {
		c := &progress.Rollout[i]
		if c.Phase != rollout.Progressing && c.Phase != rollout.Succeeded && c.Phase != rollout.Failed {
			continue
		}
		if only != nil && !only[c.Cluster] {
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
			if _, err := d.r.hub.Apply(ctx, d.run.ref, &unstructured.Unstructured{Object: obj}, appfile.ObjectPolicy{}); err != nil { // ManifestWorks: Ferry's own
				return "", fmt.Errorf("cluster %s: re-deliver %s: %w", c.Cluster, c.From, err)
			}
			d.run.worksWritten[c.Cluster] = true
		}
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
	trackers, err := r.listTrackers(ctx, run, false)
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

// guardRollouts rolls back what deploy steps asked to: with rollback.onUnhealthyWithin, a
// cluster that turns unhealthy within that window after it succeeded goes back to the revision
// it ran before (as that revision rendered it), and the step and the workflow fail; with
// rollback on failure, once the workflow failed (the step's own timeout, a later gate), every
// cluster the step changed goes back. The step's reason is then RolledBack: the revision is not
// delivered there again until the spec changes or someone restarts the workflow. While a window
// is open the app is checked again when it ends.
func (r *ApplicationReconciler) guardRollouts(ctx context.Context, run *appRun) error {
	ws := run.app.Status.Workflow
	if ws == nil || ws.AppRevision != run.revName || run.plan == nil || run.plan.Workflow == nil {
		return nil
	}
	var steps []workflow.Step
	for _, s := range run.plan.Workflow.Steps {
		steps = append(steps, s)
		steps = append(steps, s.SubSteps...)
	}
	for _, s := range steps {
		if s.Type != workflow.TypeDeploy {
			continue
		}
		o, err := workflow.ParseDeployOptions(s.Properties)
		if err != nil || (!o.RollbackOnFailure && o.RollbackOnUnhealthyWithin == 0) {
			continue
		}
		st := stepStatus(ws, s.Name)
		sp, ok := run.stepPlan(s.Name)
		if st == nil || !ok || st.Progress == nil || st.Progress.RolledBack != "" {
			continue
		}
		switch {
		case o.RollbackOnFailure && ws.Phase == string(workflow.PhaseFailed):
			r.rollBackAfterFailure(ctx, run, ws, st, sp)
		case o.RollbackOnUnhealthyWithin > 0 && st.Phase == string(workflow.StepSucceeded):
			r.guardStep(ctx, run, ws, st, sp, o.RollbackOnUnhealthyWithin)
		}
	}
	return nil
}

// rollBackAfterFailure returns the clusters a deploy step with rollback on failure changed once
// the workflow failed for another reason than its rollout stopping: its own timeout, or a later
// gate (a check-metrics step, say) that failed. The step is marked failed with reason RolledBack.
func (r *ApplicationReconciler) rollBackAfterFailure(ctx context.Context, run *appRun, ws *v1beta1.WorkflowStatus, st *v1beta1.StepStatus, sp appfile.StepPlan) {
	d := &deployer{r: r, run: run}
	progress := appworkflow.ProgressState(st.Progress)
	reason := workflow.ReasonRolledBack
	summary, err := d.rollBack(ctx, sp, progress, run.now, nil)
	if err != nil {
		reason, summary = workflow.ReasonRollbackFailed, "the rollback failed: "+err.Error()
	}
	progress.RolledBack = summary
	message := fmt.Sprintf("the workflow failed (%s); %s", ws.Message, summary)
	st.Phase, st.Reason, st.Message, st.Progress = string(workflow.StepFailed), reason, truncate(message), appworkflow.ProgressStatus(progress)
	r.event(run, "Warning", reason, fmt.Sprintf("step %s: %s", sp.Name, message))
}

// guardStep returns the clusters of a succeeded step that turned unhealthy within window of
// succeeding, and fails the step and the workflow.
func (r *ApplicationReconciler) guardStep(ctx context.Context, run *appRun, ws *v1beta1.WorkflowStatus, st *v1beta1.StepStatus, sp appfile.StepPlan, window time.Duration) {
	d := &deployer{r: r, run: run}
	turned := map[string]bool{}
	var why []string
	for _, c := range st.Progress.Rollout {
		if c.Phase != string(rollout.Succeeded) || c.Finished == nil {
			continue
		}
		end := c.Finished.Add(window)
		if !run.now.Before(end) {
			continue
		}
		if h := d.clusterHealth(ctx, sp, c.Cluster); !h.Healthy {
			turned[c.Cluster] = true
			why = append(why, c.Cluster+": "+h.Message)
			continue
		}
		run.after(end.Sub(run.now))
	}
	if len(turned) == 0 {
		return
	}
	progress := appworkflow.ProgressState(st.Progress)
	reason := workflow.ReasonRolledBack
	summary, err := d.rollBack(ctx, sp, progress, run.now, turned)
	if err != nil {
		// Trying again would fail the same way (the revision is gone): say so once, and
		// leave the clusters to a person.
		reason, summary = workflow.ReasonRollbackFailed, "the rollback failed: "+err.Error()
	}
	progress.RolledBack = summary
	message := fmt.Sprintf("unhealthy within onUnhealthyWithin %s of succeeding: %s; %s", window, strings.Join(why, "; "), summary)
	st.Phase, st.Reason, st.Message, st.Progress = string(workflow.StepFailed), reason, truncate(message), appworkflow.ProgressStatus(progress)
	ws.Phase, ws.Message = string(workflow.PhaseFailed), fmt.Sprintf("step %q failed (%s): %s", sp.Name, reason, truncate(message))
	r.event(run, "Warning", reason, fmt.Sprintf("step %s: %s", sp.Name, message))
	run.condition(v1beta1.ConditionWorkflowFinished, false, v1beta1.ReasonWorkflow+phaseReason(v1beta1.ApplicationPhase(ws.Phase)), ws.Message)
}

// stepStatus finds a step's status, top-level or in a step group.
func stepStatus(ws *v1beta1.WorkflowStatus, name string) *v1beta1.StepStatus {
	for i := range ws.Steps {
		if ws.Steps[i].Name == name {
			return &ws.Steps[i].StepStatus
		}
		for j := range ws.Steps[i].SubStepsStatus {
			if ws.Steps[i].SubStepsStatus[j].Name == name {
				return &ws.Steps[i].SubStepsStatus[j]
			}
		}
	}
	return nil
}
