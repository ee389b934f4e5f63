package controller

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/appfile"
	"github.com/ferryhq/ferry/pkg/definition"
	"github.com/ferryhq/ferry/pkg/egress"
	"github.com/ferryhq/ferry/pkg/workflow"
	"github.com/ferryhq/ferry/pkg/workflow/appworkflow"
	"github.com/ferryhq/ferry/pkg/workflow/cuestep"
)

// runWorkflow runs one tick of the revision's workflow. Its state lives in status.workflow and
// its outputs and sent-notification ledger in the context ConfigMap, so a new controller
// continues exactly where an old one stopped. A new revision restarts the workflow.
func (r *ApplicationReconciler) runWorkflow(ctx context.Context, run *appRun) error {
	spec := run.plan.Workflow
	var err error
	ws := run.app.Status.Workflow
	var st workflow.State
	switch {
	case ws == nil:
		st = workflow.NewState(spec, run.now)
	case ws.AppRevision != run.revName:
		st = workflow.Restart(spec, appworkflow.State(ws), run.now)
		r.event(run, "Normal", v1beta1.ReasonWorkflowRestarted, "revision "+run.revName+" starts the workflow again")
	default:
		st = appworkflow.State(ws)
	}
	if st.Finished() {
		due, scheduled := restartDue(run.app, st)
		if !scheduled || run.now.Before(due) {
			if scheduled {
				run.after(due.Sub(run.now))
			}
			run.app.Status.Workflow = appworkflow.Status(st, run.revName, spec.Mode)
			return nil
		}
		st = workflow.Restart(spec, st, run.now)
		r.event(run, "Normal", v1beta1.ReasonWorkflowRestarted, fmt.Sprintf("the workflow runs again as %s=%s schedules",
			v1beta1.AnnotationRestartWorkflow, run.app.Annotations[v1beta1.AnnotationRestartWorkflow]))
	}
	wc := emptyWorkflowContext()
	if needsContext(spec.Steps) {
		if wc, err = loadWorkflowContext(ctx, r.client, r.apiReader, run.app, fmt.Sprintf("%s/%d", run.revName, st.Run)); err != nil {
			return err
		}
	}
	st.Outputs = wc.Outputs
	executors, err := r.executors(ctx, run, spec, wc)
	if err != nil {
		return err
	}
	env := workflow.Env{Now: r.opts.Now, Executors: executors, Evaluator: r.opts.Engine, Options: r.opts.Workflow, Wake: true,
		Context: map[string]any{"appName": run.app.Name, "namespace": run.app.Namespace,
			"appRevision": run.revName, "appRevisionNum": run.revNum}}
	before := st
	next, requeue, err := workflow.Run(ctx, spec, st, env)
	if err != nil {
		return fmt.Errorf("workflow: %w", err)
	}
	if err := wc.SaveOutputs(ctx, next.Outputs); err != nil {
		return err
	}
	r.metrics.steps(before.Steps, next.Steps)
	run.app.Status.Workflow = appworkflow.Status(next, run.revName, spec.Mode)
	if !next.Finished() {
		run.after(requeue) // a finished workflow waits for nothing: timers of its steps are over
	} else if due, scheduled := restartDue(run.app, next); scheduled {
		run.after(max(due.Sub(run.now), time.Millisecond)) // ... but for a scheduled restart
	}
	if next.Finished() {
		finished := next.Phase == workflow.PhaseSucceeded
		run.condition(v1beta1.ConditionWorkflowFinished, finished, v1beta1.ReasonWorkflow+phaseReason(v1beta1.ApplicationPhase(next.Phase)), next.Message)
		r.event(run, eventType(finished), v1beta1.ReasonWorkflow, fmt.Sprintf("workflow of %s %s", run.revName, next.Phase))
	} else {
		run.condition(v1beta1.ConditionWorkflowFinished, false, v1beta1.ReasonWorkflow+phaseReason(v1beta1.ApplicationPhase(next.Phase)),
			orDefault(next.Message, "the workflow is "+string(next.Phase)))
	}
	return nil
}

// needsContext reports whether any step keeps something in the context ConfigMap: outputs,
// inputs, or a step type defined in CUE (whose sends the ledger guards). Workflows of delivery
// and suspend steps only, like the default one, need no ConfigMap and no read of it.
func needsContext(steps []workflow.Step) bool {
	for _, s := range steps {
		switch {
		case len(s.Inputs) > 0 || len(s.Outputs) > 0 || needsContext(s.SubSteps):
			return true
		case !workflow.Delivers(s.Type) && s.Type != workflow.TypeSuspend && s.Type != workflow.TypeStepGroup:
			return true
		}
	}
	return false
}

func eventType(ok bool) string {
	if ok {
		return "Normal"
	}
	return "Warning"
}

