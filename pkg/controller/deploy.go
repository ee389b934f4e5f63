package controller

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	clusterv1 "open-cluster-management.io/api/cluster/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/appfile"
	"github.com/ferryhq/ferry/pkg/dispatch"
	"github.com/ferryhq/ferry/pkg/workflow"
)

// errRemoteCluster is returned when a workflow step other than deploy addresses a managed cluster.
var errRemoteCluster = errors.New("this step reaches only the hub (cluster \"local\"); deliver to managed clusters with a deploy step and a topology policy")

// applyStep records a step's objects in the revision's tracker, then applies them. It
// returns the conflicts it met; other errors are returned as errors.
// Up to parallelism objects (ManifestWorks, one per managed cluster, or hub objects) are
// applied at once.
//
// With only set, the objects for other clusters are recorded but not applied: a rollout has
// not reached those clusters, which keep what they run.
func (r *ApplicationReconciler) applyStep(ctx context.Context, run *appRun, sp appfile.StepPlan, parallelism int, only func(cluster string) bool) ([]string, error) {
	desired, records, err := dispatch.DesiredObjects(r.desiredOptions(ctx, run, sp))
	if err != nil {
		return nil, err
	}
	if err := r.trackers.Record(ctx, run.ref, run.revNum, records); err != nil {
		return nil, fmt.Errorf("record objects before applying them: %w", err)
	}
	if only != nil {
		desired = slices.DeleteFunc(desired, func(d dispatch.Desired) bool {
			return d.Object.GetKind() == "ManifestWork" && !only(d.Object.GetNamespace())
		})
	}
	if run.exact != nil {
		// Definitions changed while the workflow runs, or the revision is a rollback's:
		// managed clusters get what was rendered then (hub objects render anew).
		for i, d := range desired {
			if d.Object.GetKind() != "ManifestWork" {
				continue
			}
			if u, ok := run.exactObject(sp.Name, d.Object); ok {
				desired[i].Object = u
			}
		}
	}
	conflicts := make([]string, len(desired))
	errs := make([]error, len(desired))
	results := make([]dispatch.ApplyResult, len(desired))
	sem := make(chan struct{}, max(parallelism, 1))
	var wg sync.WaitGroup
	for i, d := range desired {
		r.watch(ctx, d.Object.GroupVersionKind())
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			hub := run.hub
			if d.Delivery {
				hub = r.hub // Ferry's own ManifestWork; its executor bounds what it does
			}
			res, err := hub.Apply(ctx, run.ref, d.Object, d.Policy)
			results[i] = res
			switch {
			case dispatch.IsConflict(err):
				conflicts[i] = err.Error()
			case err != nil && d.Delivery && apierrors.IsForbidden(err):
				errs[i] = &controllerForbidden{err} // the controller's own write, whoever the app acts as
			case err != nil:
				errs[i] = err
			case res == dispatch.Created || res == dispatch.Updated:
				r.metrics.applied.WithLabelValues(string(res)).Inc()
			}
		}()
	}
	wg.Wait()
	for i, d := range desired {
		if d.Object.GetKind() == "ManifestWork" && (results[i] == dispatch.Created || results[i] == dispatch.Updated) {
			run.worksWritten[d.Object.GetNamespace()] = true
		}
	}
	run.applied[sp.Name] = true
	conflicts = slices.DeleteFunc(conflicts, func(c string) bool { return c == "" })
	joined := errors.Join(errs...)
	if joined != nil || len(conflicts) > 0 {
		run.applyFailed = true
	}
	return conflicts, joined
}

// stepPlan finds a deploy step's plan.
func (run *appRun) stepPlan(name string) (appfile.StepPlan, bool) {
	for _, sp := range run.plan.Steps {
		if sp.Name == name {
			return sp, true
		}
	}
	return appfile.StepPlan{}, false
}

