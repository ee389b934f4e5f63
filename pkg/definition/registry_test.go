package definition

import (
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	ferrycue "github.com/ferryhq/ferry/pkg/cue"
)

func TestBuiltinLibraryLoadsAndCompiles(t *testing.T) {
	r, err := Builtin()
	require.NoError(t, err)
	want := map[Kind][]string{
		KindComponent: {"cron-task", "daemon", "k8s-objects", "raw", "ref-objects", "statefulset", "task", "webservice", "worker"},
		KindTrait: {"affinity", "annotations", "command", "configmap", "container-image", "container-ports", "cpuscaler", "env", "expose", "gateway",
			"hostalias", "hpa", "ingress", "ingress-1-20", "init-container", "json-merge-patch", "json-patch", "k8s-update-strategy", "labels", "lifecycle", "liveness-probe",
			"nocalhost", "node-affinity", "node-selector", "podsecuritycontext", "pure-ingress", "pvc", "readiness-probe", "resource", "scaler", "securitycontext", "service-account", "service-binding", "sidecar",
			"startup-probe", "storage", "topologyspreadconstraints", "volumes"},
		KindPolicy: {"apply-once", "env-binding", "garbage-collect", "health", "override", "read-only", "replication", "resource-update",
			"shared-resource", "take-over", "topology"},
		KindWorkflowStep: {"apply-application", "apply-application-in-parallel", "apply-component", "apply-deployment", "apply-object",
			"apply-remaining", "apply-terraform-config", "apply-terraform-provider", "build-push-image", "check-metrics", "clean-jobs", "collect-service-endpoints", "create-config",
			"delete-config", "depends-on-app", "deploy", "deploy-cloud-resource", "deploy2env", "deploy2runtime", "export-data",
			"export-service", "export2config", "export2secret", "generate-jdbc-connection", "list-config", "notification",
			"print-message-in-status", "read-config", "read-object", "request", "restart-workflow", "share-cloud-resource", "step-group", "suspend",
			"vela-cli", "webhook", "webhook-notification"},
	}
	engine := ferrycue.NewEngine(ferrycue.Options{})
	for kind, names := range want {
		var got []string
		for _, d := range r.List(kind) {
			got = append(got, d.Name)
			require.True(t, d.Builtin)
			require.NotEmpty(t, d.Description, d.Name)
			_, err := engine.Compile(d.Source())
			require.NoError(t, err, d.Name)
		}
		require.Equal(t, names, got, kind)
		require.Equal(t, names, r.names(kind), kind)
		for _, name := range names {
			_, err := r.Get(kind, name)
			require.NoError(t, err, name)
		}
	}
	web, err := r.Get(KindComponent, "webservice")
	require.NoError(t, err)
	require.Equal(t, WorkloadType{APIVersion: "apps/v1", Kind: "Deployment", Type: "deployments.apps"}, web.Workload)
	require.NotEmpty(t, web.Status.HealthPolicy)
	scaler, err := r.Get(KindTrait, "scaler")
	require.NoError(t, err)
	require.Equal(t, []string{"deployments.apps", "statefulsets.apps"}, scaler.AppliesToWorkloads)
}

// TestBuiltinFiles: a built-in file must hold the one definition its name and folder say,
// since the registry knows built-in names before it parses them.
func TestBuiltinFiles(t *testing.T) {
	_, err := parseBuiltin(KindTrait, "scaler", "traits/scaler.cue")
	require.NoError(t, err)
	_, err = parseBuiltin(KindTrait, "scaler", "traits/labels.cue")
	require.EqualError(t, err, "load built-in definition scaler: definitions/traits/labels.cue must hold one trait named scaler")
	_, err = parseBuiltin(KindComponent, "scaler", "traits/scaler.cue")
	require.ErrorContains(t, err, "must hold one component named scaler")
}

// TestBuiltinParsedOnceWhenAskedTogether: renders on every core ask for the same built-in
// definition at once; it is parsed once and they all get it.
func TestBuiltinParsedOnceWhenAskedTogether(t *testing.T) {
	r, err := Builtin()
	require.NoError(t, err)
	got := make([]*Definition, 8)
	var wg sync.WaitGroup
	for i := range got {
		wg.Go(func() {
			d, err := r.Get(KindComponent, "webservice")
			if err == nil {
				got[i] = d
			}
		})
	}
	wg.Wait()
	for _, d := range got {
		require.Same(t, got[0], d)
	}
	require.NotNil(t, got[0])
}

func TestGetSuggestsTheClosestName(t *testing.T) {
	r, err := Builtin()
	require.NoError(t, err)
	_, err = r.Get(KindComponent, "webservise")
	require.EqualError(t, err, `unknown component type "webservise" (did you mean "webservice"?)`)
	_, err = r.Get(KindTrait, "database")
	require.ErrorContains(t, err, `unknown trait type "database"; known types: affinity, annotations, command`)
}

