package workflow

import (
	"errors"
	"fmt"
	"time"

	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/cue"
)

// Mode is how the steps of one level run.
type Mode string

// Modes.
const (
	StepByStep Mode = "StepByStep"
	DAG        Mode = "DAG"
)

// Step types the engine runs itself.
const (
	TypeSuspend   = "suspend"
	TypeStepGroup = "step-group"
)

// Spec is a workflow to run.
type Spec struct {
	// Mode of the top-level steps; StepByStep when empty.
	Mode Mode
	// SubMode of the sub-steps of step groups; DAG when empty, as in KubeVela.
	SubMode Mode
	Steps   []Step
}

// Step is one step.
type Step struct {
	Name, Type string
	// Alias is a display name.
	Alias string
	// If is a CUE condition over status.<step>.phase, inputs.* and context.*, or "always".
	If string
	// Timeout bounds the step's running and waiting; Options.DefaultTimeout when zero.
	Timeout    time.Duration
	DependsOn  []string
	Inputs     []Input
	Outputs    []Output
	Properties map[string]any
	Retries    Retries
	SubSteps   []Step
}

// Input takes the value of an earlier output into the step's properties.
type Input struct {
	From string
	// ParameterKey is a dotted path in the properties; the value is only in `inputs` when empty.
	ParameterKey string
}

// Output exports a value of the step's result.
type Output struct {
	Name string
	// ValueFrom is a CUE expression over the step's result.
	ValueFrom string
}

// Retries re-run a failed step.
type Retries struct {
	Limit   int
	Backoff time.Duration
}

// DefaultStepName names the one step of an Application without a workflow.
const DefaultStepName = "default"

// FromApplication builds the Spec of an Application's workflow. Without steps it is the
// default workflow: one deploy step, "default", using every topology and override policy.
func FromApplication(app *v1beta1.Application) (*Spec, error) {
	wf := app.Spec.Workflow
	if wf != nil && wf.Ref != "" {
		return nil, fmt.Errorf("spec.workflow.ref %q: referencing a Workflow object is not supported yet; write the steps inline", wf.Ref)
	}
	if wf == nil || len(wf.Steps) == 0 {
		var policies []any
		for _, p := range app.Spec.Policies {
			if p.Type == "topology" || p.Type == "override" {
				policies = append(policies, p.Name)
			}
		}
		return &Spec{Steps: []Step{{Name: DefaultStepName, Type: TypeDeploy,
			Properties: map[string]any{"policies": policies}}}}, nil
	}
	spec := &Spec{}
	if wf.Mode != nil {
		spec.Mode, spec.SubMode = Mode(wf.Mode.Steps), Mode(wf.Mode.SubSteps)
	}
	for i, s := range wf.Steps {
		step, err := stepFromAPI(s.WorkflowStepBase, fmt.Sprintf("spec.workflow.steps[%d]", i))
		if err != nil {
			return nil, err
		}
		for j, sub := range s.SubSteps {
			subStep, err := stepFromAPI(sub, fmt.Sprintf("spec.workflow.steps[%d].subSteps[%d]", i, j))
			if err != nil {
				return nil, err
			}
			step.SubSteps = append(step.SubSteps, subStep)
		}
		spec.Steps = append(spec.Steps, step)
	}
	return spec, spec.Validate()
}

func stepFromAPI(s v1beta1.WorkflowStepBase, path string) (Step, error) {
	step := Step{Name: s.Name, Type: s.Type, If: s.If, DependsOn: s.DependsOn}
	if s.Meta != nil {
		step.Alias = s.Meta.Alias
	}
	var err error
	if s.Timeout != "" {
		if step.Timeout, err = time.ParseDuration(s.Timeout); err != nil {
			return step, fmt.Errorf("%s.timeout: %w", path, err)
		}
	}
	if s.Retries != nil {
		step.Retries.Limit = int(s.Retries.Limit)
		if s.Retries.Backoff != "" {
			if step.Retries.Backoff, err = time.ParseDuration(s.Retries.Backoff); err != nil {
				return step, fmt.Errorf("%s.retries.backoff: %w", path, err)
			}
		}
	}
	for _, in := range s.Inputs {
		step.Inputs = append(step.Inputs, Input{From: in.From, ParameterKey: in.ParameterKey})
	}
	for _, out := range s.Outputs {
		step.Outputs = append(step.Outputs, Output{Name: out.Name, ValueFrom: out.ValueFrom})
	}
	if s.Properties != nil && len(s.Properties.Raw) > 0 && string(s.Properties.Raw) != "null" {
		if step.Properties, err = cue.DecodeJSONObject(s.Properties.Raw); err != nil {
			return step, fmt.Errorf("%s.properties: %w", path, err)
		}
	}
	return step, nil
}

// Validate checks names, dependsOn and modes: what would make a workflow hang.
func (s *Spec) Validate() error {
	var errs []error
	for _, m := range []Mode{s.Mode, s.SubMode} {
		if m != "" && m != StepByStep && m != DAG {
			errs = append(errs, fmt.Errorf("mode %q: use StepByStep or DAG", m))
		}
	}
	names := map[string]bool{}
	errs = append(errs, validateLevel(s.Steps, names, true)...)
	return errors.Join(errs...)
}

func validateLevel(steps []Step, names map[string]bool, top bool) []error {
	var errs []error
	level := map[string]int{}
	for i, st := range steps {
		if st.Name == "" {
			errs = append(errs, fmt.Errorf("step %d has no name", i+1))
		} else if names[st.Name] {
			errs = append(errs, fmt.Errorf("step %q: duplicate name", st.Name))
		}
		names[st.Name] = true
		level[st.Name] = i
		if st.Type == TypeStepGroup {
			if !top {
				errs = append(errs, fmt.Errorf("step %q: a step group cannot be nested in another", st.Name))
			}
			errs = append(errs, validateLevel(st.SubSteps, names, false)...)
		} else if len(st.SubSteps) > 0 {
			errs = append(errs, fmt.Errorf("step %q: only a step-group has sub-steps", st.Name))
		}
		if st.Retries.Limit < 0 {
			errs = append(errs, fmt.Errorf("step %q: retries.limit must not be negative", st.Name))
		}
	}
	for _, st := range steps {
		for _, dep := range st.DependsOn {
			if _, ok := level[dep]; !ok {
				errs = append(errs, fmt.Errorf("step %q: dependsOn %q, which is not a step of the same level", st.Name, dep))
			}
		}
	}
	if cycle := findCycle(steps); cycle != "" {
		errs = append(errs, fmt.Errorf("dependsOn forms a cycle through step %q", cycle))
	}
	return errs
}

// findCycle returns a step on a dependsOn cycle, or "".
func findCycle(steps []Step) string {
	deps := map[string][]string{}
	for _, s := range steps {
		deps[s.Name] = s.DependsOn
	}
	const (
		visiting = 1
		done     = 2
	)
	mark := map[string]int{}
	var visit func(string) string
	visit = func(n string) string {
		switch mark[n] {
		case visiting:
			return n
		case done:
			return ""
		}
		mark[n] = visiting
		for _, d := range deps[n] {
			if c := visit(d); c != "" {
				return c
			}
		}
		mark[n] = done
		return ""
	}
	for _, s := range steps {
		if c := visit(s.Name); c != "" {
			return c
		}
	}
	return ""
}
