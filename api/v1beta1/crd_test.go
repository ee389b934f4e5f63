package v1beta1_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/testenv"
)

// TestCRDsValidateOnARealAPIServer installs the generated CRDs into envtest's kube-apiserver and
// checks that valid objects are stored and invalid ones are rejected by the schema the
// kubebuilder markers produce.
func TestCRDsValidateOnARealAPIServer(t *testing.T) {
	cfg := testenv.StartEnvtest(t)
	c, err := testenv.NewClient(cfg, v1beta1.AddToScheme)
	require.NoError(t, err)
	ctx := context.Background()

	app := func(name string, mutate func(*v1beta1.Application)) *v1beta1.Application {
		a := &v1beta1.Application{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
			Spec: v1beta1.ApplicationSpec{Components: []v1beta1.ApplicationComponent{{
				Name: "web", Type: "webservice",
				Properties: &runtime.RawExtension{Raw: []byte(`{"image":"nginx","ports":[{"port":80}]}`)},
				Traits:     []v1beta1.ApplicationTrait{{Type: "scaler", Properties: &runtime.RawExtension{Raw: []byte(`{"replicas":2}`)}}},
			}}},
		}
		if mutate != nil {
			mutate(a)
		}
		return a
	}

	valid := app("valid", func(a *v1beta1.Application) {
		a.Spec.Workflow = &v1beta1.Workflow{
			Mode:  &v1beta1.WorkflowExecuteMode{Steps: v1beta1.WorkflowModeStepByStep, SubSteps: v1beta1.WorkflowModeDAG},
			Steps: []v1beta1.WorkflowStep{{WorkflowStepBase: v1beta1.WorkflowStepBase{Name: "ship", Type: "deploy", Timeout: "10m"}}},
		}
	})
	require.NoError(t, c.Create(ctx, valid))
	var got v1beta1.Application
	require.NoError(t, c.Get(ctx, client.ObjectKeyFromObject(valid), &got))
	require.JSONEq(t, `{"image":"nginx","ports":[{"port":80}]}`, string(got.Spec.Components[0].Properties.Raw), "free-form properties are preserved")

	// KubeVela allows both: an Application that only runs its workflow, and a policy without
	// a name.
	workflowOnly := app("workflow-only", func(a *v1beta1.Application) {
		a.Spec.Components = nil
		a.Spec.Policies = []v1beta1.AppPolicy{{Type: "garbage-collect"}}
		a.Spec.Workflow = &v1beta1.Workflow{Steps: []v1beta1.WorkflowStep{{WorkflowStepBase: v1beta1.WorkflowStepBase{Name: "wait", Type: "suspend"}}}}
	})
	require.NoError(t, c.Create(ctx, workflowOnly))

	invalid := []struct {
		name    string
		mutate  func(*v1beta1.Application)
		message string
	}{
		{"policy name", func(a *v1beta1.Application) {
			a.Spec.Policies = []v1beta1.AppPolicy{{Name: "Not_A_Name", Type: "topology"}}
		}, "spec.policies[0].name"},
		{"component name", func(a *v1beta1.Application) { a.Spec.Components[0].Name = "Web_1" }, "spec.components[0].name"},
		{"empty type", func(a *v1beta1.Application) { a.Spec.Components[0].Type = "" }, "spec.components[0].type"},
		{"workflow mode", func(a *v1beta1.Application) {
			a.Spec.Workflow = &v1beta1.Workflow{Mode: &v1beta1.WorkflowExecuteMode{Steps: "Parallel"}}
		}, "spec.workflow.mode.steps"},
		{"step timeout", func(a *v1beta1.Application) {
			a.Spec.Workflow = &v1beta1.Workflow{Steps: []v1beta1.WorkflowStep{{WorkflowStepBase: v1beta1.WorkflowStepBase{Name: "s", Type: "deploy", Timeout: "ten minutes"}}}}
		}, "spec.workflow.steps[0].timeout"},
		{"duplicate component names", func(a *v1beta1.Application) {
			a.Spec.Components = append(a.Spec.Components, a.Spec.Components[0])
		}, "Duplicate value"},
	}
	for _, tt := range invalid {
		t.Run(tt.name, func(t *testing.T) {
			err := c.Create(ctx, app("invalid", tt.mutate))
			require.Error(t, err)
			require.Contains(t, err.Error(), tt.message)
		})
	}

	def := &v1beta1.TraitDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: "scaler", Namespace: "default"},
		Spec: v1beta1.TraitDefinitionSpec{
			AppliesToWorkloads: []string{"deployments.apps"},
			Schematic:          &v1beta1.Schematic{CUE: &v1beta1.CUESchematic{Template: "parameter: replicas: *1 | int"}},
		},
	}
	require.NoError(t, c.Create(ctx, def))
	def2 := def.DeepCopy()
	def2.Name, def2.ResourceVersion, def2.Spec.Stage = "staged", "", "Sometime"
	require.ErrorContains(t, c.Create(ctx, def2), "spec.stage")
}
