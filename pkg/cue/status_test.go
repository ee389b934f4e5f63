package cue

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestEvalStatus(t *testing.T) {
	st := StatusTemplates{
		HealthPolicy: `
ready: *0 | int
if context.output.status.readyReplicas != _|_ {
	ready: context.output.status.readyReplicas
}
isHealth: context.output.spec.replicas == ready`,
		CustomStatus: `message: "Ready: \(*context.output.status.readyReplicas | 0)/\(context.output.spec.replicas)"`,
		Details:      `replicas: "\(context.output.spec.replicas)", service: context.outputs.service.metadata.name, port: parameter.port`,
	}
	live := func(ready int64) map[string]any {
		obj := map[string]any{"spec": map[string]any{"replicas": int64(2)}}
		if ready >= 0 {
			obj["status"] = map[string]any{"readyReplicas": ready}
		}
		return obj
	}
	outputs := map[string]any{"service": map[string]any{"metadata": map[string]any{"name": "web-svc"}}}
	tests := []struct {
		name        string
		output      map[string]any
		wantHealthy bool
		wantMessage string
	}{
		{"all ready", live(2), true, "Ready: 2/2"},
		{"partly ready", live(1), false, "Ready: 1/2"},
		{"no status yet", live(-1), false, "Ready: 0/2"},
	}
	e := NewEngine(Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := e.EvalStatus("webservice", st, StatusInput{Output: tt.output, Outputs: outputs, Parameter: map[string]any{"port": "80"}})
			require.NoError(t, err)
			require.Equal(t, tt.wantHealthy, got.Healthy)
			require.Equal(t, tt.wantMessage, got.Message)
			require.Equal(t, map[string]string{"replicas": "2", "service": "web-svc", "port": "80"}, got.Details)
		})
	}
	require.Equal(t, 3, e.Stats().Compiles, "each snippet is compiled once")
}

func TestEvalStatusWithoutPolicyIsHealthy(t *testing.T) {
	got, err := NewEngine(Options{}).EvalStatus("x", StatusTemplates{}, StatusInput{})
	require.NoError(t, err)
	require.True(t, got.Healthy)
}

func TestEvalStatusUndecidedPolicyIsUnhealthy(t *testing.T) {
	got, err := NewEngine(Options{}).EvalStatus("x", StatusTemplates{HealthPolicy: `isHealth: context.output.status.ready == true`}, StatusInput{Output: map[string]any{}})
	require.NoError(t, err)
	require.False(t, got.Healthy)
}

func TestEvalStatusBrokenPolicyIsATemplateError(t *testing.T) {
	_, err := NewEngine(Options{}).EvalStatus("x", StatusTemplates{HealthPolicy: `isHealth: (`}, StatusInput{})
	var terr *TemplateError
	require.ErrorAs(t, err, &terr)
}

func TestParameters(t *testing.T) {
	e := NewEngine(Options{})
	tmpl, err := e.Compile(Source{Name: "webservice", Filename: "webservice.cue", Text: deploymentTemplate})
	require.NoError(t, err)
	got := map[string]Parameter{}
	for _, p := range tmpl.Parameters() {
		got[p.Name] = p
	}
	require.Equal(t, Parameter{Name: "image", Type: "string", Required: true, Description: "Container image"}, got["image"])
	require.Equal(t, Parameter{Name: "replicas", Type: "int", Default: "1", Description: "Number of pods"}, got["replicas"])
	require.Equal(t, Parameter{Name: "protocol", Type: `"TCP" | "UDP"`, Default: `"TCP"`}, got["protocol"])
	require.Equal(t, Parameter{Name: "cmd", Type: "[...string]"}, got["cmd"])
	require.Equal(t, Parameter{Name: "env", Type: "map[string]string"}, got["env"])
	require.Equal(t, Parameter{Name: "ports[].port", Type: "int", Required: true}, got["ports[].port"])
}
