package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clusterv1 "open-cluster-management.io/api/cluster/v1"
	"sigs.k8s.io/yaml"

	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/controller"
	"github.com/ferryhq/ferry/pkg/testenv"
)

// badApps are Applications the API schema accepts and Ferry must refuse: each is written below
// a common header, the components come first.
var badApps = []struct {
	name string
	spec string
	want string // a part of the one problem every entry point reports
}{
	{"unknown component type", `
  components:
    - {name: web, type: websrvice, properties: {image: nginx}}`, `unknown component type "websrvice" (did you mean "webservice"?)`},
	{"unknown trait type", `
  components:
    - name: web
      type: webservice
      properties: {image: nginx}
      traits: [{type: scalr, properties: {replicas: 2}}]`, `unknown trait type "scalr" (did you mean "scaler"?)`},
	{"wrong parameter type", `
  components:
    - {name: web, type: webservice, properties: {image: nginx, ports: [{port: "eighty"}]}}`, `parameter ports[0].port`},
	{"missing parameter", `
  components:
    - {name: web, type: webservice, properties: {cpu: "1"}}`, `parameter image`},
	{"trait parameter", `
  components:
    - name: web
      type: webservice
      properties: {image: nginx}
      traits: [{type: scaler, properties: {replicas: many}}]`, `parameter replicas`},
	{"deploy step with a policy of another type", `
  components:
    - {name: web, type: webservice, properties: {image: nginx}}
  policies:
    - {name: gc, type: garbage-collect, properties: {keepLegacyResource: true}}
  workflow:
    steps:
      - {name: ship, type: deploy, properties: {policies: [gc]}}`, `a deploy step takes topology, override and replication policies`},
	{"unknown dependency", `
  components:
    - {name: web, type: webservice, properties: {image: nginx}, dependsOn: [db]}`, `dependsOn names unknown component "db"`},
	{"unknown policy type", `
  components:
    - {name: web, type: webservice, properties: {image: nginx}}
  policies:
    - {name: p, type: topolgy, properties: {clusters: [staging]}}`, `unknown policy type "topolgy"`},
	{"unknown cluster", `
  components:
    - {name: web, type: webservice, properties: {image: nginx}}
  policies:
    - {name: there, type: topology, properties: {clusters: [staging, nowhere]}}`, `cluster "nowhere" does not exist`},
	{"selector matches nothing", `
  components:
    - {name: web, type: webservice, properties: {image: nginx}}
  policies:
    - {name: there, type: topology, properties: {clusterLabelSelector: {env: qa}}}`, `no cluster matches clusterLabelSelector {env=qa}`},
	{"override of an unknown component", `
  components:
    - {name: web, type: webservice, properties: {image: nginx}}
  policies:
    - {name: big, type: override, properties: {components: [{name: api, properties: {cpu: "2"}}]}}`, `"api"`},
	{"deploy step with a missing policy", `
  components:
    - {name: web, type: webservice, properties: {image: nginx}}
  workflow:
    steps:
      - {name: ship, type: deploy, properties: {policies: [prod]}}`, `policy "prod" does not exist in spec.policies`},
	{"dependsOn cycle", `
  components:
    - {name: web, type: webservice, properties: {image: nginx}}
  workflow:
    mode: {steps: DAG}
    steps:
      - {name: a, type: deploy, dependsOn: [b]}
      - {name: b, type: suspend, dependsOn: [a]}`, `dependsOn forms a cycle`},
	{"dependsOn unknown step", `
  components:
    - {name: web, type: webservice, properties: {image: nginx}}
  workflow:
    steps:
      - {name: a, type: deploy, dependsOn: [build]}`, `dependsOn names unknown step "build"`},
	{"workflow ref", `
  components:
    - {name: web, type: webservice, properties: {image: nginx}}
  workflow:
    ref: release`, `referencing a Workflow object ("release") is not supported`},
	{"duplicate step", `
  components:
    - {name: web, type: webservice, properties: {image: nginx}}
  workflow:
    steps:
      - {name: a, type: deploy}
      - {name: a, type: suspend}`, `duplicate step name`},
	{"unknown step type", `
  components:
    - {name: web, type: webservice, properties: {image: nginx}}
  workflow:
    steps:
      - {name: tell, type: notifcation}`, `unknown workflow-step type "notifcation" (did you mean "notification"?)`},
	{"sub-steps outside a group", `
  components:
    - {name: web, type: webservice, properties: {image: nginx}}
  workflow:
    steps:
      - name: a
        type: deploy
        subSteps: [{name: b, type: suspend}]`, `only a step-group has subSteps`},
	{"if: bomb", `
  components:
    - {name: web, type: webservice, properties: {image: nginx}}
  workflow:
    steps:
      - name: ship
        type: deploy
        if: 'len([for a in [1,2,3,4,5,6,7,8,9] for b in [1,2,3,4,5,6,7,8,9] for c in [1,2,3,4,5,6,7,8,9] for d in [1,2,3,4,5,6,7,8,9] {a}]) > 0'`,
		`if: the expression exceeds its evaluation budget: 4 comprehension clauses`},
	{"a template that does not finish", `
  components:
    - {name: loop, type: runaway, properties: {size: 8}}`, `component "runaway": evaluation exceeded its time budget (5s)`},
	{"step parameter", `
  components:
    - {name: web, type: webservice, properties: {image: nginx}}
  workflow:
    steps:
      - {name: wait, type: suspend, properties: {duration: 5}}`, `parameter duration`},
}

