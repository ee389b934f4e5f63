package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/ferryhq/ferry/api/v1beta1"
)

// TestNotificationSecretsStayHidden: notification URLs held in Secrets (a Slack webhook's
// token is its path) are used — the receiver gets the token — and appear nowhere else: not in
// any Application's status, event, ConfigMap (the workflow's context and ledger),
// ApplicationRevision, nor in the controller's log at its most verbose. One notification
// succeeds; the other's receiver is down, so its failure message is checked too. An email
// notification's SMTP password, from the same Secret, authenticates to a real SMTP server on
// loopback and stays as hidden.
func TestNotificationSecretsStayHidden(t *testing.T) {
	ph := startProcessHub(t)
	env, hub, ctx, bin := ph.env, ph.hub, ph.ctx, ph.bin

	const sent, failed = "T0KEN-SENT-5d1e", "T0KEN-FAILED-77a0"
	got := make(chan string, 4)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.URL.Path
		_, _ = w.Write([]byte("ok"))
	}))
	defer receiver.Close()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	down := closed.Addr().String()
	require.NoError(t, closed.Close())

	const mailPassword = "P4SS-MAIL-3c9b"
	mailPort, mails := mailServer(t, "ferry@example.com", mailPassword)

	require.NoError(t, hub.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "hooks", Namespace: "default"},
		StringData: map[string]string{
			"slack": receiver.URL + "/services/" + sent,
			"down":  "http://" + down + "/hooks/" + failed,
			"mail":  mailPassword,
		},
	}))
	ctl := startController(t, bin, env.Hub.Kubeconfig, "--http-allowed-hosts", "127.0.0.1", "--egress-allowed-networks", "127.0.0.1",
		"--zap-log-level=debug")
	defer killController(t, ctl)
	logFile := ctl.Stdout.(*os.File).Name()

	// One app per notification: each channel's properties, secrets all from Secret hooks.
	for name, channel := range map[string]string{
		"told":   `{message: shipped, slack: {url: {secretRef: {name: hooks, key: slack}}}}`,
		"untold": `{message: shipped, slack: {url: {secretRef: {name: hooks, key: down}}}}`,
		"mailed": fmt.Sprintf(`{email: {from: {address: ferry@example.com, host: 127.0.0.1, port: %d, password: {secretRef: {name: hooks, key: mail}}},
            to: [ops@example.com], content: {subject: shipped, body: mailed is live}}}`, mailPort),
	} {
		app := &v1beta1.Application{}
		require.NoError(t, yaml.Unmarshal([]byte(fmt.Sprintf(`
metadata: {name: %s, namespace: default}
spec:
  components:
    - {name: %s, type: worker, properties: {image: "notify:1"}}
  workflow:
    steps:
      - {name: ship, type: deploy}
      - {name: tell, type: notification, properties: %s}
`, name, name, channel)), app))
		require.NoError(t, hub.Create(ctx, app))
	}

	select {
	case m := <-mails:
		require.Equal(t, mailPassword, m.password, "the password from the Secret was used")
		require.Equal(t, []string{"ops@example.com"}, m.to)
		require.Contains(t, string(m.data), "mailed is live")
	case <-time.After(90 * time.Second):
		t.Fatal("the mail was not sent")
	}
	select {
	case path := <-got:
		require.Equal(t, "/services/"+sent, path, "the token from the Secret was used")
	case <-time.After(90 * time.Second):
		t.Fatal("the notification was not sent")
	}
	stepDone := func(name, phase string) func() bool {
		return func() bool {
			a := &v1beta1.Application{}
			if hub.Get(ctx, client.ObjectKey{Namespace: "default", Name: name}, a) != nil || a.Status.Workflow == nil || len(a.Status.Workflow.Steps) < 2 {
				return false
			}
			return a.Status.Workflow.Steps[1].Phase == phase
		}
	}
	require.Eventually(t, stepDone("told", "succeeded"), 60*time.Second, 200*time.Millisecond)
	require.Eventually(t, stepDone("mailed", "succeeded"), 60*time.Second, 200*time.Millisecond)
	require.Eventually(t, stepDone("untold", "failed"), 90*time.Second, 200*time.Millisecond)
	untold := &v1beta1.Application{}
	require.NoError(t, hub.Get(ctx, client.ObjectKey{Namespace: "default", Name: "untold"}, untold))
	require.Contains(t, untold.Status.Workflow.Steps[1].Message, "http://"+down+"/…", "the failure says where, without the token")

	// Let a resync or two pass, then look everywhere.
	time.Sleep(3 * time.Second)
	var apps v1beta1.ApplicationList
	require.NoError(t, hub.List(ctx, &apps))
	var revisions v1beta1.ApplicationRevisionList
	require.NoError(t, hub.List(ctx, &revisions))
	var events corev1.EventList
	require.NoError(t, hub.List(ctx, &events))
	var configMaps corev1.ConfigMapList
	require.NoError(t, hub.List(ctx, &configMaps))
	require.NotEmpty(t, events.Items)
	for what, obj := range map[string]any{"applications": apps, "revisions": revisions, "events": events, "configmaps": configMaps} {
		data, err := json.Marshal(obj)
		require.NoError(t, err)
		for _, token := range []string{sent, failed, mailPassword} {
			require.NotContains(t, string(data), token, "%s hold a token", what)
		}
	}
	log, err := os.ReadFile(logFile)
	require.NoError(t, err)
	require.Contains(t, string(log), "untold", "the log is verbose enough to mention the apps:\n%s", log)
	for _, token := range []string{sent, failed, mailPassword} {
		require.NotContains(t, string(log), token, "the controller log holds a token")
	}
}
