package definition

import (
	"testing"

	"github.com/stretchr/testify/require"

	ferrycue "github.com/ferryhq/ferry/pkg/cue"
)

// TestBuiltinHealthPolicies evaluates the status blocks of the built-in components against
// live objects as the controller will see them.
func TestBuiltinHealthPolicies(t *testing.T) {
	deployment := func(replicas, ready, updated, generation, observed int64) map[string]any {
		return map[string]any{
			"kind":     "Deployment",
			"metadata": map[string]any{"name": "web", "generation": generation},
			"spec":     map[string]any{"replicas": replicas},
			"status":   map[string]any{"readyReplicas": ready, "updatedReplicas": updated, "observedGeneration": observed},
		}
	}
	tests := []struct {
		name        string
		definition  string
		output      map[string]any
		params      map[string]any
		wantHealthy bool
		wantMessage string
	}{
		{"webservice ready", "webservice", deployment(3, 3, 3, 2, 2), nil, true, "Ready: 3/3"},
		{"webservice rolling out", "webservice", deployment(3, 3, 1, 2, 2), nil, false, "Ready: 3/3"},
		{"webservice not observed yet", "webservice", deployment(3, 3, 3, 3, 2), nil, false, "Ready: 3/3"},
		{"webservice without status", "webservice", map[string]any{"spec": map[string]any{"replicas": int64(2)}}, nil, false, "Ready: 0/2"},
		{"worker ready", "worker", deployment(2, 2, 2, 1, 1), nil, true, "Ready: 2/2"},
		{"worker starting", "worker", deployment(2, 0, 0, 1, 1), nil, false, "Ready: 0/2"},
		{"task done", "task", map[string]any{"status": map[string]any{"succeeded": int64(2)}}, map[string]any{"count": int64(2)}, true, "Succeeded: 2/2, failed: 0"},
		{"task failing", "task", map[string]any{"status": map[string]any{"succeeded": int64(1), "failed": int64(3)}}, map[string]any{"count": int64(2)}, false, "Succeeded: 1/2, failed: 3"},
		{"k8s-objects present", "k8s-objects", map[string]any{"kind": "ConfigMap", "metadata": map[string]any{"name": "cm", "uid": "1"}}, nil, true, "ConfigMap cm exists"},
		{"k8s-objects not ready", "k8s-objects", map[string]any{"kind": "Certificate", "metadata": map[string]any{"name": "c", "uid": "1"},
			"status": map[string]any{"conditions": []any{map[string]any{"type": "Ready", "status": "False"}}}}, nil, false, "Certificate c exists"},
		{"k8s-objects missing", "k8s-objects", map[string]any{"kind": "ConfigMap", "metadata": map[string]any{"name": "cm"}}, nil, false, "ConfigMap cm is not there yet"},
	}
	reg, err := Builtin()
	require.NoError(t, err)
	engine := ferrycue.NewEngine(ferrycue.Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			def, err := reg.Get(KindComponent, tt.definition)
			require.NoError(t, err)
			require.NotEmpty(t, def.Status.HealthPolicy)
			require.NotEmpty(t, def.Status.CustomStatus)
			got, err := engine.EvalStatus(def.DisplayName(), def.Status, ferrycue.StatusInput{Output: tt.output, Parameter: tt.params})
			require.NoError(t, err)
			require.Equal(t, tt.wantHealthy, got.Healthy)
			require.Equal(t, tt.wantMessage, got.Message)
		})
	}
}

func TestEveryBuiltinComponentHasHealth(t *testing.T) {
	reg, err := Builtin()
	require.NoError(t, err)
	for _, d := range reg.List(KindComponent) {
		require.NotEmpty(t, d.Status.HealthPolicy, d.Name)
		require.NotEmpty(t, d.Status.CustomStatus, d.Name)
	}
}
