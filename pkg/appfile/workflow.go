package appfile

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/ferryhq/ferry/pkg/cue"
	"github.com/ferryhq/ferry/pkg/definition"
	"github.com/ferryhq/ferry/pkg/workflow"
)

// deployStep is a deploy step with the policies it uses.
type deployStep struct {
	name     string
	auto     bool
	policies []*policy
	// component and to make an apply-component step: that component, on that target only.
	component string
	to        *target
	// except are components the step does not deploy (apply-remaining).
	except []string
}

// deployProperties are the properties of a deploy step.
type deployProperties struct {
	Auto     *bool    `json:"auto,omitempty"`
	Policies []string `json:"policies,omitempty"`
}

// validateWorkflow parses the workflow with the workflow engine's own parser, so that what is
// accepted here is what the controller runs, then checks each step's type and properties
// against its definition.
func (r *run) validateWorkflow() {
	spec, err := workflow.FromApplication(r.app)
	var problems workflow.Problems
	if errors.As(err, &problems) {
		for _, p := range problems {
			r.addError(r.af.Where(p.Path), p.Subject, p.Message)
		}
		return
	}
	if err != nil {
		r.addError(r.af.Where("spec.workflow"), "workflow", err.Error())
		return
	}
	r.workflow = spec
	eachStep(spec.Steps, func(s workflow.Step) {
		if s.Path == "" || s.Type == "" {
			return // the default workflow's step
		}
		def, err := r.definition(definition.KindWorkflowStep, s.Type)
		if err != nil {
			r.addError(r.af.Where(s.Path+".type"), fmt.Sprintf("step %q", s.Name), err.Error())
			return
		}
		props := s.Properties
		if props == nil {
			props = map[string]any{}
		}
		var fromInputs []string
		for _, in := range s.Inputs {
			if in.ParameterKey != "" {
				fromInputs = append(fromInputs, in.ParameterKey)
			}
		}
		_, ok := r.validateParameters(def, props, r.stepContext(s), s.Path+".properties", workflow.StepSubject(s.Name, s.Type), fromInputs...)
		if ok && s.Type == workflow.TypeDeploy {
			// What the schema cannot say: durations, rollout strategies, percentages.
			if _, err := workflow.ParseDeployOptions(props); err != nil {
				r.addError(r.af.Where(s.Path+".properties"), workflow.StepSubject(s.Name, s.Type), err.Error())
			}
		}
	})
}

// stepContext is the context a step's template is checked with: as when it runs (see
// cuestep), named after the Application, with the step's name and a placeholder for the
// execution's id.
func (r *run) stepContext(s workflow.Step) cue.Context {
	ctx := r.baseContext(r.app.Name)
	ctx.Extra = map[string]any{"stepName": s.Name, "stepSessionID": "plan", "appName": r.app.Name, "namespace": r.namespace}
	return ctx
}

// suppliedByInput reports whether an input's parameterKey gives the parameter at path, one of
// its parents (the input brings the whole struct) or a part of it (url.value for url).
func suppliedByInput(path string, keys []string) bool {
	within := func(inner, outer string) bool {
		return inner == outer || strings.HasPrefix(inner, outer+".") || strings.HasPrefix(inner, outer+"[")
	}
	for _, k := range keys {
		if within(path, k) || within(k, path) {
			return true
		}
	}
	return false
}

// eachStep calls f on every step, sub-steps after their group.
func eachStep(steps []workflow.Step, f func(workflow.Step)) {
	for _, s := range steps {
		f(s)
		eachStep(s.SubSteps, f)
	}
}

// deploySteps lists the deploy steps of the workflow in order, sub-steps included. The default
// workflow (no steps) is one step, "default", using every topology and override policy.
func (r *run) deploySteps() []deployStep {
	if r.workflow == nil {
		return nil // the workflow has problems, already reported
	}
	var out []deployStep
	eachStep(r.workflow.Steps, func(s workflow.Step) {
		switch s.Type {
		case workflow.TypeDeploy:
			out = append(out, r.deployStep(s))
		case workflow.TypeApplyComponent:
			if step, ok := r.applyComponentStep(s); ok {
				out = append(out, step)
			}
		case workflow.TypeApplyApplication, workflow.TypeApplyApplicationInParallel:
			out = append(out, deployStep{name: s.Name, auto: true})
		case workflow.TypeApplyRemaining:
			if step, ok := r.applyRemainingStep(s); ok {
				out = append(out, step)
			}
		case workflow.TypeDeploy2Env:
			if step, ok := r.deploy2envStep(s); ok {
				out = append(out, step)
			}
		case workflow.TypeDeploy2Runtime:
			if step, ok := r.deploy2runtimeStep(s); ok {
				out = append(out, step)
			}
		default:
			if step, ok := r.customDeployStep(s); ok {
				out = append(out, step)
			}
		}
	})
	return out
}

