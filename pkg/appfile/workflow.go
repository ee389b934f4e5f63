package appfile

import (
	"errors"
	"fmt"

	"github.com/ferryhq/ferry/pkg/definition"
	"github.com/ferryhq/ferry/pkg/workflow"
)

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
		r.validateParameters(def, props, s.Path+".properties", workflow.StepSubject(s.Name, s.Type))
	})
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
		if s.Type == workflow.TypeDeploy {
			out = append(out, r.deployStep(s))
		}
	})
	return out
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
	subject := workflow.StepSubject(s.Name, s.Type)
	for i, name := range props.Policies {
		pol, ok := r.policies[name]
		if !ok {
			if !r.hasPolicy(name) {
				r.addError(r.af.Where(fmt.Sprintf("%s.properties.policies[%d]", s.Path, i)), subject,
					fmt.Sprintf("policy %q does not exist in spec.policies", name))
			}
			continue
		}
		if pol.topology == nil && pol.override == nil {
			r.addError(r.af.Where(fmt.Sprintf("%s.properties.policies[%d]", s.Path, i)), subject,
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