// badAppDefinitions are namespace-local ComponentDefinitions bad apps use, by the app's name in
// badApps: created in the cluster and given to dry-run with -d.
func badAppDefinitions(t *testing.T) map[string]string {
	// runaway.cue takes size^8 steps of nested comprehensions: for size 8 (see badApps), about
	// 40 s here, far past the 5 s budget. The CLI evaluates in its own process and exits after
	// the budget error, which ends the evaluation; these tests run the CLI inside the test
	// binary, where it goes on until it finishes, so the size is one that does finish.
	runaway, err := os.ReadFile("../../pkg/cue/testdata/runaway.cue")
	require.NoError(t, err)
	return map[string]string{"a template that does not finish": `
apiVersion: core.oam.dev/v1beta1
kind: ComponentDefinition
metadata: {name: runaway, namespace: default}
spec:
  schematic:
    cue:
      template: |
        ` + strings.ReplaceAll(strings.TrimSpace(string(runaway)), "\n", "\n        ") + "\n"}
}

// location is where a problem line starts: file:line:column (or the file) from the CLI, the
// field path from admission, which has no file.
var location = regexp.MustCompile(`(application "[^"]*": |\n  )(\S+\.yaml(:\d+:\d+)?|(spec|metadata)[\w.\[\]]*): `)

