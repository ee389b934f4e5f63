package dispatch

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestContains(t *testing.T) {
	live := map[string]any{
		"metadata": map[string]any{"name": "web", "labels": map[string]any{"a": "1", "added": "by-someone"}, "resourceVersion": "7"},
		"spec": map[string]any{"replicas": int64(2), "ports": []any{map[string]any{"port": int64(80), "protocol": "TCP"}},
			"ratio": 0.5},
	}
	tests := []struct {
		name    string
		desired map[string]any
		want    bool
	}{
		{"subset with server defaults", map[string]any{"metadata": map[string]any{"name": "web", "labels": map[string]any{"a": "1"}},
			"spec": map[string]any{"ports": []any{map[string]any{"port": 80}}}}, true},
		{"numbers by value", map[string]any{"spec": map[string]any{"replicas": json.Number("2"), "ratio": float32(0.5)}}, true},
		{"changed value", map[string]any{"spec": map[string]any{"replicas": int64(3)}}, false},
		{"missing field", map[string]any{"spec": map[string]any{"paused": true}}, false},
		{"empty values the server drops", map[string]any{"spec": map[string]any{"tolerations": []any{}, "extra": map[string]any{}}}, true},
		{"list length differs", map[string]any{"spec": map[string]any{"ports": []any{map[string]any{"port": 80}, map[string]any{"port": 81}}}}, false},
		{"type differs", map[string]any{"spec": map[string]any{"replicas": "2"}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, Contains(live, tt.desired))
		})
	}
}

func TestFieldPaths(t *testing.T) {
	obj := map[string]any{"spec": map[string]any{"replicas": int64(3)}}
	v, ok := lookup(obj, fieldPath("spec.replicas"))
	require.True(t, ok)
	require.Equal(t, int64(3), v)
	desired := map[string]any{"spec": map[string]any{"replicas": int64(1), "image": "x"}}
	setOrDelete(desired, fieldPath(".spec.replicas"), v, true)
	require.Equal(t, int64(3), desired["spec"].(map[string]any)["replicas"])
	setOrDelete(desired, fieldPath("spec.image"), nil, false)
	require.NotContains(t, desired["spec"], "image")
}
