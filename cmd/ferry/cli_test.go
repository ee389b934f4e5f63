package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/require"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ferryscheme "github.com/ferryhq/ferry/api/scheme"
	"github.com/ferryhq/ferry/pkg/controller"
	"github.com/ferryhq/ferry/pkg/definition"
	"github.com/ferryhq/ferry/pkg/testenv"
)

var updateGolden = os.Getenv("UPDATE_GOLDEN") != ""

// run executes the CLI in-process through its cobra commands.
func run(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = execute(t.Context(), args, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

func checkGolden(t *testing.T, golden, got string) {
	t.Helper()
	if updateGolden {
		require.NoError(t, os.MkdirAll(filepath.Dir(golden), 0o755))
		require.NoError(t, os.WriteFile(golden, []byte(got), 0o644))
		return
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err, "missing golden file; run UPDATE_GOLDEN=1 go test ./cmd/ferry")
	require.Equal(t, string(want), got, "output differs from %s; if intended, run UPDATE_GOLDEN=1 go test ./cmd/ferry", golden)
}

func TestDryRunExamples(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"hello", []string{"dry-run", "-f", "../../examples/hello/app.yaml"}},
		{"multi-env", []string{"dry-run", "-f", "../../examples/multi-env/app.yaml", "--clusters", "../../examples/multi-env/clusters.yaml"}},
		{"k8s-objects", []string{"dry-run", "-f", "../../examples/k8s-objects/app.yaml", "-o", "json"}},
		{"fleet", []string{"dry-run", "-f", "../../examples/fleet/app.yaml", "--clusters", "../../examples/fleet/clusters.yaml"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := run(t, "", tt.args...)
			require.Equal(t, exitOK, code, errOut)
			require.Empty(t, errOut)
			checkGolden(t, filepath.Join("testdata", "dry-run", tt.name+".golden"), out)
		})
	}
}

// TestDryRunJSONNothingRendered: an app whose workflow deploys nothing prints "items": [],
// not null, which tools reading the list would have to special-case.
func TestDryRunJSONNothingRendered(t *testing.T) {
	app := `apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: {name: nothing}
spec:
  components:
    - {name: a, type: webservice, properties: {image: nginx}}
  workflow:
    steps:
      - {name: wait, type: suspend}
`
	code, out, errOut := run(t, app, "dry-run", "-f", "-", "-o", "json")
	require.Equal(t, exitOK, code, errOut)
	require.JSONEq(t, `{"items": []}`, out)
}

func TestDryRunJSONShape(t *testing.T) {
	code, out, errOut := run(t, "", "dry-run", "-f", "../../examples/multi-env/app.yaml", "--clusters", "../../examples/multi-env/clusters.yaml", "-o", "json")
	require.Equal(t, exitOK, code, errOut)
	var doc struct {
		Items []map[string]json.RawMessage `json:"items"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &doc))
	require.NotEmpty(t, doc.Items)
	steps := map[string]bool{}
	for _, it := range doc.Items {
		require.ElementsMatch(t, []string{"step", "cluster", "namespace", "component", "trait", "object"}, keys(it))
		var step, cluster, ns string
		require.NoError(t, json.Unmarshal(it["step"], &step))
		require.NoError(t, json.Unmarshal(it["cluster"], &cluster))
		require.NoError(t, json.Unmarshal(it["namespace"], &ns))
		steps[step+"/"+cluster] = true
		require.Equal(t, "shop", ns)
		var obj struct {
			Metadata struct {
				Namespace string `json:"namespace"`
			} `json:"metadata"`
		}
		require.NoError(t, json.Unmarshal(it["object"], &obj))
		require.Equal(t, ns, obj.Metadata.Namespace, "every object carries its target namespace")
	}
	require.Equal(t, map[string]bool{"deploy-staging/staging": true, "deploy-prod/prod": true}, steps)
}

func TestDryRunReadsStdin(t *testing.T) {
	data, err := os.ReadFile("../../examples/hello/app.yaml")
	require.NoError(t, err)
	code, out, errOut := run(t, string(data), "dry-run", "-f", "-")
	require.Equal(t, exitOK, code, errOut)
	require.Contains(t, out, "# step: default, cluster: local, namespace: default, component: hello\n")
}

func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("apiVersion: core.oam.dev/v1beta1\nkind: Application\nmetadata:\n  name: bad\nspec:\n  components:\n    - name: web\n      type: websrvice\n"), 0o644))
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStderr string
	}{
		{"no file", []string{"dry-run"}, exitUsageError, "give at least one Application with -f"},
		{"unknown flag", []string{"dry-run", "--nope"}, exitUsageError, "unknown flag: --nope"},
		{"unknown command", []string{"deploy-everything"}, exitUsageError, `unknown command "deploy-everything"`},
		{"bad output format", []string{"dry-run", "-f", bad, "-o", "xml"}, exitUsageError, `unknown output format "xml"`},
		{"def show without name", []string{"def", "show"}, exitUsageError, "accepts 1 arg(s), received 0"},
		{"missing file", []string{"dry-run", "-f", filepath.Join(dir, "missing.yaml")}, exitUserError, "read application: open"},
		{"bad application", []string{"dry-run", "-f", bad}, exitUserError, `bad.yaml:8:13: component "web": unknown component type "websrvice" (did you mean "webservice"?)`},
		{"missing clusters file", []string{"dry-run", "-f", bad, "--clusters", filepath.Join(dir, "none.yaml")}, exitUserError, "read clusters"},
		{"unknown definition", []string{"def", "show", "webservise"}, exitUserError, `unknown definition type "webservise" (did you mean "webservice"?)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := run(t, "", tt.args...)
			require.Equal(t, tt.wantCode, code, "stderr: %s", errOut)
			require.Empty(t, out)
			require.Contains(t, errOut, tt.wantStderr)
		})
	}
}

