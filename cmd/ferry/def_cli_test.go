package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry/pkg/definition"
)

// TestDefAuthoringLoop is what a platform team does: init a trait, test it, change it, see the
// test fail with a diff, update the golden file, break the CUE and get the line from vet.
func TestDefAuthoringLoop(t *testing.T) {
	dir := t.TempDir()
	code, out, errOut := run(t, "", "def", "init", "team-labels", "--type", "trait", "--dir", dir)
	require.Equal(t, exitOK, code, errOut)
	require.Contains(t, out, "team-labels.cue")

	code, out, errOut = run(t, "", "def", "test", dir)
	require.Equal(t, exitOK, code, errOut)
	require.Contains(t, out, "ok   team-labels/defaults")

	file := filepath.Join(dir, "team-labels.cue")
	src, err := os.ReadFile(file)
	require.NoError(t, err)
	changed := strings.ReplaceAll(string(src), `"example.com/team": parameter.team`, `"example.com/owner": parameter.team`)
	require.NoError(t, os.WriteFile(file, []byte(changed), 0o644))
	code, out, errOut = run(t, "", "def", "test", dir)
	require.Equal(t, exitUserError, code)
	require.Contains(t, errOut, "1 of 1 cases failed")
	require.Contains(t, out, "-      example.com/team: platform\n+      example.com/owner: platform")

	code, _, errOut = run(t, "", "def", "test", dir, "--update")
	require.Equal(t, exitOK, code, errOut)
	code, _, errOut = run(t, "", "def", "test", dir)
	require.Equal(t, exitOK, code, errOut)

	code, out, errOut = run(t, "", "def", "render", file, "--properties", "team=payments")
	require.Equal(t, exitOK, code, errOut)
	require.Contains(t, out, "example.com/owner: payments")

	broken := strings.Replace(changed, `team: *"platform" | string`, `team: *"platform" | strin`, 1)
	require.NoError(t, os.WriteFile(file, []byte(broken), 0o644))
	code, _, errOut = run(t, "", "def", "vet", file)
	require.Equal(t, exitUserError, code)
	require.Regexp(t, `team-labels.cue:\d+:\d+: parameter.team: reference "strin" not found`, errOut)
}

func TestDefInitEveryKindPassesItsOwnTest(t *testing.T) {
	for _, kind := range definition.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			dir := t.TempDir()
			code, _, errOut := run(t, "", "def", "init", "sample-"+string(kind), "--type", string(kind), "--dir", dir)
			require.Equal(t, exitOK, code, errOut)
			code, _, errOut = run(t, "", "def", "vet", filepath.Join(dir, "sample-"+string(kind)+".cue"))
			require.Equal(t, exitOK, code, errOut)
			code, _, errOut = run(t, "", "def", "test", dir)
			require.Equal(t, exitOK, code, errOut)
		})
	}
	dir := t.TempDir()
	code, _, _ := run(t, "", "def", "init", "twice", "--type", "trait", "--dir", dir)
	require.Equal(t, exitOK, code)
	code, _, errOut := run(t, "", "def", "init", "twice", "--type", "trait", "--dir", dir)
	require.Equal(t, exitUserError, code)
	require.Contains(t, errOut, "exists; not overwriting it")
	code, _, _ = run(t, "", "def", "init", "x", "--type", "gadget")
	require.Equal(t, exitUsageError, code)
}

func TestDefVetReportsEveryProblem(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(text), 0o644))
		return p
	}
	syntax := write("syntax.cue", "a: {\n\ttype: \"trait\"\n")
	noParam := write("noparam.cue", "b: {type: \"trait\"}\n\ntemplate: {\n\tpatch: metadata: labels: x: \"y\"\n}\n")
	notObject := write("notobject.cue", "c: {type: \"component\"}\n\ntemplate: {\n\toutput: {\n\t\tkind: \"ConfigMap\"\n\t}\n\toutputs: extra: \"text\"\n\tparameter: {}\n}\n")
	code, _, errOut := run(t, "", "def", "vet", syntax, noParam, notObject)
	require.Equal(t, exitUserError, code)
	require.Contains(t, errOut, "4 problems")
	require.Contains(t, errOut, "syntax.cue:2:16: expected '}', found 'EOF'")
	require.Contains(t, errOut, "noparam.cue:3: trait \"b\": the template has no `parameter` block")
	require.Contains(t, errOut, "notobject.cue:4:2: output: a Kubernetes object needs apiVersion")
	require.Contains(t, errOut, "notobject.cue:7:11: outputs.extra: must be a Kubernetes object, got string")

	code, out, errOut := run(t, "", "def", "vet", "../../definitions/components/webservice.cue", "../../definitions/traits/storage.cue")
	require.Equal(t, exitOK, code, errOut)
	require.Equal(t, "ok: 2 definition files\n", out)
}