// delivers reports whether a step delivers components: a delivering type, or a step the plan
// has a delivery for (a step defined in CUE with a deploy action).
func delivers(plan *appfile.Plan, s v1beta1.StepStatus) bool {
	if workflow.Delivers(s.Type) {
		return true
	}
	if plan == nil {
		return false
	}
	for _, sp := range plan.Steps {
		if sp.Name == s.Name {
			return true
		}
	}
	return false
}

// defaultParallelism is how many objects re-applying finished steps writes at once.
const defaultParallelism = 5

// desiredOptions say how a deploy step's objects are made, for applying and for comparing.
func (r *ApplicationReconciler) desiredOptions(ctx context.Context, run *appRun, sp appfile.StepPlan) dispatch.DesiredOptions {
	return dispatch.DesiredOptions{App: run.ref, Plan: run.plan, Step: sp, Normalize: r.hub.Normalize, Revision: run.revName,
		Executor: func(cluster string) string { return r.executorFor(ctx, cluster) }}
}

// AnnotationExecutor, on a ManagedCluster, names the executor ServiceAccount of the
// ManifestWorks for that cluster instead of Options.Executor; empty: none (the work agent
// applies with its own rights, for a cluster one team owns).
const AnnotationExecutor = "ferry.dev/executor-service-account"

// executorFor is the executor of an app's ManifestWorks for a cluster: the cluster's own
// (AnnotationExecutor), else Options.Executor.
func (r *ApplicationReconciler) executorFor(ctx context.Context, cluster string) string {
	if r.noClusters {
		return r.opts.Executor
	}
	mc := &clusterv1.ManagedCluster{}
	if err := r.client.Get(ctx, client.ObjectKey{Name: cluster}, mc); err == nil {
		if v, ok := mc.Annotations[AnnotationExecutor]; ok {
			return v
		}
	}
	return r.opts.Executor
}

// controllerForbidden is a refused write the controller made with its own identity (a delivery
// ManifestWork): its RBAC, not the app's identity's, is what to change.
type controllerForbidden struct{ err error }

func (e *controllerForbidden) Error() string { return e.err.Error() }
func (e *controllerForbidden) Unwrap() error { return e.err }

// deployer runs deploy steps on the hub.
type deployer struct {
	r   *ApplicationReconciler
	run *appRun
}

// Deploy implements workflow.Deployer: apply, then wait until every component is healthy. With
// a progressive rollout strategy, the step's clusters change a few at a time (see roll).
func (d *deployer) Deploy(ctx context.Context, req workflow.DeployRequest) (workflow.DeployResult, error) {
	sp, ok := d.run.stepPlan(req.Step)
	if !ok {
		return workflow.DeployResult{}, fmt.Errorf("no plan for step %q: an apply-component step must name its component in its properties, not take it from an input", req.Step)
	}
	if sp.Waiting != "" {
		return workflow.DeployResult{Message: sp.Waiting}, nil
	}
	if req.Rollout != nil && managedTargets(sp) {
		return d.roll(ctx, sp, req)
	}
	if retry, err := d.apply(ctx, sp, req.Parallelism, nil); err != nil || retry != "" {
		return workflow.DeployResult{Message: retry}, err
	}
	var waiting []string
	for _, t := range sp.Targets {
		for _, cp := range t.Components {
			st := d.r.targetHealth(ctx, d.run, sp.Name, t, cp)
			if !st.Healthy {
				waiting = append(waiting, fmt.Sprintf("component %q on %s/%s: %s", cp.Name, t.Cluster, t.Namespace, orDefault(st.Message, "not healthy yet")))
			}
		}
	}
	if len(waiting) > 0 {
		return workflow.DeployResult{Message: truncate("waiting for " + strings.Join(waiting, "; "))}, nil
	}
	return workflow.DeployResult{Done: true, Message: fmt.Sprintf("deployed to %d target(s), healthy", len(sp.Targets))}, nil
}

