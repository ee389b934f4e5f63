package suggest

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestClosest(t *testing.T) {
	candidates := []string{"webservice", "worker", "task", "k8s-objects"}
	tests := []struct {
		name, want string
	}{
		{"webservise", "webservice"},
		{"WebService", "webservice"},
		{"worker", "worker"},
		{"taks", "task"},
		{"database", ""},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, Closest(tt.name, candidates))
		})
	}
	require.Equal(t, ` (did you mean "worker"?)`, Hint("workr", candidates))
	require.Empty(t, Hint("zzz", nil))
}