// TestDefVetProviderPackages: KubeVela-style definitions that import each provider package
// (vela/kube, vela/builtin, vela/http, vela/email, vela/util, vela/config, vela/query,
// vela/metrics, vela/multicluster) compile; a name a package does not have is reported where it
// is written.
func TestDefVetProviderPackages(t *testing.T) {
	files, err := filepath.Glob("testdata/provider-packages/*.cue")
	require.NoError(t, err)
	imported := map[string]bool{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		for _, p := range definition.LibraryImportPaths() {
			if strings.Contains(string(data), `"`+p+`"`) {
				imported[p] = true
			}
		}
	}
	for _, p := range definition.LibraryImportPaths() {
		if strings.HasPrefix(p, "vela/") && p != definition.OpImportPath {
			require.True(t, imported[p], "no test definition imports %s", p)
		}
	}
	code, out, errOut := run(t, "", append([]string{"def", "vet"}, files...)...)
	require.Equal(t, exitOK, code, errOut)
	require.Equal(t, fmt.Sprintf("ok: %d definition files\n", len(files)), out)

	typo := filepath.Join(t.TempDir(), "typo.cue")
	require.NoError(t, os.WriteFile(typo, []byte("import \"vela/kube\"\n\ntypo: {type: \"workflow-step\"}\n\ntemplate: {\n\tapply: kube.#Aply & {$params: value: {}}\n\tparameter: {}\n}\n"), 0o600))
	code, _, errOut = run(t, "", "def", "vet", typo)
	require.Equal(t, exitUserError, code)
	require.Contains(t, errOut, "typo.cue:6:")
	require.Contains(t, errOut, "#Aply")
}

// TestDefGetRoundTrips prints every built-in as a CR and loads it back: the CR renders the same.
func TestDefGetRoundTrips(t *testing.T) {
	reg, err := definition.Builtin()
	require.NoError(t, err)
	for _, kind := range definition.Kinds {
		for _, d := range reg.List(kind) {
			code, out, errOut := run(t, "", "def", "get", d.Name, "--type", string(kind), "-o", "yaml")
			require.Equal(t, exitOK, code, errOut)
			back, err := definition.ParseYAML(d.Name+".yaml", []byte(out))
			require.NoError(t, err, d.Name)
			require.Len(t, back, 1)
			require.Equal(t, d.Kind, back[0].Kind)
			require.Equal(t, d.Description, back[0].Description)
			require.Equal(t, d.Status, back[0].Status)
			require.Equal(t, d.AppliesToWorkloads, back[0].AppliesToWorkloads)
			require.Equal(t, strings.TrimSpace(d.TemplateBody()), strings.TrimSpace(back[0].TemplateBody()), d.Name)
		}
	}
}

// TestReferenceDocsAreCurrent keeps docs/reference equal to what `ferry def doc --all` writes.
func TestReferenceDocsAreCurrent(t *testing.T) {
	dir := t.TempDir()
	code, _, errOut := run(t, "", "def", "doc", "--all", "--dir", dir)
	require.Equal(t, exitOK, code, errOut)
	files, err := filepath.Glob(filepath.Join(dir, "*", "*.md"))
	require.NoError(t, err)
	reg, err := definition.Builtin()
	require.NoError(t, err)
	total := 0
	for _, k := range definition.Kinds {
		total += len(reg.List(k))
	}
	require.Len(t, files, total, "one page per built-in definition")
	for _, f := range append(files, filepath.Join(dir, "README.md")) {
		rel, _ := filepath.Rel(dir, f)
		want, err := os.ReadFile(filepath.Join("..", "..", "docs", "reference", rel))
		require.NoError(t, err, "docs/reference/%s is missing: run make generate", rel)
		got, err := os.ReadFile(f)
		require.NoError(t, err)
		require.Equal(t, string(want), string(got), "docs/reference/%s is stale: run make generate", rel)
	}
}