// TestSameProblemsFromDryRunUpAndAdmission installs Ferry as a user would with the controller
// outside the cluster and admission on (`ferry install --no-controller --webhook-url`, then the
// controller's own start-up), and checks that `ferry dry-run`, `ferry up` and the admission
// webhook refuse each bad Application with the same problems, in the same words; the CLI says
// file:line:column where admission says the field path. A multi-cluster app is admitted.
func TestSameProblemsFromDryRunUpAndAdmission(t *testing.T) {
	h := startCLIHub(t, true)
	cfg, dir, k, c := h.cfg, h.dir, h.k, h.c
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// Two managed clusters, as --clusters gives them offline.
	clusters := map[string]map[string]string{"staging": {"env": "staging"}, "prod": {"env": "prod"}}
	var clusterList []map[string]any
	for name, labels := range clusters {
		require.NoError(t, c.Create(ctx, &clusterv1.ManagedCluster{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
			Spec: clusterv1.ManagedClusterSpec{HubAcceptsClient: true}}))
		clusterList = append(clusterList, map[string]any{"name": name, "labels": labels})
	}
	clustersFile := filepath.Join(dir, "clusters.yaml")
	data, err := yaml.Marshal(clusterList)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(clustersFile, data, 0o644))

	port := testenv.FreePortForTest(t)
	code, out, errOut := run(t, "", append([]string{"install", "--no-controller", "--webhook-url", fmt.Sprintf("https://127.0.0.1:%d", port)}, k...)...)
	require.Equal(t, exitOK, code, errOut)
	require.Contains(t, out, fmt.Sprintf("--webhook-host 127.0.0.1 --webhook-port %d\n", port))
	require.Contains(t, out, "Tenancy: impersonation on.")
	done := make(chan error, 1)
	go func() {
		done <- controller.Run(ctx, cfg, controller.ManagerOptions{
			Webhook: controller.WebhookOptions{Host: "127.0.0.1", Port: port, ManageCert: true}})
	}()
	defer func() { cancel(); require.NoError(t, <-done) }()

	// The multi-cluster example passes admission (the webhook sees the managed clusters).
	example, err := os.ReadFile("../../examples/multi-env/app.yaml")
	require.NoError(t, err)
	require.NoError(t, c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}))
	require.Eventually(t, func() bool {
		app := &v1beta1.Application{}
		require.NoError(t, yaml.Unmarshal(example, app))
		err := c.Create(ctx, app)
		if err != nil {
			t.Logf("waiting for the webhook: %v", err)
		}
		return err == nil
	}, 60*time.Second, 500*time.Millisecond, "the multi-cluster example is admitted")

	require.GreaterOrEqual(t, len(badApps), 15)
	definitions := badAppDefinitions(t)
	for i, tt := range badApps {
		t.Run(tt.name, func(t *testing.T) {
			name := fmt.Sprintf("bad-%d", i)
			doc := fmt.Sprintf("apiVersion: core.oam.dev/v1beta1\nkind: Application\nmetadata:\n  name: %s\n  namespace: default\nspec:%s\n", name, tt.spec)
			file := filepath.Join(dir, name+".yaml")
			require.NoError(t, os.WriteFile(file, []byte(doc), 0o644))

			dryRunArgs := []string{"dry-run", "-f", file, "--clusters", clustersFile}
			if definition := definitions[tt.name]; definition != "" {
				def := &v1beta1.ComponentDefinition{}
				require.NoError(t, yaml.UnmarshalStrict([]byte(definition), def))
				require.NoError(t, c.Create(ctx, def))
				defFile := filepath.Join(dir, name+"-definition.yaml")
				require.NoError(t, os.WriteFile(defFile, []byte(definition), 0o644))
				dryRunArgs = append(dryRunArgs, "-d", defFile)
			}
			code, _, dryRun := run(t, "", dryRunArgs...)
			require.Equal(t, exitUserError, code)
			code, _, up := run(t, "", append([]string{"up", "-f", file}, k...)...)
			require.Equal(t, exitUserError, code)
			require.Equal(t, dryRun, up, "ferry up reports what ferry dry-run reports, byte for byte")
			require.Contains(t, dryRun, tt.want)
			require.Contains(t, dryRun, file+":", "the CLI locates problems in the file")

			app := &v1beta1.Application{}
			require.NoError(t, yaml.Unmarshal([]byte(doc), app))
			err := c.Create(ctx, app)
			require.Error(t, err, "admission refuses it")
			admission := strings.TrimPrefix(err.Error(), `admission webhook "applications.core.oam.dev" denied the request: `)
			require.NotEqual(t, err.Error(), admission, "refused by the webhook, not by the schema")
			require.Contains(t, admission, "spec.", "admission locates problems by field path")

			cli := strings.TrimSuffix(strings.TrimPrefix(dryRun, "Error: "), "\n")
			require.Equal(t, location.ReplaceAllString(cli, "$1"), location.ReplaceAllString(admission, "$1"),
				"the same problems in the same words")
		})
	}
}