func TestDefList(t *testing.T) {
	code, out, errOut := run(t, "", "def", "list")
	require.Equal(t, exitOK, code, errOut)
	checkGolden(t, filepath.Join("testdata", "def-list.golden"), out)

	reg, err := definition.Builtin()
	require.NoError(t, err)
	policies := len(reg.List(definition.KindPolicy))
	require.Greater(t, policies, 5)
	code, out, _ = run(t, "", "def", "list", "--type", "policy")
	require.Equal(t, exitOK, code)
	require.Equal(t, policies+1, strings.Count(out, "\n"), "header and %d policies:\n%s", policies, out)
	require.NotRegexp(t, `(?m)^(component|trait|workflow-step) `, out)
}

// TestDefShowEveryBuiltin keeps `ferry def show` output of every built-in definition readable
// and reviewed.
func TestDefShowEveryBuiltin(t *testing.T) {
	reg, err := definition.Builtin()
	require.NoError(t, err)
	for _, kind := range definition.Kinds {
		for _, d := range reg.List(kind) {
			t.Run(d.Name, func(t *testing.T) {
				code, out, errOut := run(t, "", "def", "show", d.Name, "--type", string(kind))
				require.Equal(t, exitOK, code, errOut)
				checkGolden(t, filepath.Join("testdata", "def-show", d.Name+".golden"), out)
			})
		}
	}
}

func TestDefinitionsFlagOverridesBuiltins(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "webservice.cue"), []byte(`webservice: {
	type: "component"
	description: "Our own webservice"
}
template: {
	output: {apiVersion: "v1", kind: "ConfigMap", metadata: name: context.name, data: image: parameter.image}
	parameter: {
		// +usage=The image
		image: string
	}
}
`), 0o644))
	code, out, errOut := run(t, "", "dry-run", "-f", "../../examples/hello/app.yaml", "-d", dir)
	require.Equal(t, exitUserError, code, out)
	require.Contains(t, errOut, `component "hello" (webservice): parameter ports: unknown parameter`)

	code, out, errOut = run(t, "", "def", "show", "webservice", "-d", dir)
	require.Equal(t, exitOK, code, errOut)
	require.Contains(t, out, "Our own webservice")
	require.Contains(t, out, filepath.Join(dir, "webservice.cue"))
}

func TestVersion(t *testing.T) {
	code, out, _ := run(t, "", "version")
	require.Equal(t, exitOK, code)
	require.Regexp(t, `^ferry \S+ \(go1\.\d+`, out)
}

func keys(m map[string]json.RawMessage) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestDryRunRefObjectsReadsObjectsFile(t *testing.T) {
	app := "../../pkg/appfile/testdata/builtin/ref-objects.app.yaml"
	code, _, errOut := run(t, "", "dry-run", "-f", app)
	require.Equal(t, exitUserError, code)
	require.Contains(t, errOut, `component "ref-objects" reads existing objects, and no cluster or objects file is given (ferry dry-run --objects FILE)`)

	code, out, errOut := run(t, "", "dry-run", "-f", app, "--objects", "../../pkg/appfile/testdata/builtin/ref-objects.objects.yaml")
	require.Equal(t, exitOK, code, errOut)
	require.Contains(t, out, "mode: production")
	require.Contains(t, out, "name: legacy")
}

// cliHub is a real API server for CLI tests: the CLI reaches it with k (--kubeconfig FILE),
// the test with c.
type cliHub struct {
	cfg *rest.Config
	dir string
	k   []string
	c   client.Client
}

// startCLIHub starts an API server, with OCM's hub CRDs when ocm is true.
func startCLIHub(t *testing.T, ocm bool) *cliHub {
	t.Helper()
	h := &cliHub{cfg: testenv.StartEnvtest(t), dir: t.TempDir()}
	kubeconfig := filepath.Join(h.dir, "kubeconfig")
	require.NoError(t, testenv.WriteKubeconfig(kubeconfig, h.cfg))
	h.k = []string{"--kubeconfig", kubeconfig}
	var err error
	h.c, err = ferryscheme.NewClient(h.cfg)
	require.NoError(t, err)
	if ocm {
		crds, err := testenv.NewClient(h.cfg)
		require.NoError(t, err)
		require.NoError(t, testenv.InstallOCMHubCRDs(t.Context(), crds, testenv.RequireBinaries(t)))
	}
	return h
}

