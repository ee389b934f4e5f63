package health

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/cue"
	"github.com/ferryhq/ferry/pkg/definition"
)

func TestEvaluate(t *testing.T) {
	reg, err := definition.Builtin()
	require.NoError(t, err)
	web, err := reg.Get(definition.KindComponent, "webservice")
	require.NoError(t, err)
	expose, err := reg.Get(definition.KindTrait, "expose")
	require.NoError(t, err)
	engine := cue.NewEngine(cue.Options{})

	deploy := func(ready int64) map[string]any {
		return map[string]any{"metadata": map[string]any{"generation": int64(1)}, "spec": map[string]any{"replicas": int64(2)},
			"status": map[string]any{"readyReplicas": ready, "updatedReplicas": ready, "observedGeneration": int64(1)}}
	}
	lb := func(ip string) map[string]any {
		svc := map[string]any{"spec": map[string]any{"type": "LoadBalancer"}}
		if ip != "" {
			svc["status"] = map[string]any{"loadBalancer": map[string]any{"ingress": []any{map[string]any{"ip": ip}}}}
		}
		return map[string]any{"service": svc}
	}
	tests := []struct {
		name     string
		workload map[string]any
		service  map[string]any
		want     v1beta1.ApplicationComponentStatus
	}{
		{"ready with an address", deploy(2), lb("10.0.0.7"), v1beta1.ApplicationComponentStatus{
			Name: "web", Cluster: "eu-1", Namespace: "shop", Healthy: true, Message: "Ready: 2/2",
			Traits: []v1beta1.ApplicationTraitStatus{{Type: "expose", Healthy: true, Message: "Address: 10.0.0.7"}}}},
		{"ready but no address yet", deploy(2), lb(""), v1beta1.ApplicationComponentStatus{
			Name: "web", Cluster: "eu-1", Namespace: "shop", Healthy: false, Message: "Ready: 2/2",
			Traits: []v1beta1.ApplicationTraitStatus{{Type: "expose", Healthy: false}}}},
		{"pods not ready", deploy(1), lb("10.0.0.7"), v1beta1.ApplicationComponentStatus{
			Name: "web", Cluster: "eu-1", Namespace: "shop", Healthy: false, Message: "Ready: 1/2",
			Traits: []v1beta1.ApplicationTraitStatus{{Type: "expose", Healthy: true, Message: "Address: 10.0.0.7"}}}},
		{"workload missing", nil, nil, v1beta1.ApplicationComponentStatus{
			Name: "web", Cluster: "eu-1", Namespace: "shop", Message: "the workload does not exist yet"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Evaluate(engine, Component{Name: "web", Cluster: "eu-1", Namespace: "shop", Definition: web,
				Workload: tt.workload, Traits: []Trait{{Definition: expose, Outputs: tt.service, Parameter: map[string]any{"port": []any{int64(80)}}}}})
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}