func TestTemplateKeepsFilePositions(t *testing.T) {
	src := "import \"strings\"\n\nbroken: {\n\ttype: \"component\"\n}\n\ntemplate: {\n\toutput: {\n\t\tkind: strings.ToUpper(parameter.kind)\n\t\tbad: 1 & 2\n\t}\n\tparameter: kind: string\n}\n"
	d, err := ParseCUE("defs/broken.cue", []byte(src))
	require.NoError(t, err)
	_, err = ferrycue.NewEngine(ferrycue.Options{}).Compile(d.Source())
	require.ErrorContains(t, err, "defs/broken.cue:10:")
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"syntax", "x: {\n  type: \"component\"\n", "bad.cue:2:21: expected '}', found 'EOF'"},
		{"no template", "x: {type: \"component\"}\n", `bad.cue: definition "x" has no ` + "`template: {...}`"},
		{"no metadata", "template: {}\n", "bad.cue: missing the"},
		{"bad type", "x: {type: \"widget\"}\ntemplate: {}\n", `bad.cue:1: definition "x": unknown definition type "widget"`},
		{"extra field", "x: {type: \"trait\"}\ny: 1\ntemplate: {}\n", `bad.cue:2: unexpected top-level field "y"`},
		{"builtin as metadata", "x: {type: or}\ntemplate: {}\n", `bad.cue:1: definition metadata`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseCUE("bad.cue", []byte(tt.src))
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestUserDefinitionsOverrideBuiltins(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "webservice.cue"), []byte(`webservice: {
	type: "component"
	description: "ours"
}
template: {
	output: {apiVersion: "v1", kind: "ConfigMap", metadata: name: context.name}
	parameter: {}
}
`), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "defs.yaml"), []byte(`apiVersion: core.oam.dev/v1beta1
kind: TraitDefinition
metadata:
  name: team-label
  annotations:
    definition.oam.dev/description: adds the team label
spec:
  appliesToWorkloads: ["*"]
  schematic:
    cue:
      template: |
        patch: metadata: labels: team: parameter.team
        parameter: team: string
---
apiVersion: core.oam.dev/v1beta1
kind: ComponentDefinition
metadata:
  name: broken
spec:
  workload:
    definition: {apiVersion: v1, kind: ConfigMap}
  schematic:
    cue:
      template: |
        output: {
          kind: "ConfigMap"
          x: 1 & 2
        }
`), 0o644))
	r, err := Builtin()
	require.NoError(t, err)
	require.NoError(t, r.LoadDir(dir))

	web, err := r.Get(KindComponent, "webservice")
	require.NoError(t, err)
	require.Equal(t, "ours", web.Description)
	require.False(t, web.Builtin)

	trait, err := r.Get(KindTrait, "team-label")
	require.NoError(t, err)
	require.Equal(t, "adds the team label", trait.Description)
	require.Equal(t, []string{"*"}, trait.AppliesToWorkloads)

	broken, err := r.Get(KindComponent, "broken")
	require.NoError(t, err)
	_, err = ferrycue.NewEngine(ferrycue.Options{}).Compile(broken.Source())
	require.ErrorContains(t, err, "defs.yaml:27:", "CUE positions of a CR template are lines of the YAML file")
}

func TestParseYAMLRejectsOtherKinds(t *testing.T) {
	_, err := ParseYAML("x.yaml", []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"))
	require.EqualError(t, err, `x.yaml:1: kind "ConfigMap" is not a definition (want ComponentDefinition, TraitDefinition, PolicyDefinition or WorkflowStepDefinition)`)
}

// TestParseYAMLKubeVelaFiles: KubeVela definition files load whole. A duplicate key keeps its
// last value with a warning (as KubeVela's loader does); definitionRef and extension are
// accepted and ignored; a Terraform or kube schematic loads as a definition Ferry cannot render,
// which is an error only for an Application that uses it.
func TestParseYAMLKubeVelaFiles(t *testing.T) {
	const file = `apiVersion: core.oam.dev/v1beta1
kind: TraitDefinition
metadata:
  name: labels2
  annotations:
    definition.oam.dev/description: first
    definition.oam.dev/description: second
spec:
  definitionRef: {name: labels2.example.com}
  extension: {install: {helm: {repo: x}}}
  schematic:
    cue:
      template: |
        patch: metadata: labels: parameter
        parameter: [string]: string
---
apiVersion: core.oam.dev/v1beta1
kind: ComponentDefinition
metadata: {name: alibaba-rds}
spec:
  workload: {definition: {apiVersion: terraform.core.oam.dev/v1beta2, kind: Configuration}}
  schematic:
    terraform:
      configuration: https://example.com/rds.git
      type: remote
---
apiVersion: core.oam.dev/v1beta1
kind: WorkflowStepDefinition
metadata: {name: old-step}
spec:
  definitionRef: {name: old-step, version: v1}
  schematic:
    kube:
      template: {apiVersion: v1, kind: ConfigMap}
`
	defs, err := ParseYAML("vela.yaml", []byte(file))
	require.NoError(t, err)
	require.Len(t, defs, 3)

	labels := defs[0]
	require.Equal(t, "second", labels.Description, "the last of a duplicate key wins")
	require.Equal(t, []string{`vela.yaml:6:5: duplicate key "definition.oam.dev/description": the one at line 7 is used`}, labels.LoadWarnings)
	require.Equal(t, []string{"definitionRef", "extension"}, labels.Ignored)
	require.Empty(t, labels.Unsupported)
	require.Equal(t, 14, labels.Line, "positions still point into the file")

	rds := defs[1]
	require.Equal(t, KindComponent, rds.Kind)
	require.Contains(t, rds.Unsupported, "Terraform schematic")
	require.Empty(t, rds.LoadWarnings)

	step := defs[2]
	require.Equal(t, []string{"definitionRef"}, step.Ignored)
	require.Contains(t, step.Unsupported, "kube schematic")

	// Still an error: a definition with no schematic at all.
	_, err = ParseYAML("none.yaml", []byte("apiVersion: core.oam.dev/v1beta1\nkind: TraitDefinition\nmetadata: {name: x}\nspec: {}\n"))
	require.ErrorContains(t, err, "spec.schematic.cue.template is required")
}
