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
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/controller"
	"github.com/ferryhq/ferry/pkg/testenv"
)

const cliApp = `apiVersion: core.oam.dev/v1beta1
kind: Application
metadata:
  name: hello
spec:
  components:
    - name: hello
      type: webservice
      properties:
        image: nginx:1.27
        ports: [{port: 80, expose: true}]
  workflow:
    steps:
      - {name: ship, type: deploy}
      - {name: approve, type: suspend}
`

// TestClusterCommands drives the CLI against a real API server with the controller running:
// install, up --wait, status, ls, live-diff, workflow resume, delete --wait, and bad input that
// is refused before anything is sent.
func TestClusterCommands(t *testing.T) {
	h := startCLIHub(t, false)
	cfg, dir, k := h.cfg, h.dir, h.k

	code, out, errOut := run(t, "", append([]string{"install", "--no-controller"}, k...)...)
	require.Equal(t, exitOK, code, errOut)
	require.Contains(t, out, "Installed 7 CRDs and")
	// Without admission nobody's identity is recorded: the controller must run single-tenant.
	require.Contains(t, out, "Run the controller with: ferry-controller --kubeconfig FILE --impersonate=false")
	require.Contains(t, out, "Tenancy: single-tenant.")

	mgr, _, err := controller.NewManager(cfg, controller.ManagerOptions{})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	defer func() { cancel(); require.NoError(t, <-done) }()
	c := mgr.GetAPIReader()
	writer, err := client.New(cfg, client.Options{Scheme: mgr.GetScheme()})
	require.NoError(t, err)
	go testenv.PlayKubelet(ctx, writer, 50*time.Millisecond)

	// Bad input is refused with its place, and nothing is applied.
	bad := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte(strings.Replace(cliApp, "type: webservice", "type: websrvice", 1)), 0o644))
	code, _, errOut = run(t, "", append([]string{"up", "-f", bad}, k...)...)
	require.Equal(t, exitUserError, code)
	require.Contains(t, errOut, "bad.yaml:8:13")
	require.Contains(t, errOut, `unknown component type "websrvice" (did you mean "webservice"?)`)
	err = c.Get(ctx, client.ObjectKey{Namespace: "default", Name: "hello"}, &v1beta1.Application{})
	require.True(t, apierrors.IsNotFound(err), "nothing was applied")

	file := filepath.Join(dir, "app.yaml")
	require.NoError(t, os.WriteFile(file, []byte(cliApp), 0o644))
	code, out, errOut = run(t, "", append([]string{"live-diff", "-f", file}, k...)...)
	require.Equal(t, exitOK, code, errOut)
	require.Contains(t, out, "+ create Deployment default/hello")
	require.Contains(t, out, "+ create Service default/hello")

	code, out, errOut = run(t, "", append([]string{"up", "-f", file, "--wait", "--timeout", "60s"}, k...)...)
	require.Equal(t, exitOK, code, errOut)
	require.Contains(t, out, "application default/hello applied")
	require.Contains(t, out, "step ship (deploy): succeeded")
	require.Contains(t, out, "component hello on local/default: healthy")
	require.Contains(t, out, "waiting for approval: ferry workflow resume hello -n default")

	code, out, errOut = run(t, "", append([]string{"workflow", "resume", "hello"}, k...)...)
	require.Equal(t, exitOK, code, errOut)
	require.Contains(t, out, "application default/hello: workflow resumed by admin", "the resume names who approved (SelfSubjectReview)")
	require.Eventually(t, func() bool {
		app := &v1beta1.Application{}
		return c.Get(ctx, client.ObjectKey{Namespace: "default", Name: "hello"}, app) == nil && app.Status.Phase == v1beta1.ApplicationRunning
	}, 30*time.Second, 100*time.Millisecond)
	code, out, errOut = run(t, "", append([]string{"status", "hello"}, k...)...)
	require.Equal(t, exitOK, code, errOut)
	require.Regexp(t, `step approve \(suspend\): succeeded.* \[approved by admin at \d{4}-\d\d-\d\dT`, out)

	code, out, errOut = run(t, "", append([]string{"status", "hello", "--tree"}, k...)...)
	require.Equal(t, exitOK, code, errOut)
	for _, want := range []string{"phase:    running", "revision: hello-v1", "step approve (suspend): succeeded", "hello on local/default: healthy",
		"cluster local", "Deployment default/hello  hello  exists", "Service default/hello  hello  exists"} {
		require.Contains(t, out, want)
	}
	code, out, errOut = run(t, "", append([]string{"status", "hello", "-o", "json"}, k...)...)
	require.Equal(t, exitOK, code, errOut)
	require.Contains(t, out, `"phase": "running"`)

	code, out, errOut = run(t, "", append([]string{"ls"}, k...)...)
	require.Equal(t, exitOK, code, errOut)
	require.Regexp(t, `default\s+hello\s+1\s+running\s+1/1\s+hello-v1`, out)
	require.NotContains(t, out, "SHARD", "no shard column without sharding")
	// With a sharded controller every app has a shard; ls shows it.
	sharded := &v1beta1.Application{}
	require.NoError(t, c.Get(ctx, client.ObjectKey{Namespace: "default", Name: "hello"}, sharded))
	patch := client.MergeFrom(sharded.DeepCopy())
	sharded.Labels = map[string]string{v1beta1.LabelShardID: "shard-2"}
	require.NoError(t, writer.Patch(ctx, sharded, patch))
	code, out, errOut = run(t, "", append([]string{"ls"}, k...)...)
	require.Equal(t, exitOK, code, errOut)
	require.Regexp(t, `AGE\s+SHARD\n`, out)
	require.Regexp(t, `default\s+hello\s+1\s+running\s+1/1\s+hello-v1\s+\S+\s+shard-2\n`, out)

	code, out, errOut = run(t, "", append([]string{"live-diff", "-f", file}, k...)...)
	require.Equal(t, exitOK, code, errOut)
	require.Contains(t, out, "no changes")
	changed := filepath.Join(dir, "changed.yaml")
	require.NoError(t, os.WriteFile(changed, []byte(strings.Replace(cliApp, "nginx:1.27", "nginx:1.28", 1)), 0o644))
	code, out, errOut = run(t, "", append([]string{"live-diff", "-f", changed}, k...)...)
	require.Equal(t, exitOK, code, errOut)
	require.Contains(t, out, "-      - image: nginx:1.27")
	require.Contains(t, out, "+      - image: nginx:1.28")

	code, out, errOut = run(t, "", append([]string{"delete", "hello", "--wait", "--timeout", "60s"}, k...)...)
	require.Equal(t, exitOK, code, errOut)
	require.Contains(t, out, "what it owned are gone")
	err = c.Get(ctx, client.ObjectKey{Namespace: "default", Name: "hello"}, &appsv1.Deployment{})
	require.True(t, apierrors.IsNotFound(err))

	code, out, errOut = run(t, "", append([]string{"uninstall"}, k...)...)
	require.Equal(t, exitOK, code, errOut)
	require.Contains(t, out, "Uninstalled Ferry.")
}
