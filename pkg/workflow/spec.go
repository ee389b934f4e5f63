package workflow

import (
	"encoding/json"
	"fmt"
	"strings"
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
	// Path is where the step is written in the Application, e.g. spec.workflow.steps[2]; empty
	// for the default workflow's step.
	Path string
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

// Problem is one thing wrong with a workflow, at a field path of the Application, in the words
// every entry point (dry-run, admission, the controller) reports.
type Problem struct {
	// Path is the field, e.g. spec.workflow.steps[1].dependsOn[0].
	Path string
	// Subject names the step, e.g. `step "prod" (deploy)`; empty for the workflow as a whole.
	Subject string
	Message string
}

func (p Problem) Error() string {
	if p.Subject == "" {
		return p.Path + ": " + p.Message
	}
	return p.Path + ": " + p.Subject + ": " + p.Message
}

// Problems is every problem of a workflow, in the order of the Application.
type Problems []Problem

func (l Problems) Error() string {
	msgs := make([]string, len(l))
	for i, p := range l {
		msgs[i] = p.Error()
	}
	return strings.Join(msgs, "; ")
}

// StepSubject names a step in messages.
func StepSubject(name, typ string) string { return fmt.Sprintf("step %q (%s)", name, typ) }

// FromApplication builds and validates the Spec of an Application's workflow. Without steps it
// is the default workflow: one deploy step, "default", using every topology and override
// policy; or, as KubeVela does, when the Application has env-binding policies, one deploy2env
// step per environment, "deploy-<policy>-<env>", in order. Errors are Problems. This is the one parser of workflows: the planner, and so dry-run,
// admission and the controller, all use it.
func FromApplication(app *v1beta1.Application) (*Spec, error) {
	wf := app.Spec.Workflow
	if wf != nil && wf.Ref != "" {
		msg := fmt.Sprintf("referencing a Workflow object (%q) is not supported; write the steps inline in spec.workflow.steps", wf.Ref)
		if len(wf.Steps) > 0 {
			msg = "set either ref or steps, not both; referencing a Workflow object is not supported, so remove ref"
		}
		return nil, Problems{{Path: "spec.workflow.ref", Subject: "workflow", Message: msg}}
	}
	if wf == nil || len(wf.Steps) == 0 {
		if steps := envBindingSteps(app); len(steps) > 0 {
			return &Spec{Steps: steps}, nil
		}
		var policies []any
		for i, p := range app.Spec.Policies {
			if p.Type == "topology" || p.Type == "override" {
				policies = append(policies, v1beta1.PolicyKey(i, p))
			}
		}
		return &Spec{Steps: []Step{{Name: DefaultStepName, Type: TypeDeploy,
			Properties: map[string]any{"policies": policies}}}}, nil
	}
	spec := &Spec{}
	if wf.Mode != nil {
		spec.Mode, spec.SubMode = Mode(wf.Mode.Steps), Mode(wf.Mode.SubSteps)
	}
	var problems Problems
	for i, s := range wf.Steps {
		step, errs := stepFromAPI(s.WorkflowStepBase, fmt.Sprintf("spec.workflow.steps[%d]", i))
		problems = append(problems, errs...)
		if s.Type != TypeStepGroup && len(s.SubSteps) > 0 {
			problems = append(problems, Problem{Path: step.Path + ".subSteps", Subject: StepSubject(s.Name, s.Type), Message: "only a step-group has subSteps"})
		}
		for j, sub := range s.SubSteps {
			subStep, errs := stepFromAPI(sub, fmt.Sprintf("%s.subSteps[%d]", step.Path, j))
			problems = append(problems, errs...)
			step.SubSteps = append(step.SubSteps, subStep)
		}
		spec.Steps = append(spec.Steps, step)
	}
	problems = append(problems, spec.validate()...)
	if len(problems) > 0 {
		return nil, problems
	}
	return spec, nil
}

// PolicyEnvBinding is KubeVela's deprecated policy of environments.
const PolicyEnvBinding = "env-binding"

// envBindingSteps makes the default workflow of an Application with env-binding policies. A
// policy whose properties cannot be read makes no steps; the planner reports what is wrong
// with it.
func envBindingSteps(app *v1beta1.Application) []Step {
	var steps []Step
	for i, p := range app.Spec.Policies {
		if p.Type != PolicyEnvBinding || p.Properties == nil {
			continue
		}
		var props struct {
			Envs []struct {
				Name string `json:"name"`
			} `json:"envs"`
		}
		if err := json.Unmarshal(p.Properties.Raw, &props); err != nil {
			continue
		}
		key := v1beta1.PolicyKey(i, p)
		for _, env := range props.Envs {
			steps = append(steps, Step{Name: "deploy-" + key + "-" + env.Name, Type: TypeDeploy2Env,
				Properties: map[string]any{"policy": key, "env": env.Name, "parallel": false}})
		}
	}
	return steps
}

func stepFromAPI(s v1beta1.WorkflowStepBase, path string) (Step, Problems) {
	step := Step{Name: s.Name, Type: s.Type, If: s.If, DependsOn: s.DependsOn, Path: path}
	subject := StepSubject(s.Name, s.Type)
	if s.Meta != nil {
		step.Alias = s.Meta.Alias
	}
	var problems Problems
	var err error
	if s.Timeout != "" {
		if step.Timeout, err = time.ParseDuration(s.Timeout); err != nil {
			problems = append(problems, Problem{Path: path + ".timeout", Subject: subject, Message: fmt.Sprintf("timeout %q is not a duration such as 90s or 10m", s.Timeout)})
		}
	}
	if s.Retries != nil {
		step.Retries.Limit = int(s.Retries.Limit)
		if s.Retries.Backoff != "" {
			if step.Retries.Backoff, err = time.ParseDuration(s.Retries.Backoff); err != nil {
				problems = append(problems, Problem{Path: path + ".retries.backoff", Subject: subject, Message: fmt.Sprintf("backoff %q is not a duration such as 10s", s.Retries.Backoff)})
			}
		}
	}
	for _, in := range s.Inputs {
		step.Inputs = append(step.Inputs, Input{From: in.From, ParameterKey: in.ParameterKey})
	}
	if s.If != "" {
		if err := (cue.ExpressionBudget{}).Check(s.If); err != nil {
			problems = append(problems, Problem{Path: path + ".if", Subject: subject, Message: "if: " + err.Error()})
		}
	}
	for i, out := range s.Outputs {
		step.Outputs = append(step.Outputs, Output{Name: out.Name, ValueFrom: out.ValueFrom})
		if strings.TrimSpace(out.ValueFrom) == "" {
			problems = append(problems, Problem{Path: fmt.Sprintf("%s.outputs[%d]", path, i), Subject: subject,
				Message: fmt.Sprintf("output %q has no valueFrom: give the expression over the step's value it takes, e.g. output.value", out.Name)})
		} else if err := (cue.ExpressionBudget{}).Check(out.ValueFrom); err != nil {
			problems = append(problems, Problem{Path: fmt.Sprintf("%s.outputs[%d].valueFrom", path, i), Subject: subject,
				Message: fmt.Sprintf("output %q: valueFrom: %v", out.Name, err)})
		}
	}
	if s.Properties != nil && len(s.Properties.Raw) > 0 && string(s.Properties.Raw) != "null" {
		if step.Properties, err = cue.DecodeJSONObject(s.Properties.Raw); err != nil {
			problems = append(problems, Problem{Path: path + ".properties", Subject: subject, Message: "properties must be an object: " + err.Error()})
		}
	}
	return step, problems
}

// Validate checks names, types, dependsOn and modes: what would make a workflow hang.
func (s *Spec) Validate() error {
	if problems := s.validate(); len(problems) > 0 {
		return problems
	}
	return nil
}

func (s *Spec) validate() Problems {
	var problems Problems
	for _, m := range []struct {
		mode Mode
		path string
	}{{s.Mode, "spec.workflow.mode.steps"}, {s.SubMode, "spec.workflow.mode.subSteps"}} {
		if m.mode != "" && m.mode != StepByStep && m.mode != DAG {
			problems = append(problems, Problem{Path: m.path, Subject: "workflow", Message: fmt.Sprintf("mode %q: use StepByStep or DAG", m.mode)})
		}
	}
	names := map[string]bool{}
	return append(problems, validateLevel(s.Steps, names, "spec.workflow.steps", true)...)
}

func validateLevel(steps []Step, names map[string]bool, levelPath string, top bool) Problems {
	var problems Problems
	add := func(st Step, field, msg string) {
		path := st.Path
		if path == "" {
			path = levelPath
		}
		problems = append(problems, Problem{Path: path + field, Subject: StepSubject(st.Name, st.Type), Message: msg})
	}
	level := map[string]int{}
	for i, st := range steps {
		switch {
		case st.Name == "":
			path := st.Path
			if path == "" {
				path = fmt.Sprintf("%s[%d]", levelPath, i)
			}
			problems = append(problems, Problem{Path: path, Message: path + ".name is required"})
		case names[st.Name]:
			add(st, ".name", "duplicate step name")
		}
		names[st.Name] = true
		level[st.Name] = i
		if st.Type == "" {
			add(st, "", "type is required")
		}
		if st.Type == TypeStepGroup {
			if !top {
				add(st, ".type", "a step group cannot be nested in another")
			}
			problems = append(problems, validateLevel(st.SubSteps, names, st.Path+".subSteps", false)...)
		} else if len(st.SubSteps) > 0 && st.Path == "" {
			add(st, ".subSteps", "only a step-group has subSteps")
		}
		if st.Retries.Limit < 0 {
			add(st, ".retries.limit", "retries.limit must not be negative")
		}
	}
	for _, st := range steps {
		for j, dep := range st.DependsOn {
			if _, ok := level[dep]; !ok {
				add(st, fmt.Sprintf(".dependsOn[%d]", j), fmt.Sprintf("dependsOn names unknown step %q; a step depends on steps of its own level", dep))
			}
		}
	}
	if cycle := findCycle(steps); cycle != nil {
		add(*cycle, ".dependsOn", "dependsOn forms a cycle through this step; remove one of the dependencies")
	}
	return problems
}

// findCycle returns a step on a dependsOn cycle, or nil.
func findCycle(steps []Step) *Step {
	deps := map[string][]string{}
	byName := map[string]*Step{}
	for i, s := range steps {
		deps[s.Name] = s.DependsOn
		byName[s.Name] = &steps[i]
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
			return byName[c]
		}
	}
	return nil
}