// ferry runs the CLI against the hub.
func (h *cliHub) ferry(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return run(t, "", append(args, h.k...)...)
}

// startController runs the controller on the hub until the test ends.
func (h *cliHub) startController(t *testing.T, o controller.ManagerOptions) {
	t.Helper()
	mgr, _, err := controller.NewManager(h.cfg, o)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() { cancel(); require.NoError(t, <-done) })
}

func TestAPanicIsAnInternalError(t *testing.T) {
	root := &cobra.Command{Use: "ferry", SilenceErrors: true, SilenceUsage: true,
		RunE: func(*cobra.Command, []string) error { panic("a bug") }}
	var errOut bytes.Buffer
	require.Equal(t, exitInternalError, runRoot(t.Context(), root, nil, &errOut))
	require.Equal(t, "Error: internal error, please report it: a bug\n", errOut.String())
}

// TestDryRunValidate: an unknown parameter fails a dry-run with a suggestion by default;
// --validate=warn renders without it and says so on stderr; ignore says nothing.
func TestDryRunValidate(t *testing.T) {
	app := `apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: {name: stale}
spec:
  components:
    - name: web
      type: webservice
      properties: {image: nginx, imagee: typo}
`
	const problem = `parameter imagee: unknown parameter (did you mean "image"?)`
	code, out, errOut := run(t, app, "dry-run", "-f", "-")
	require.Equal(t, exitUserError, code)
	require.Contains(t, errOut, "<stdin>:8:")
	require.Contains(t, errOut, problem)
	require.Empty(t, out)

	code, out, errOut = run(t, app, "dry-run", "-f", "-", "--validate=warn")
	require.Equal(t, exitOK, code, errOut)
	require.Contains(t, errOut, `Warning: application "stale": <stdin>:8:`)
	require.Contains(t, errOut, problem+", ignored")
	require.Contains(t, out, "kind: Deployment")
	require.NotContains(t, out, "typo")

	code, out, errOut = run(t, app, "dry-run", "-f", "-", "--validate", "ignore")
	require.Equal(t, exitOK, code, errOut)
	require.Empty(t, errOut)
	require.Contains(t, out, "kind: Deployment")

	code, _, errOut = run(t, app, "dry-run", "-f", "-", "--validate", "lenient")
	require.Equal(t, exitUsageError, code)
	require.Contains(t, errOut, `unknown validation "lenient": use strict, warn or ignore`)
}

// TestDryRunKubeVelaDefinitionFile: a KubeVela definition file with a duplicate key, ignored
// fields and a Terraform component loads; an app using its CUE trait renders with warnings, and
// one using the Terraform component is refused with the reason, at the component's type.
func TestDryRunKubeVelaDefinitionFile(t *testing.T) {
	dir := t.TempDir()
	defs := `apiVersion: core.oam.dev/v1beta1
kind: TraitDefinition
metadata:
  name: team-label
  annotations:
    definition.oam.dev/description: first
    definition.oam.dev/description: second
spec:
  definitionRef: {name: teamlabels.example.com}
  schematic:
    cue:
      template: |
        patch: metadata: labels: team: parameter.team
        parameter: team: string
---
apiVersion: core.oam.dev/v1beta1
kind: ComponentDefinition
metadata: {name: alibaba-rds}
spec:
  schematic:
    terraform: {configuration: "https://example.com/rds.git", type: remote}
`
	require.NoError(t, os.WriteFile(filepath.Join(dir, "vela.yaml"), []byte(defs), 0o600))
	app := `apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: {name: vela}
spec:
  components:
    - name: web
      type: webservice
      properties: {image: nginx}
      traits:
        - {type: team-label, properties: {team: a}}
`
	code, out, errOut := run(t, app, "dry-run", "-f", "-", "-d", dir)
	require.Equal(t, exitOK, code, errOut)
	require.Contains(t, out, "team: a")
	require.Contains(t, errOut, `duplicate key "definition.oam.dev/description": the one at line 7 is used (trait "team-label")`)
	require.Contains(t, errOut, `trait "team-label" sets definitionRef, which Ferry accepts and ignores`)

	rds := app + `    - {name: db, type: alibaba-rds, properties: {instance: x}}
`
	code, _, errOut = run(t, rds, "dry-run", "-f", "-", "-d", dir)
	require.Equal(t, exitUserError, code)
	require.Contains(t, errOut, `<stdin>:11:`)
	require.Contains(t, errOut, `component "alibaba-rds" cannot be rendered: it has a Terraform schematic (spec.schematic.terraform); Ferry renders CUE templates only`)
}
