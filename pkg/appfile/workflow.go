package appfile

import (
	"fmt"

	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/definition"
)

// Workflow step types the planner understands.
const (
	StepDeploy  = "deploy"
	StepGroup   = "step-group"
	StepSuspend = "suspend"
)

func stepSubject(name, typ string) string { return fmt.Sprintf("step %q (%s)", name, typ) }

// deployStep is a deploy step with the policies it uses.
type deployStep struct {
	name     string
	auto     bool
	policies []*policy
}

// deployProperties are the properties of a deploy step.
type deployProperties struct {
	Auto     *bool    `json:"auto,omitempty"`
	Policies []string `json:"policies,omitempty"`
}

// validateWorkflow checks step names, types, dependsOn and the properties of each step.
func (r *run) validateWorkflow() {
	wf := r.app.Spec.Workflow
	if wf == nil {
		return
	}
	if wf.Ref != "" && len(wf.Steps) > 0 {
		r.addError(r.af.Where("spec.workflow.ref"), "workflow", "set either ref or steps, not both")
	}
	names := map[string]bool{}
	for i, s := range wf.Steps {
		path := fmt.Sprintf("spec.workflow.steps[%d]", i)
		r.checkStep(s.WorkflowStepBase, path, names)
		if s.Type != StepGroup && len(s.SubSteps) > 0 {
			r.addError(r.af.Where(path+".subSteps"), stepSubject(s.Name, s.Type), "only a step-group has subSteps")
		}
		for j, sub := range s.SubSteps {
			r.checkStep(sub, fmt.Sprintf("%s.subSteps[%d]", path, j), names)
		}
	}
	for i, s := range wf.Steps {
		r.checkDependsOn(s.WorkflowStepBase, fmt.Sprintf("spec.workflow.steps[%d]", i), names)
		for j, sub := range s.SubSteps {
			r.checkDependsOn(sub, fmt.Sprintf("spec.workflow.steps[%d].subSteps[%d]", i, j), names)
		}
	}
}

func (r *run) checkStep(s v1beta1.WorkflowStepBase, path string, names map[string]bool) {
	subject := stepSubject(s.Name, s.Type)
	switch {
	case s.Name == "":
		r.addError(r.af.Where(path), "", path+".name is required")
	case names[s.Name]:
		r.addError(r.af.Where(path+".name"), subject, "duplicate step name")
	}
	names[s.Name] = true
	if s.Type == "" {
		r.addError(r.af.Where(path), fmt.Sprintf("step %q", s.Name), "type is required")
		return
	}
	def, err := r.definition(definition.KindWorkflowStep, s.Type)
	if err != nil {
		r.addError(r.af.Where(path+".type"), fmt.Sprintf("step %q", s.Name), err.Error())
		return
	}
	props := r.decodeProperties(s.Properties, path+".properties", subject)
	r.validateParameters(def, props, path+".properties", subject)
}

func (r *run) checkDependsOn(s v1beta1.WorkflowStepBase, path string, names map[string]bool) {
	for i, dep := range s.DependsOn {
		if !names[dep] {
			r.addError(r.af.Where(fmt.Sprintf("%s.dependsOn[%d]", path, i)), stepSubject(s.Name, s.Type),
				fmt.Sprintf("dependsOn names unknown step %q", dep))
		}
	}
}

// deploySteps lists the deploy steps in workflow order, sub-steps included. Without a workflow
// there is one step, "default", using every topology and override policy.
func (r *run) deploySteps() []deployStep {
	wf := r.app.Spec.Workflow
	if wf == nil || (len(wf.Steps) == 0 && wf.Ref == "") {
		step := deployStep{name: DefaultStepName, auto: true}
		for _, ap := range r.app.Spec.Policies {
			if pol, ok := r.policies[ap.Name]; ok && (pol.topology != nil || pol.override != nil) {
				step.policies = append(step.policies, pol)
			}
		}
		return []deployStep{step}
	}
	var out []deployStep
	for i, s := range wf.Steps {
		path := fmt.Sprintf("spec.workflow.steps[%d]", i)
		if s.Type == StepDeploy {
			out = append(out, r.deployStep(s.WorkflowStepBase, path))
		}
		for j, sub := range s.SubSteps {
			if sub.Type == StepDeploy {
				out = append(out, r.deployStep(sub, fmt.Sprintf("%s.subSteps[%d]", path, j)))
			}
		}
	}
	return out
}

func (r *run) deployStep(s v1beta1.WorkflowStepBase, path string) deployStep {
	step := deployStep{name: s.Name, auto: true}
	var props deployProperties
	if err := decodeInto(r.decodeProperties(s.Properties, path+".properties", ""), &props); err != nil {
		return step // reported by validateWorkflow
	}
	if props.Auto != nil {
		step.auto = *props.Auto
	}
	subject := stepSubject(s.Name, s.Type)
	for i, name := range props.Policies {
		pol, ok := r.policies[name]
		if !ok {
			if !r.hasPolicy(name) {
				r.addError(r.af.Where(fmt.Sprintf("%s.properties.policies[%d]", path, i)), subject,
					fmt.Sprintf("policy %q does not exist in spec.policies", name))
			}
			continue
		}
		if pol.topology == nil && pol.override == nil {
			r.addError(r.af.Where(fmt.Sprintf("%s.properties.policies[%d]", path, i)), subject,
				fmt.Sprintf("policy %q is of type %q; a deploy step takes topology and override policies", name, pol.typ))
			continue
		}
		step.policies = append(step.policies, pol)
	}
	return step
}

func (r *run) hasPolicy(name string) bool {
	for _, p := range r.app.Spec.Policies {
		if p.Name == name {
			return true
		}
	}
	return false
}