// applyComponentStep plans an apply-component step: its component on its cluster and
// namespace. A component name an input gives when the step runs cannot be planned: the step
// then fails saying so.
func (r *run) applyComponentStep(s workflow.Step) (deployStep, bool) {
	for _, in := range s.Inputs {
		if in.ParameterKey == "component" || in.ParameterKey == "cluster" || in.ParameterKey == "namespace" {
			return deployStep{}, false
		}
	}
	name, _ := s.Properties["component"].(string)
	cluster, _ := s.Properties["cluster"].(string)
	ns, _ := s.Properties["namespace"].(string)
	subject := workflow.StepSubject(s.Name, s.Type)
	if name == "" {
		return deployStep{}, false // the step's parameters are checked against its definition
	}
	if !slices.ContainsFunc(r.components, func(c *component) bool { return c.name == name }) {
		r.addError(r.af.Where(s.Path+".properties.component"), subject, fmt.Sprintf("component %q does not exist in the Application", name))
		return deployStep{}, false
	}
	if cluster == "" {
		cluster = LocalCluster
	}
	c, ok := r.clusters[cluster]
	if !ok {
		r.addError(r.af.Where(s.Path+".properties.cluster"), subject, fmt.Sprintf("cluster %q is not a managed cluster", cluster))
		return deployStep{}, false
	}
	if ns == "" {
		ns = r.namespace
	}
	return deployStep{name: s.Name, auto: true, component: name, to: &target{cluster: c, namespace: ns}}, true
}

// applyRemainingStep plans an apply-remaining step: every component but its exceptions, on the
// hub.
func (r *run) applyRemainingStep(s workflow.Step) (deployStep, bool) {
	var props struct {
		Exceptions []string `json:"exceptions"`
	}
	if err := decodeInto(s.Properties, &props); err != nil {
		return deployStep{}, false // the step's parameters are checked against its definition
	}
	for i, name := range props.Exceptions {
		if !slices.ContainsFunc(r.components, func(c *component) bool { return c.name == name }) {
			r.addError(r.af.Where(fmt.Sprintf("%s.properties.exceptions[%d]", s.Path, i)), workflow.StepSubject(s.Name, s.Type),
				fmt.Sprintf("component %q does not exist in the Application", name))
			return deployStep{}, false
		}
	}
	return deployStep{name: s.Name, auto: true, except: props.Exceptions}, true
}

// deploy2runtimeStep plans a deploy2runtime step: every component to each cluster it names, or to
// every managed cluster.
func (r *run) deploy2runtimeStep(s workflow.Step) (deployStep, bool) {
	var props struct {
		Clusters []string `json:"clusters"`
	}
	if err := decodeInto(s.Properties, &props); err != nil {
		return deployStep{}, false // the step's parameters are checked against its definition
	}
	subject := workflow.StepSubject(s.Name, s.Type)
	topo := &topologySpec{Clusters: props.Clusters}
	if props.Clusters == nil {
		for _, name := range r.order {
			if name != LocalCluster {
				topo.Clusters = append(topo.Clusters, name)
			}
		}
		if len(topo.Clusters) == 0 {
			r.addError(r.af.Where(s.Path), subject, "there is no managed cluster to deploy to; name clusters in properties.clusters, or add managed clusters (--clusters for dry-run)")
			return deployStep{}, false
		}
	}
	pol := &policy{name: s.Name, typ: s.Type, path: s.Path, topology: topo}
	if _, err := r.selectClusters(pol); err != nil {
		r.addError(r.af.Where(s.Path+".properties.clusters"), subject, err.Error())
		return deployStep{}, false
	}
	return deployStep{name: s.Name, auto: true, policies: []*policy{pol}}, true
}

func (r *run) deployStep(s workflow.Step) deployStep {
	step := deployStep{name: s.Name, auto: true}
	var props deployProperties
	if err := decodeInto(s.Properties, &props); err != nil {
		return step // the step's parameters are checked against its definition
	}
	if props.Auto != nil {
		step.auto = *props.Auto
	}
	step.policies = r.stepPolicies(s, props.Policies, func(i int) string { return fmt.Sprintf("%s.properties.policies[%d]", s.Path, i) })
	return step
}

