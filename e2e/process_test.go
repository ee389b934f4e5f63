package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// buildController builds ferry-controller for tests that run it as its own process, as users
// do, to kill it.
func buildController(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "ferry-controller")
	build := exec.Command("go", "build", "-o", bin, "github.com/ferryhq/ferry/cmd/ferry-controller")
	out, err := build.CombinedOutput()
	require.NoError(t, err, string(out))
	return bin
}

// startController starts a built ferry-controller against a hub, without metrics and probes,
// logging to a file in the test's temporary directory.
func startController(t *testing.T, bin, kubeconfig string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"--kubeconfig", kubeconfig, "--metrics-bind-address", "0",
		"--health-probe-bind-address", "0"}, args...)...)
	log, err := os.Create(filepath.Join(t.TempDir(), "controller.log"))
	require.NoError(t, err)
	cmd.Stdout, cmd.Stderr = log, log
	require.NoError(t, cmd.Start())
	return cmd
}

// killController kills a controller with SIGKILL, as a node failure or the OOM killer would.
func killController(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()
}
