package main

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestCLIDoesNotLinkTheController: the CLI plans and applies through the same packages as the
// controller, but links none of the controller's serving machinery.
func TestCLIDoesNotLinkTheController(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	require.NoError(t, err, string(out))
	deps := strings.Fields(string(out))
	require.NotEmpty(t, deps)
	forbidden := []string{
		"github.com/ferryhq/ferry/pkg/controller",
		"sigs.k8s.io/controller-runtime/pkg/manager",
		"sigs.k8s.io/controller-runtime/pkg/webhook",
		"sigs.k8s.io/controller-runtime/pkg/metrics/server",
		"net/http/pprof",
		"github.com/prometheus/client_golang/prometheus",
	}
	for _, dep := range deps {
		for _, f := range forbidden {
			require.False(t, dep == f || strings.HasPrefix(dep, f+"/"), "ferry links %s", dep)
		}
	}
}
