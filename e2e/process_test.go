package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ferryscheme "github.com/ferryhq/ferry/api/scheme"
	"github.com/ferryhq/ferry/pkg/install"
	"github.com/ferryhq/ferry/pkg/testenv"
)

// processHub is a hub with Ferry installed and the Deployment controller played, for tests that
// run ferry-controller as its own process, and that process's binary.
type processHub struct {
	env *testenv.Env
	hub client.Client
	ctx context.Context
	bin string
}

func startProcessHub(t *testing.T) processHub {
	t.Helper()
	env := testenv.StartForTest(t)
	hub, err := ferryscheme.NewClient(env.Hub.Config)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	objs, err := install.Objects(install.Options{})
	require.NoError(t, err)
	require.NoError(t, install.Apply(ctx, hub, objs))
	go testenv.PlayKubelet(ctx, hub, 200*time.Millisecond)
	return processHub{env: env, hub: hub, ctx: ctx, bin: buildController(t)}
}

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
// logging to a file in the test's temporary directory. The hub has no admission webhook
// (startProcessHub installs as `ferry install --no-controller` does), so nobody's identity is
// recorded: the controller runs single-tenant, as that command tells users to run it.
func startController(t *testing.T, bin, kubeconfig string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"--kubeconfig", kubeconfig, "--metrics-bind-address", "0",
		"--health-probe-bind-address", "0", "--impersonate=false"}, args...)...)
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
