package health

import (
	"fmt"

	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/cue"
	"github.com/ferryhq/ferry/pkg/definition"
)

// Trait is a trait of a component with its live objects.
type Trait struct {
	Definition *definition.Definition
	Parameter  map[string]any
	// Outputs are the live objects of the trait's outputs, by output name.
	Outputs map[string]any
}

// Component is a component on one target with its live objects.
type Component struct {
	Name, Cluster, Namespace string
	Definition               *definition.Definition
	Parameter                map[string]any
	// Workload is the live main object; Outputs the component's other live objects by name.
	Workload map[string]any
	Outputs  map[string]any
	Traits   []Trait
	// Context is the render context (app name, revision, ...); Output and Outputs are set here.
	Context cue.Context
}

// Evaluate reports the health of a component and its traits. The component is healthy when
// its own policy and every trait's policy say so; a missing workload is unhealthy.
func Evaluate(engine *cue.Engine, c Component) (v1beta1.ApplicationComponentStatus, error) {
	out := v1beta1.ApplicationComponentStatus{Name: c.Name, Cluster: c.Cluster, Namespace: c.Namespace}
	if c.Workload == nil {
		out.Message = "the workload does not exist yet"
		return out, nil
	}
	st, err := engine.EvalStatus(c.Definition.DisplayName(), c.Definition.Status, cue.StatusInput{
		Output: c.Workload, Outputs: c.Outputs, Parameter: c.Parameter, Context: c.Context})
	if err != nil {
		return out, fmt.Errorf("component %q: %w", c.Name, err)
	}
	out.Healthy, out.Message, out.Details = st.Healthy, st.Message, st.Details
	for _, t := range c.Traits {
		tst, err := engine.EvalStatus(t.Definition.DisplayName(), t.Definition.Status, cue.StatusInput{
			Output: c.Workload, Outputs: t.Outputs, Parameter: t.Parameter, Context: c.Context})
		if err != nil {
			return out, fmt.Errorf("component %q: trait %q: %w", c.Name, t.Definition.Name, err)
		}
		out.Traits = append(out.Traits, v1beta1.ApplicationTraitStatus{
			Type: t.Definition.Name, Healthy: tst.Healthy, Message: tst.Message, Details: tst.Details})
		out.Healthy = out.Healthy && tst.Healthy
	}
	return out, nil
}