// executors builds the executors of the step types the workflow uses: deploy and the planned
// delivery steps (apply-component...) in Go, the others from their WorkflowStepDefinitions.
func (r *ApplicationReconciler) executors(ctx context.Context, run *appRun, spec *workflow.Spec, wc *workflowContext) (map[string]workflow.Executor, error) {
	d := &deployer{r: r, run: run}
	out := map[string]workflow.Executor{workflow.TypeDeploy: workflow.DeployExecutor{Deployer: d}}
	for _, typ := range workflow.PlannedTypes() {
		out[typ] = workflow.PlannedExecutor{Deployer: d}
	}
	httpOpts, mailer := r.opts.HTTP, r.opts.Mailer
	httpOpts.NamespaceHosts = r.namespaceEgress(run.app.Namespace)
	if m, ok := mailer.(cuestep.SMTPMailer); ok {
		m.NamespaceHosts = httpOpts.NamespaceHosts
		mailer = m
	}
	opts := cuestep.Options{Engine: r.opts.Engine, Kube: &hubKube{r: r, run: run}, HTTP: cuestep.NewHTTP(httpOpts),
		Mailer: mailer, Ledger: wc, Topology: planTopology{plan: run.plan}, Deployer: d, Restarter: restarter{r: r, run: run}}
	var add func(steps []workflow.Step)
	add = func(steps []workflow.Step) {
		for _, s := range steps {
			add(s.SubSteps)
			if _, done := out[s.Type]; done || s.Type == workflow.TypeSuspend || s.Type == workflow.TypeStepGroup {
				continue
			}
			def, err := run.definition(ctx, definition.KindWorkflowStep, s.Type)
			if err != nil {
				continue // the engine reports the unknown type on the step
			}
			e, err := cuestep.New(def, opts)
			if err != nil {
				broken := fmt.Errorf("step definition %q does not compile: %w", s.Type, err)
				out[s.Type] = workflow.ExecutorFunc(func(context.Context, workflow.StepInput) (workflow.Result, error) {
					return workflow.Result{}, broken
				})
				continue
			}
			out[s.Type] = e
		}
	}
	add(spec.Steps)
	return out, nil
}

// planTopology answers steps' questions about placements from the Application's plan.
type planTopology struct{ plan *appfile.Plan }

func (t planTopology) Placements(policies []string) ([]cuestep.Placement, error) {
	if t.plan == nil {
		return nil, errors.New("the Application has no plan")
	}
	placements, err := t.plan.Placements(policies)
	if err != nil {
		return nil, err
	}
	out := make([]cuestep.Placement, len(placements))
	for i, p := range placements {
		out[i] = cuestep.Placement{Cluster: p.Cluster, Namespace: p.Namespace}
	}
	return out, nil
}

func (t planTopology) Clusters() []string {
	var out []string
	if t.plan == nil {
		return out
	}
	for _, c := range t.plan.Clusters {
		if c.Name != appfile.LocalCluster {
			out = append(out, c.Name)
		}
	}
	return out
}

// restartDue reads when a finished workflow is to run again (AnnotationRestartWorkflow): at the
// time it names, once (a run that started at or after that time is not restarted for it), or
// every duration after each run ends. scheduled is false without a valid schedule.
func restartDue(app *v1beta1.Application, st workflow.State) (due time.Time, scheduled bool) {
	value := app.Annotations[v1beta1.AnnotationRestartWorkflow]
	if value == "" {
		return time.Time{}, false
	}
	if at, err := time.Parse(time.RFC3339, value); err == nil {
		if !st.StartTime.IsZero() && !st.StartTime.Before(at) {
			return time.Time{}, false // this run is the restart (or came after it)
		}
		return at, true
	}
	every, err := cuestep.ParseScheduleDuration(value)
	if err != nil || every <= 0 || st.EndTime == nil {
		return time.Time{}, false
	}
	return st.EndTime.Add(every), true
}

// restarter schedules the Application's workflow to run again (the restart-workflow step) by
// setting AnnotationRestartWorkflow on it.
type restarter struct {
	r   *ApplicationReconciler
	run *appRun
}

func (s restarter) ScheduleRestart(ctx context.Context, value string) error {
	if s.run.app.Annotations[v1beta1.AnnotationRestartWorkflow] == value {
		return nil
	}
	app := &v1beta1.Application{}
	app.Namespace, app.Name = s.run.app.Namespace, s.run.app.Name
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, v1beta1.AnnotationRestartWorkflow, value)
	if err := s.r.client.Patch(ctx, app, client.RawPatch(types.MergePatchType, []byte(patch))); err != nil {
		return fmt.Errorf("set %s: %w", v1beta1.AnnotationRestartWorkflow, err)
	}
	if s.run.app.Annotations == nil {
		s.run.app.Annotations = map[string]string{}
	}
	s.run.app.Annotations[v1beta1.AnnotationRestartWorkflow] = value
	return nil
}

// namespaceEgress returns what reads a namespace's own outbound allow-list: the hosts of its
// ferry-egress ConfigMap, which narrow the controller's list for the Applications there
// (ok false when the namespace has none). It is read from the API server when a step first
// sends something, not cached: the controller does not watch every ConfigMap.
func (r *ApplicationReconciler) namespaceEgress(namespace string) func(ctx context.Context) ([]string, bool, error) {
	return func(ctx context.Context) ([]string, bool, error) {
		cm := &corev1.ConfigMap{}
		err := r.apiReader.Get(ctx, client.ObjectKey{Namespace: namespace, Name: egress.ConfigMapName}, cm)
		switch {
		case apierrors.IsNotFound(err):
			return nil, false, nil
		case err != nil:
			return nil, false, err
		}
		return egress.ParseHosts(cm.Data["hosts"]), true, nil
	}
}
