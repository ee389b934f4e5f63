package controller_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/controller"
	"github.com/ferryhq/ferry/pkg/install"
	"github.com/ferryhq/ferry/pkg/testenv"
)

// TestAdmissionRejectsAppsThatDoNotRender: the API server asks the controller's webhook, which
// refuses unknown types and invalid parameters with the messages of `ferry dry-run`, and lets
// good apps and deletions through.
func TestAdmissionRejectsAppsThatDoNotRender(t *testing.T) {
	cfg, wh := testenv.StartEnvtestWithWebhooks(t)
	scheme, err := controller.NewScheme()
	require.NoError(t, err)
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	require.NoError(t, err)
	ctx := context.Background()
	defs, err := install.Definitions(install.DefaultNamespace)
	require.NoError(t, err)
	objs, err := install.Objects(install.Options{})
	require.NoError(t, err)
	require.NoError(t, install.Apply(ctx, c, objs[:1])) // the namespace
	require.NoError(t, install.Apply(ctx, c, defs))

	mgr, _, err := controller.NewManager(cfg, controller.ManagerOptions{
		Webhook: controller.WebhookOptions{Host: wh.LocalServingHost, Port: wh.LocalServingPort, CertDir: wh.LocalServingCertDir}})
	require.NoError(t, err)
	mctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- mgr.Start(mctx) }()
	defer func() { cancel(); require.NoError(t, <-done) }()

	create := func(doc string) error {
		app := &v1beta1.Application{}
		require.NoError(t, yaml.Unmarshal([]byte(doc), app))
		app.Namespace = "default"
		return c.Create(ctx, app)
	}
	good := `
metadata: {name: good}
spec:
  components:
    - {name: web, type: webservice, properties: {image: nginx}}
`
	require.Eventually(t, func() bool { return create(good) == nil }, 30*time.Second, 200*time.Millisecond, "the webhook serves")

	tests := []struct {
		name string
		doc  string
		want []string
	}{
		{"unknown type", `
metadata: {name: typo}
spec:
  components:
    - {name: web, type: websrvice, properties: {image: nginx}}
`, []string{`application "typo" does not render`, `unknown component type "websrvice" (did you mean "webservice"?)`}},
		{"wrong parameter type", `
metadata: {name: badparam}
spec:
  components:
    - {name: web, type: webservice, properties: {image: nginx, cpu: 2, ports: [{port: "eighty"}]}}
`, []string{`component "web"`, "parameter ports[0].port"}},
		{"unknown trait", `
metadata: {name: badtrait}
spec:
  components:
    - name: web
      type: webservice
      properties: {image: nginx}
      traits: [{type: scalr, properties: {replicas: 2}}]
`, []string{`unknown trait type "scalr"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := create(tt.doc)
			require.Error(t, err)
			for _, w := range tt.want {
				require.Contains(t, err.Error(), w)
			}
		})
	}

	// Updates are checked too; deleting needs no valid spec.
	app := &v1beta1.Application{}
	require.NoError(t, c.Get(ctx, client.ObjectKey{Namespace: "default", Name: "good"}, app))
	app.Spec.Components[0].Type = "wrker"
	err = c.Update(ctx, app)
	require.Error(t, err)
	require.Contains(t, err.Error(), `did you mean "worker"?`)
	require.NoError(t, c.Get(ctx, client.ObjectKey{Namespace: "default", Name: "good"}, app))
	require.NoError(t, c.Delete(ctx, app))
}