// apply applies a step's objects (on the clusters only admits, when set) and reports on the
// Applied condition. A failure worth retrying soon returns a message to wait with; one that
// needs a person (a conflict, missing rights, an object kind the cluster does not serve) is an
// error.
func (d *deployer) apply(ctx context.Context, sp appfile.StepPlan, parallelism int, only func(cluster string) bool) (string, error) {
	conflicts, err := d.r.applyStep(ctx, d.run, sp, parallelism, only)
	if len(conflicts) > 0 {
		msg := truncate(strings.Join(conflicts, "; "))
		d.run.condition(v1beta1.ConditionApplied, false, v1beta1.ReasonConflict, msg)
		return "", errors.New(msg)
	}
	if err != nil {
		if apierrors.IsForbidden(err) {
			// Trying again changes nothing until someone changes the RBAC.
			var own *controllerForbidden
			if d.run.identity.IsZero() || errors.As(err, &own) {
				err = fmt.Errorf("the controller is not allowed to apply it (grant it in the controller's RBAC, config/controller/rbac.yaml): %w", err)
			} else {
				err = fmt.Errorf("the app acts as %s, who is not allowed to apply it (the writer's RBAC decides what an app may do): %w", d.run.identity.User, err)
			}
			d.run.condition(v1beta1.ConditionApplied, false, v1beta1.ReasonApplyFailed, err.Error())
			return "", err
		}
		if strings.Contains(err.Error(), "does not serve kind") || strings.Contains(err.Error(), "more than a ManifestWork can hold") {
			d.run.condition(v1beta1.ConditionApplied, false, v1beta1.ReasonApplyFailed, err.Error())
			return "", err
		}
		// Possibly passing (a CRD not yet served, a conflict): try again, and say on the
		// Applied condition that the objects are not applied meanwhile.
		d.run.condition(v1beta1.ConditionApplied, false, v1beta1.ReasonApplyFailed, "trying again: "+err.Error())
		return "apply failed, trying again: " + err.Error(), nil
	}
	d.run.condition(v1beta1.ConditionApplied, true, v1beta1.ReasonApplied, "every object is applied")
	return "", nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// keepState re-applies the objects of deploy steps that finished earlier, correcting drift.
// An object that matches what is wanted costs no write.
func (r *ApplicationReconciler) keepState(ctx context.Context, run *appRun) error {
	var errs []error
	var conflicts []string
	for _, name := range succeededDeploySteps(run.app.Status.Workflow, run.plan) {
		sp, ok := run.stepPlan(name)
		if !ok || run.applied[name] {
			continue
		}
		c, err := r.applyStep(ctx, run, sp, defaultParallelism, nil)
		conflicts = append(conflicts, c...)
		if err != nil {
			errs = append(errs, err)
		}
	}
	switch {
	case len(conflicts) > 0:
		run.condition(v1beta1.ConditionApplied, false, v1beta1.ReasonConflict, strings.Join(conflicts, "; "))
	case len(errs) > 0:
		run.condition(v1beta1.ConditionApplied, false, v1beta1.ReasonApplyFailed, errors.Join(errs...).Error())
		run.after(r.opts.UnhealthyRecheck)
	case len(run.applied) > 0 && !run.applyFailed:
		run.condition(v1beta1.ConditionApplied, true, v1beta1.ReasonApplied, "every object is applied")
	}
	return nil
}

// succeededDeploySteps names the delivery steps of the workflow that succeeded: those of a
// delivering type, and steps defined in CUE that the plan delivers (a deploy action).
func succeededDeploySteps(ws *v1beta1.WorkflowStatus, plan *appfile.Plan) []string {
	if ws == nil {
		return nil
	}
	var out []string
	add := func(s v1beta1.StepStatus) {
		if delivers(plan, s) && s.Phase == string(workflow.StepSucceeded) {
			out = append(out, s.Name)
		}
	}
	for _, s := range ws.Steps {
		add(s.StepStatus)
		for _, sub := range s.SubStepsStatus {
			add(sub)
		}
	}
	sort.Strings(out)
	return out
}