// stepPolicies resolves the policies a delivery step names; where says where the i-th name is
// written.
func (r *run) stepPolicies(s workflow.Step, names []string, where func(i int) string) []*policy {
	subject := workflow.StepSubject(s.Name, s.Type)
	var out []*policy
	for i, name := range names {
		pol, ok := r.policies[name]
		if !ok {
			if !r.hasPolicy(name) {
				r.addError(r.af.Where(where(i)), subject, fmt.Sprintf("policy %q does not exist in spec.policies", name))
			}
			continue
		}
		if pol.topology == nil && pol.override == nil && pol.replication == nil {
			r.addError(r.af.Where(where(i)), subject,
				fmt.Sprintf("policy %q is of type %q; a deploy step takes topology, override and replication policies", name, pol.typ))
			continue
		}
		out = append(out, pol)
	}
	return out
}

// customDeployStep plans a step whose definition delivers through a deploy action
// (vela/multicluster #Deploy, as KubeVela writes its own deploy step): the action's policies
// are worked out from the step's properties now, so the step is planned, printed by dry-run and
// delivered like a deploy step.
func (r *run) customDeployStep(s workflow.Step) (deployStep, bool) {
	if s.Path == "" || s.Type == workflow.TypeSuspend || s.Type == workflow.TypeStepGroup {
		return deployStep{}, false
	}
	def, err := r.definition(definition.KindWorkflowStep, s.Type)
	if err != nil || def.Unsupported != "" || !strings.Contains(def.Template, "#Deploy") && !strings.Contains(def.Template, "#Apply") {
		return deployStep{}, false // an unknown type is reported where the step is checked
	}
	tmpl, err := r.p.opts.Engine.Compile(def.Source())
	if err != nil {
		return deployStep{}, false // reported where the step is checked
	}
	props := s.Properties
	if props == nil {
		props = map[string]any{}
	}
	ev, err := tmpl.Evaluate(cue.Input{Parameter: props, Context: r.stepContext(s)})
	if err != nil {
		return deployStep{}, false // reported where the step is checked
	}
	subject := workflow.StepSubject(s.Name, s.Type)
	where := r.af.Where(s.Path + ".type")
	var deploys []cue.Action
	for _, a := range ev.Actions() {
		if workflow.DeliveryAction(a.Do) {
			deploys = append(deploys, a)
		}
	}
	switch {
	case len(deploys) == 0:
		return deployStep{}, false
	case len(deploys) > 1:
		r.addError(where, subject, fmt.Sprintf("%s has %d deploy actions; a step delivers once", def.DisplayName(), len(deploys)))
		return deployStep{}, false
	case deploys[0].Incomplete != nil:
		r.addError(where, subject, fmt.Sprintf("the deploy action %s of %s does not know its policies before the workflow runs (%v): take them from the step's properties",
			deploys[0].Path, def.DisplayName(), deploys[0].Incomplete))
		return deployStep{}, false
	}
	fields := deploys[0].Fields
	if params, ok := fields["$params"].(map[string]any); ok {
		fields = params
	}
	if inline, _ := fields["inlinePolicies"].([]any); len(inline) > 0 {
		r.addError(where, subject, fmt.Sprintf("the deploy action %s of %s has inline policies, which Ferry does not support: name policies of the Application",
			deploys[0].Path, def.DisplayName()))
		return deployStep{}, false
	}
	// KubeVela's older delivery actions are planned as the steps of the same names are.
	as := workflow.Step{Name: s.Name, Type: s.Type, Path: s.Path, Properties: fields}
	switch deploys[0].Do {
	case workflow.TypeApplyApplication:
		return deployStep{name: s.Name, auto: true}, true
	case workflow.TypeApplyRemaining:
		return r.applyRemainingStep(as)
	case workflow.ActionApplyEnvBindApp:
		return r.deploy2envStep(as)
	}
	var names []string
	if list, ok := fields["policies"].([]any); ok {
		for _, p := range list {
			names = append(names, fmt.Sprint(p))
		}
	}
	return deployStep{name: s.Name, auto: true,
		policies: r.stepPolicies(s, names, func(int) string { return s.Path + ".properties" })}, true
}

func (r *run) hasPolicy(name string) bool {
	for _, p := range r.app.Spec.Policies {
		if p.Name == name {
			return true
		}
	}
	return false
}
