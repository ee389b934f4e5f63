package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ferryhq/ferry/api/v1beta1"
)

const forbiddenApp = `
apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: {name: grabby, namespace: default}
spec:
  components:
    - name: grabby
      type: k8s-objects
      properties:
        objects:
          - apiVersion: rbac.authorization.k8s.io/v1
            kind: Role
            metadata: {name: grabby}
            rules: [{apiGroups: [""], resources: [secrets], verbs: [get]}]
`

const plainApp = `
apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: {name: plain, namespace: default}
spec:
  components:
    - name: plain
      type: k8s-objects
      properties:
        objects: [{apiVersion: v1, kind: ConfigMap, metadata: {name: plain}, data: {a: "1"}}]
`

// TestAKindTheWriterMayNotTouch: an app that renders a kind its writer's RBAC does not grant
// fails its step with a message that says so, keeps no worker busy (another app still
// converges), and can be deleted.
func TestAKindTheWriterMayNotTouch(t *testing.T) {
	f := startFleet(t)
	dev := f.tenant("dev", "default", "tenant")
	_, err := f.createAppAs(dev, forbiddenApp)
	require.NoError(t, err)
	app := f.waitApp("default", "grabby", "a clear failure", func(a *v1beta1.Application) bool {
		return a.Status.Workflow != nil && len(a.Status.Workflow.Steps) > 0 &&
			strings.Contains(a.Status.Workflow.Steps[0].Message, "forbidden")
	})
	require.Contains(t, app.Status.Workflow.Steps[0].Message, "Role default/grabby")
	require.Contains(t, app.Status.Workflow.Steps[0].Message, `the app acts as dev, who is not allowed to apply it`)

	_, err = f.createAppAs(dev, plainApp)
	require.NoError(t, err)
	f.waitApp("default", "plain", "running", phase(v1beta1.ApplicationRunning))

	ctx := context.Background()
	require.NoError(t, f.hub.Delete(ctx, app))
	require.Eventually(t, func() bool {
		return apierrors.IsNotFound(f.hub.Get(ctx, client.ObjectKeyFromObject(app), &v1beta1.Application{}))
	}, 60*time.Second, 200*time.Millisecond, "the app is deleted")
}
