package controller_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	ferryscheme "github.com/ferryhq/ferry/api/scheme"
	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/controller"
	"github.com/ferryhq/ferry/pkg/install"
	"github.com/ferryhq/ferry/pkg/testenv"
	"github.com/ferryhq/ferry/pkg/workflow/appworkflow"
)

// TestApprovalsRecordWhoAndCheckApprovers: with admission on, as `ferry install` sets it up, a
// suspend step with approvers may be resumed only by them; a resume that names someone else
// than the requester, or a step moved on by hand without a resume, is refused; an approval
// records who approved in the step's status (kept as the workflow runs on) and in an event.
func TestApprovalsRecordWhoAndCheckApprovers(t *testing.T) {
	env := testenv.StartEnvtestEnv(t)
	c, err := ferryscheme.NewClient(env.Config)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	port := testenv.FreePortForTest(t)
	objs, err := install.Objects(install.Options{WebhookURL: fmt.Sprintf("https://127.0.0.1:%d", port)})
	require.NoError(t, err)
	require.NoError(t, install.Apply(ctx, c, objs))
	done := make(chan error, 1)
	go func() {
		done <- controller.Run(ctx, env.Config, controller.ManagerOptions{
			Webhook: controller.WebhookOptions{Host: "127.0.0.1", Port: port, CertDir: t.TempDir(), ManageCert: true}})
	}()
	defer func() { cancel(); require.NoError(t, <-done) }()

	// Operators may drive workflows; release managers are operators too.
	require.NoError(t, c.Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "app-operator"}, Rules: []rbacv1.PolicyRule{
		{APIGroups: []string{v1beta1.GroupVersion.Group}, Resources: []string{"applications", "applications/status"},
			Verbs: []string{"get", "list", "watch", "update", "patch"}}}}))
	require.NoError(t, c.Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "app-operator"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "app-operator"},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: "operators"}}}))
	userClient := func(name string, groups ...string) client.Client {
		u, err := env.AddUser(envtest.User{Name: name, Groups: groups}, nil)
		require.NoError(t, err)
		uc, err := ferryscheme.NewClient(rest.CopyConfig(u.Config()))
		require.NoError(t, err)
		return uc
	}
	dev := userClient("dev", "operators")
	rm := userClient("rm", "operators", "release-managers")

	app := &v1beta1.Application{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "release"}, Spec: v1beta1.ApplicationSpec{
		Components: []v1beta1.ApplicationComponent{{Name: "cfg", Type: "k8s-objects", Properties: &runtime.RawExtension{
			Raw: []byte(`{"objects": [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "release-cfg"}, "data": {"v": "1"}}]}`)}}},
		Workflow: &v1beta1.Workflow{Steps: []v1beta1.WorkflowStep{
			{WorkflowStepBase: v1beta1.WorkflowStepBase{Name: "approve", Type: "suspend",
				Properties: &runtime.RawExtension{Raw: []byte(`{"approvers": {"groups": ["release-managers"]}}`)}}},
			{WorkflowStepBase: v1beta1.WorkflowStepBase{Name: "deploy", Type: "deploy"}}}}}}
	require.Eventually(t, func() bool { return c.Create(ctx, app.DeepCopy()) == nil }, 60*time.Second, 300*time.Millisecond,
		"the admission webhook answers")
	key := client.ObjectKeyFromObject(app)
	waitPhase := func(phase v1beta1.ApplicationPhase) *v1beta1.Application {
		t.Helper()
		got := &v1beta1.Application{}
		require.Eventually(t, func() bool { return c.Get(ctx, key, got) == nil && got.Status.Phase == phase }, 60*time.Second, 100*time.Millisecond,
			"phase %s", phase)
		return got
	}
	waitPhase(v1beta1.ApplicationWorkflowSuspending)

	// Not an approver.
	err = appworkflow.Control(ctx, dev, key, appworkflow.CommandResume, "approve", "dev", time.Now())
	require.ErrorContains(t, err, `step approve may be approved only by members of release-managers; "dev" is not one of them`)
	// Naming someone else.
	err = appworkflow.Control(ctx, dev, key, appworkflow.CommandResume, "approve", "rm", time.Now())
	require.ErrorContains(t, err, `step approve: resumedBy says "rm", but "dev" is resuming it`)
	// Moving the step on by hand, without a resume.
	cur := &v1beta1.Application{}
	require.NoError(t, dev.Get(ctx, key, cur))
	patched := cur.DeepCopy()
	patched.Status.Workflow.Steps[0].Phase = "succeeded"
	err = dev.Status().Patch(ctx, patched, client.MergeFrom(cur))
	require.ErrorContains(t, err, "step approve needs an approval by members of release-managers")
	waitPhase(v1beta1.ApplicationWorkflowSuspending)

	// A release manager approves; the record survives the workflow running on.
	who, err := appworkflow.WhoAmI(ctx, rm)
	require.NoError(t, err)
	require.Equal(t, "rm", who)
	require.NoError(t, appworkflow.Control(ctx, rm, key, appworkflow.CommandResume, "approve", who, time.Now()))
	done2 := waitPhase(v1beta1.ApplicationRunning)
	require.Equal(t, "rm", done2.Status.Workflow.Steps[0].ResumedBy)
	require.NotNil(t, done2.Status.Workflow.Steps[0].ResumedTime)
	var events corev1.EventList
	require.Eventually(t, func() bool {
		require.NoError(t, c.List(ctx, &events, client.InNamespace("default")))
		for _, e := range events.Items {
			if e.InvolvedObject.Name == "release" && e.Reason == v1beta1.ReasonApproved && e.Message == "step approve resumed by rm" {
				return true
			}
		}
		return false
	}, 30*time.Second, 200*time.Millisecond, "an Approved event names who approved")
}
