package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/controller"
	"github.com/ferryhq/ferry/pkg/testenv"
)

const rollbackApp = `apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: {name: roll, namespace: default}
spec:
  components:
    - {name: roll, type: worker, properties: {image: "roll:1"}}
`

// TestWorkflowRollback: `ferry workflow rollback` sets the spec back to the previous revision,
// which is delivered as a new revision; with no earlier revision it says so.
func TestWorkflowRollback(t *testing.T) {
	h := startCLIHub(t, false)
	dir, k, c, ctx := h.dir, h.k, h.c, t.Context()
	code, _, errOut := h.ferry(t, "install", "--no-controller")
	require.Equal(t, exitOK, code, errOut)
	h.startController(t, controller.ManagerOptions{})
	go testenv.PlayKubelet(ctx, c, 100*time.Millisecond)

	deliver := func(image string) {
		file := filepath.Join(dir, image+".yaml")
		require.NoError(t, os.WriteFile(file, []byte(strings.Replace(rollbackApp, "roll:1", image, 1)), 0o644))
		code, out, errOut := run(t, "", append([]string{"up", "-f", file, "--wait", "--timeout", "30s"}, k...)...)
		require.Equal(t, exitOK, code, errOut)
		require.Contains(t, out, "is running")
		require.Equal(t, image, imageOf(ctx, c))
	}
	deliver("roll:1")
	code, _, errOut = run(t, "", append([]string{"workflow", "rollback", "roll"}, k...)...)
	require.Equal(t, exitUserError, code)
	require.Contains(t, errOut, "no earlier revision of default/roll is kept")

	deliver("roll:2")
	code, out, errOut := run(t, "", append([]string{"workflow", "rollback", "roll"}, k...)...)
	require.Equal(t, exitOK, code, errOut)
	require.Equal(t, "application default/roll: spec set back to revision roll-v1; its workflow runs as a new revision\n", out)
	require.Eventually(t, func() bool { return imageOf(ctx, c) == "roll:1" }, 30*time.Second, 200*time.Millisecond,
		"the earlier image is delivered again")
	app := &v1beta1.Application{}
	require.Eventually(t, func() bool {
		return c.Get(ctx, client.ObjectKey{Namespace: "default", Name: "roll"}, app) == nil &&
			app.Status.LatestRevision != nil && app.Status.LatestRevision.Revision == 3
	}, 30*time.Second, 200*time.Millisecond, "the rollback is a new revision")
}

func imageOf(ctx context.Context, c client.Client) string {
	d := &appsv1.Deployment{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: "default", Name: "roll"}, d); err != nil {
		return ""
	}
	return d.Spec.Template.Spec.Containers[0].Image
}
