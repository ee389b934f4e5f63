package controller

import (
	"context"
	"fmt"
	"sort"

	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/appfile"
	"github.com/ferryhq/ferry/pkg/dispatch"
	"github.com/ferryhq/ferry/pkg/health"
	"github.com/ferryhq/ferry/pkg/workflow"
)

// targetHealth evaluates a component on one target, the hub or a managed cluster, once per
// reconcile.
func (r *ApplicationReconciler) targetHealth(ctx context.Context, run *appRun, step string, t appfile.TargetPlan, cp appfile.ComponentPlan) v1beta1.ApplicationComponentStatus {
	if t.Cluster == appfile.LocalCluster {
		return r.componentHealth(ctx, run, t, cp)
	}
	key := cp.Name + "/" + t.Cluster + "/" + t.Namespace
	if st, ok := run.health[key]; ok {
		return st
	}
	st := r.remoteHealth(ctx, run, step, t, cp)
	run.health[key] = st
	return st
}

// componentHealth evaluates a component's and its traits' health policies on the live objects.
func (r *ApplicationReconciler) componentHealth(ctx context.Context, run *appRun, t appfile.TargetPlan, cp appfile.ComponentPlan) v1beta1.ApplicationComponentStatus {
	key := cp.Name + "/" + t.Cluster + "/" + t.Namespace
	if st, ok := run.health[key]; ok {
		return st
	}
	hc := health.Component{Name: cp.Name, Cluster: t.Cluster, Namespace: t.Namespace, Definition: cp.Definition,
		Parameter: cp.Parameter, Outputs: map[string]any{}, Context: cp.Context}
	traitOutputs := map[string]map[string]any{}
	var readErr error
	for _, m := range t.Manifests {
		if m.Component != cp.Name {
			continue
		}
		obj, err := r.liveObject(ctx, run, m.Object)
		if err != nil {
			readErr = err
			continue
		}
		switch {
		case m.Trait != "":
			if traitOutputs[m.Trait] == nil {
				traitOutputs[m.Trait] = map[string]any{}
			}
			if obj != nil {
				traitOutputs[m.Trait][m.Output] = obj
			}
		case m.Output == "":
			if obj != nil {
				hc.Workload = obj
			}
		case obj != nil:
			hc.Outputs[m.Output] = obj
		}
	}
	for _, tp := range cp.Traits {
		if tp.Definition != nil {
			hc.Traits = append(hc.Traits, health.Trait{Definition: tp.Definition, Parameter: tp.Parameter, Outputs: traitOutputs[tp.Type]})
		}
	}
	st, err := health.Evaluate(r.opts.Engine, hc)
	switch {
	case readErr != nil:
		st.Healthy, st.Message = false, "cannot read its objects: "+readErr.Error()
	case err != nil:
		st.Healthy, st.Message = false, err.Error()
	}
	run.health[key] = st
	return st
}

// liveObject reads the live form of a rendered object from the cache; nil when missing.
func (r *ApplicationReconciler) liveObject(ctx context.Context, run *appRun, obj map[string]any) (map[string]any, error) {
	u, err := r.hub.Normalize(obj)
	if err != nil {
		return nil, err
	}
	key := dispatch.ResourceKey(v1beta1.ManagedResource{APIVersion: u.GetAPIVersion(), Kind: u.GetKind(), Namespace: u.GetNamespace(), Name: u.GetName()})
	if live, ok := run.live[key]; ok {
		if live == nil {
			return nil, nil
		}
		return live.Object, nil
	}
	live, err := run.hub.Get(ctx, u.GroupVersionKind(), u.GetNamespace(), u.GetName())
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", dispatch.Describe(u), err)
	}
	run.live[key] = live
	if live == nil {
		run.absent[objectKey(u)] = true
		return nil, nil
	}
	return live.Object, nil
}

// evaluateHealth reports every component deployed so far in status.services and the Healthy
// condition.
func (r *ApplicationReconciler) evaluateHealth(ctx context.Context, run *appRun) error {
	ws := run.app.Status.Workflow
	if ws == nil {
		return nil
	}
	started := map[string]bool{}
	for _, s := range ws.Steps {
		for _, st := range append([]v1beta1.StepStatus{s.StepStatus}, s.SubStepsStatus...) {
			if delivers(run.plan, st) && st.Phase != string(workflow.StepPending) && st.Phase != string(workflow.StepSkipped) {
				started[st.Name] = true
			}
		}
	}
	var services []v1beta1.ApplicationComponentStatus
	seen := map[string]bool{}
	for _, sp := range run.plan.Steps {
		if !started[sp.Name] {
			continue
		}
		for _, t := range sp.Targets {
			for _, cp := range t.Components {
				key := cp.Name + "/" + t.Cluster + "/" + t.Namespace
				if !seen[key] {
					seen[key] = true
					services = append(services, r.targetHealth(ctx, run, sp.Name, t, cp))
				}
			}
		}
	}
	sort.Slice(services, func(i, j int) bool {
		a, b := services[i], services[j]
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return a.Cluster+a.Namespace < b.Cluster+b.Namespace
	})
	run.app.Status.Services = services
	var unhealthy []string
	for _, s := range services {
		if !s.Healthy {
			unhealthy = append(unhealthy, fmt.Sprintf("%s (%s)", s.Name, orDefault(s.Message, "not healthy")))
		}
	}
	if len(unhealthy) > 0 {
		run.condition(v1beta1.ConditionHealthy, false, v1beta1.ReasonUnhealthy, "unhealthy: "+summarize(unhealthy))
	} else {
		run.condition(v1beta1.ConditionHealthy, true, v1beta1.ReasonHealthy, "every component is healthy")
	}
	return nil
}
