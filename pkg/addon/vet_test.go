package addon_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry/pkg/addon"
	"github.com/ferryhq/ferry/pkg/cue"
)

const goodMeta = "name: demo\nversion: 1.0.0\n"

const goodTemplate = `package main

output: {
	apiVersion: "core.oam.dev/v1beta1"
	kind:       "Application"
	spec: components: [{
		name: "demo"
		type: "k8s-objects"
		properties: objects: [{apiVersion: "v1", kind: "ConfigMap", metadata: name: "demo", data: n: "\(parameter.n)"}]
	}]
}
`

const goodParams = "parameter: {\n\t// +usage=A number\n\tn: *1 | int\n}\n"

func writeAddon(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "demo")
	for name, body := range files {
		p := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
	}
	return dir
}

func with(over map[string]string) map[string]string {
	files := map[string]string{"metadata.yaml": goodMeta, "parameter.cue": goodParams, "template.cue": goodTemplate, "README.md": "# demo\n"}
	for k, v := range over {
		if v == "" {
			delete(files, k)
			continue
		}
		files[k] = v
	}
	return files
}

// TestBrokenAddons: every broken addon gets one clear error naming the file (and line) and the
// field, and none panics.
func TestBrokenAddons(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  []string
	}{
		{"no metadata", with(map[string]string{"metadata.yaml": ""}), []string{"not an addon: it has no metadata.yaml"}},
		{"metadata not YAML", with(map[string]string{"metadata.yaml": "name: [demo\n"}), []string{"metadata.yaml", "did not find expected"}},
		{"metadata a list", with(map[string]string{"metadata.yaml": "- name: demo\n"}), []string{"metadata.yaml:1:1: want a mapping"}},
		{"no name", with(map[string]string{"metadata.yaml": "version: 1.0.0\n"}), []string{"metadata.yaml:1:1: name is required"}},
		{"bad name", with(map[string]string{"metadata.yaml": "name: Demo_Addon\nversion: 1.0.0\n"}), []string{"metadata.yaml:1:7: name \"Demo_Addon\" must be lowercase"}},
		{"no version", with(map[string]string{"metadata.yaml": "name: demo\n"}), []string{"metadata.yaml:1:1: version is required"}},
		{"bad semver", with(map[string]string{"metadata.yaml": "name: demo\nversion: one\n"}), []string{"metadata.yaml:2:10: version \"one\" is not semver"}},
		{"unknown field", with(map[string]string{"metadata.yaml": goodMeta + "vresion: 2\n"}), []string{"metadata.yaml:3:1: unknown field vresion"}},
		{"unknown dependency field", with(map[string]string{"metadata.yaml": goodMeta + "dependencies:\n  - {name: b, vresion: \"1\"}\n"}),
			[]string{"metadata.yaml:4:15: unknown field dependencies[0].vresion (known: name, version)"}},
		{"bad dependency constraint", with(map[string]string{"metadata.yaml": goodMeta + "dependencies:\n  - {name: b, version: \">=1.x.y!\"}\n"}),
			[]string{"metadata.yaml:4:24: dependencies[0].version \">=1.x.y!\" is not a semver constraint"}},
		{"dependency without name", with(map[string]string{"metadata.yaml": goodMeta + "dependencies:\n  - {version: \"^1\"}\n"}),
			[]string{"metadata.yaml:4:5: dependencies[0].name is required"}},
		{"bad system constraint", with(map[string]string{"metadata.yaml": goodMeta + "system: {kubernetes: \"new\"}\n"}),
			[]string{"metadata.yaml:3:22: system.kubernetes \"new\" is not a semver constraint"}},
		{"deployTo not a bool", with(map[string]string{"metadata.yaml": goodMeta + "deployTo: {runtimeCluster: yes please}\n"}),
			[]string{"metadata.yaml:3:28: deployTo.runtimeCluster must be true or false"}},
		{"artifact without digest", with(map[string]string{"metadata.yaml": goodMeta + "artifacts:\n  - {name: crds, url: \"https://example.com/crds.yaml\"}\n"}),
			[]string{"metadata.yaml:4:5: artifacts[0].sha256 must be the artifact's sha256 digest"}},
		{"CUE syntax error", with(map[string]string{"template.cue": "output: {\n"}), []string{"template.cue:1:11", "expected '}'"}},
		{"a parameter without a default", with(map[string]string{"parameter.cue": "parameter: n: int\n"}),
			[]string{"render with the default parameters", "parameter.n: required, not given (want int)"}},
		{"template reads a parameter that does not exist", with(map[string]string{"template.cue": goodTemplate + "_x: parameter.missing\noutput: metadata: name: _x\n"}),
			[]string{"template.cue:12:15: _x: undefined field: missing"}},
		{"template outputs no Application", with(map[string]string{"template.cue": "output: {apiVersion: \"v1\", kind: \"ConfigMap\", metadata: name: \"x\"}\n"}),
			[]string{"kind is \"ConfigMap\"; an addon's template is an Application"}},
		{"template and template.yaml", with(map[string]string{"template.yaml": "kind: Application\n"}), []string{"template.yaml: give template.cue or template.yaml, not both"}},
		{"definition that does not load", with(map[string]string{"definitions/bad.cue": "bad: {type: \"trait\"}\ntemplate: {patch: {\n"}),
			[]string{"definitions/bad.cue"}},
		{"definition that does not compile", with(map[string]string{"definitions/bad.cue": "bad: {type: \"trait\"}\ntemplate: {patch: metadata: labels: parameter.x & 3\nparameter: x: string\n}\n"}),
			[]string{"trait \"bad\": compile template:", "definitions/bad.cue:2:37: patch.metadata.labels: conflicting values 3 and string"}},
		{"a definition twice", with(map[string]string{"definitions/a.cue": "x: {type: \"trait\"}\ntemplate: {patch: {}}\n", "definitions/b.cue": "x: {type: \"trait\"}\ntemplate: {patch: {}}\n"}),
			[]string{"definitions/b.cue: trait \"x\" is defined twice (also in", "definitions/a.cue)"}},
		{"resource without kind", with(map[string]string{"resources/x.yaml": "apiVersion: v1\nmetadata: {name: x}\n"}), []string{"resources/x.yaml: document 1: an object needs apiVersion and kind"}},
		{"application that does not plan", with(map[string]string{"template.cue": "output: {apiVersion: \"core.oam.dev/v1beta1\", kind: \"Application\", spec: components: [{name: \"x\", type: \"websrvice\"}]}\n"}),
			[]string{"does not plan", `unknown component type "websrvice" (did you mean "webservice"?)`}},
		{"stray CUE file", with(map[string]string{"extra.cue": "x: 1\n"}), []string{"extra.cue: unknown file"}},
	}
	require.GreaterOrEqual(t, len(tests), 15)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeAddon(t, tt.files)
			a, err := addon.Load(os.DirFS(dir), dir)
			if err == nil {
				_, err = addon.Vet(context.Background(), a, addon.VetOptions{Engine: cue.NewEngine(cue.Options{}), Namespace: "ferry-system"})
			}
			require.Error(t, err)
			for _, w := range tt.want {
				require.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestGoodAddonVets(t *testing.T) {
	dir := writeAddon(t, with(nil))
	a, err := addon.Load(os.DirFS(dir), dir)
	require.NoError(t, err)
	res, err := addon.Vet(context.Background(), a, addon.VetOptions{Engine: cue.NewEngine(cue.Options{}), Namespace: "ferry-system"})
	require.NoError(t, err)
	require.Equal(t, 1, res.Components)
}

func TestParameters(t *testing.T) {
	dir := writeAddon(t, with(map[string]string{"parameter.cue": "parameter: {\n\tn: *1 | int\n\tmode: *\"a\" | \"b\"\n\tname: string\n\tnested: {size: *1 | int & <10}\n}\n"}))
	a, err := addon.Load(os.DirFS(dir), dir)
	require.NoError(t, err)
	_, err = a.Render(addon.RenderOptions{Namespace: "ferry-system", Parameters: map[string]any{"n": "x", "mode": "c", "nme": "y", "nested": map[string]any{"size": 20, "colour": 1}}})
	var pe *addon.ParameterError
	require.ErrorAs(t, err, &pe)
	require.Equal(t, []string{
		`parameter.mode: given "c", want *"a" | "b"`,
		`parameter.n: conflicting values "x" and 1 (mismatched types string and int) (want *1 | int, given "x")`,
		"parameter.name: required, not given (want string)",
		"parameter.nested.colour: unknown parameter (known: size)",
		"parameter.nested.size: invalid value 20 (out of bound <10) (want *1 | int & <10, given 20)",
		"parameter.nme: unknown parameter (known: n, mode, name, nested)",
	}, pe.Problems)
	// Numbers that came through JSON or YAML are float64: a whole one is an int.
	r, err := a.Render(addon.RenderOptions{Namespace: "ferry-system", Parameters: map[string]any{"name": "x", "nested": map[string]any{"size": float64(3)}}})
	require.NoError(t, err)
	require.Equal(t, map[string]any{"n": int64(1), "mode": "a", "name": "x", "nested": map[string]any{"size": int64(3)}}, r.Parameters)
}

// TestClustersParameter: a KubeVela addon that declares a clusters parameter gets --clusters.
func TestClustersParameter(t *testing.T) {
	tmpl := `output: {apiVersion: "core.oam.dev/v1beta1", kind: "Application", spec: {
	components: [{name: "x", type: "k8s-objects", properties: objects: [{apiVersion: "v1", kind: "ConfigMap", metadata: name: "x"}]}]
	policies: [{name: "where", type: "topology", properties: clusters: parameter.clusters}]
}}
`
	dir := writeAddon(t, with(map[string]string{"parameter.cue": "parameter: {\n\t// +usage=Clusters\n\tclusters?: [...string]\n}\n", "template.cue": tmpl,
		"metadata.yaml": goodMeta + "deployTo: {runtimeCluster: true}\n"}))
	a, err := addon.Load(os.DirFS(dir), dir)
	require.NoError(t, err)
	r, err := a.Render(addon.RenderOptions{Namespace: "ferry-system", Clusters: []string{"edge-1"}})
	require.NoError(t, err)
	require.Len(t, r.Application.Spec.Policies, 1, "the template's own topology is kept")
	require.JSONEq(t, `{"clusters":["edge-1"]}`, string(r.Application.Spec.Policies[0].Properties.Raw))
}
