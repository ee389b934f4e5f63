package controller_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/controller"
)

// TestActAsTheAppsIdentity: with impersonation on, an app without a recorded identity is not
// delivered and says why; one recorded as a user applies with that user's rights exactly —
// refused while they have none, delivered once RBAC grants them.
func TestActAsTheAppsIdentity(t *testing.T) {
	h := startHub(t)
	h.startController(controller.Options{Impersonate: true})
	doc := func(name, user string) string {
		annotations := ""
		if user != "" {
			annotations = "\n  annotations: {app.oam.dev/username: " + user + ", app.oam.dev/group: dev}"
		}
		return `
apiVersion: core.oam.dev/v1beta1
kind: Application
metadata:
  name: ` + name + annotations + `
spec:
  components:
    - {name: ` + name + `, type: k8s-objects, properties: {objects: [{apiVersion: v1, kind: ConfigMap, metadata: {name: ` + name + `}, data: {a: "1"}}]}}
`
	}
	h.apply(doc("nobody", ""))
	app := h.waitApp("nobody", "no identity", func(a *v1beta1.Application) bool {
		c := apimeta.FindStatusCondition(a.Status.Conditions, v1beta1.ConditionRendered)
		return c != nil && c.Reason == controller.ReasonNoIdentity
	})
	require.Contains(t, apimeta.FindStatusCondition(app.Status.Conditions, v1beta1.ConditionRendered).Message, "app.oam.dev/username")
	require.False(t, h.exists(&corev1.ConfigMap{}, "default", "nobody"))

	h.apply(doc("bobs", "bob"))
	app = h.waitApp("bobs", "a refusal", func(a *v1beta1.Application) bool {
		return a.Status.Workflow != nil && len(a.Status.Workflow.Steps) > 0 && strings.Contains(a.Status.Workflow.Steps[0].Message, "forbidden")
	})
	require.Contains(t, app.Status.Workflow.Steps[0].Message, `the app acts as bob, who is not allowed to apply it`)
	require.Contains(t, app.Status.Workflow.Steps[0].Message, `User "bob" cannot`)
	require.False(t, h.exists(&corev1.ConfigMap{}, "default", "bobs"))

	// The group recorded counts: granting it to dev lets the app through.
	ctx := context.Background()
	require.NoError(t, h.c.Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "configmaps"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"*"}}}}))
	require.NoError(t, h.c.Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "dev-configmaps"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "configmaps"},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: "dev"}}}))
	h.apply(doc("bobs", "bob") + "  workflow: {steps: [{name: again, type: deploy}]}\n")
	h.waitApp("bobs", "running", phaseIs(v1beta1.ApplicationRunning))
	require.True(t, h.exists(&corev1.ConfigMap{}, "default", "bobs"))
}
