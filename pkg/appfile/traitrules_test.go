package appfile

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestResourceOf(t *testing.T) {
	tests := map[string]map[string]any{
		"deployments.apps":                  {"apiVersion": "apps/v1", "kind": "Deployment"},
		"ingresses.networking.k8s.io":       {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress"},
		"configmaps":                        {"apiVersion": "v1", "kind": "ConfigMap"},
		"networkpolicies.networking.k8s.io": {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy"},
		"cronjobs.batch":                    {"apiVersion": "batch/v1", "kind": "CronJob"},
		"":                                  {"apiVersion": "v1"},
	}
	for want, obj := range tests {
		require.Equal(t, want, resourceOf(obj))
	}
}
