package workflow

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/ferryhq/ferry/api/v1beta1"
)

func TestFromApplication(t *testing.T) {
	app := &v1beta1.Application{Spec: v1beta1.ApplicationSpec{Workflow: &v1beta1.Workflow{
		Mode: &v1beta1.WorkflowExecuteMode{Steps: v1beta1.WorkflowModeDAG, SubSteps: v1beta1.WorkflowModeStepByStep},
		Steps: []v1beta1.WorkflowStep{
			{WorkflowStepBase: v1beta1.WorkflowStepBase{
				Name: "build", Type: "apply-object", Timeout: "5m", If: "always",
				Meta:       &v1beta1.WorkflowStepMeta{Alias: "Build it"},
				Outputs:    []v1beta1.StepOutput{{Name: "image", ValueFrom: "output.image"}},
				Properties: &runtime.RawExtension{Raw: []byte(`{"replicas": 2}`)},
				Retries:    &v1beta1.StepRetries{Limit: 3, Backoff: "10s"},
			}},
			{WorkflowStepBase: v1beta1.WorkflowStepBase{Name: "group", Type: TypeStepGroup, DependsOn: []string{"build"}},
				SubSteps: []v1beta1.WorkflowStepBase{{Name: "use", Type: "deploy", Inputs: []v1beta1.StepInput{{From: "image", ParameterKey: "image"}}}}},
		},
	}}}
	spec, err := FromApplication(app)
	require.NoError(t, err)
	require.Equal(t, &Spec{Mode: DAG, SubMode: StepByStep, Steps: []Step{
		{Name: "build", Type: "apply-object", Alias: "Build it", If: "always", Timeout: 5 * time.Minute,
			Outputs: []Output{{Name: "image", ValueFrom: "output.image"}}, Properties: map[string]any{"replicas": int64(2)},
			Retries: Retries{Limit: 3, Backoff: 10 * time.Second}, Path: "spec.workflow.steps[0]"},
		{Name: "group", Type: TypeStepGroup, DependsOn: []string{"build"}, Path: "spec.workflow.steps[1]",
			SubSteps: []Step{{Name: "use", Type: "deploy", Inputs: []Input{{From: "image", ParameterKey: "image"}},
				Path: "spec.workflow.steps[1].subSteps[0]"}}},
	}}, spec)

	def, err := FromApplication(&v1beta1.Application{Spec: v1beta1.ApplicationSpec{Policies: []v1beta1.AppPolicy{
		{Name: "eu", Type: "topology"}, {Name: "gc", Type: "garbage-collect"}, {Name: "big", Type: "override"},
	}}})
	require.NoError(t, err)
	require.Equal(t, &Spec{Steps: []Step{{Name: "default", Type: TypeDeploy, Properties: map[string]any{"policies": []any{"eu", "big"}}}}}, def)

	_, err = FromApplication(&v1beta1.Application{Spec: v1beta1.ApplicationSpec{Workflow: &v1beta1.Workflow{Ref: "shared"}}})
	require.ErrorContains(t, err, "spec.workflow.ref: workflow: referencing a Workflow object (\"shared\") is not supported")

	app.Spec.Workflow.Steps[0].Timeout = "soon"
	_, err = FromApplication(app)
	require.ErrorContains(t, err, "spec.workflow.steps[0].timeout")
}

// TestFromApplicationProblems: every problem is reported at once, each at the field it is about.
func TestFromApplicationProblems(t *testing.T) {
	step := func(name, typ string, deps ...string) v1beta1.WorkflowStep {
		return v1beta1.WorkflowStep{WorkflowStepBase: v1beta1.WorkflowStepBase{Name: name, Type: typ, DependsOn: deps}}
	}
	group := step("group", "suspend")
	group.SubSteps = []v1beta1.WorkflowStepBase{{Name: "inner", Type: "suspend"}}
	app := &v1beta1.Application{Spec: v1beta1.ApplicationSpec{Workflow: &v1beta1.Workflow{
		Mode:  &v1beta1.WorkflowExecuteMode{Steps: v1beta1.WorkflowModeDAG},
		Steps: []v1beta1.WorkflowStep{step("a", "deploy", "b"), step("b", "deploy", "a"), step("e", "suspend"), step("c", "", "nobody"), group, step("e", "suspend")},
	}}}
	_, err := FromApplication(app)
	var problems Problems
	require.ErrorAs(t, err, &problems)
	var got []string
	for _, p := range problems {
		got = append(got, p.Error())
	}
	require.Equal(t, []string{
		`spec.workflow.steps[4].subSteps: step "group" (suspend): only a step-group has subSteps`,
		`spec.workflow.steps[3]: step "c" (): type is required`,
		`spec.workflow.steps[5].name: step "e" (suspend): duplicate step name`,
		`spec.workflow.steps[3].dependsOn[0]: step "c" (): dependsOn names unknown step "nobody"; a step depends on steps of its own level`,
		`spec.workflow.steps[0].dependsOn: step "a" (deploy): dependsOn forms a cycle through this step; remove one of the dependencies`,
	}, got)
}
