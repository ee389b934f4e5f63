package appfile

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"

	"github.com/ferryhq/ferry/pkg/cue"
	"github.com/ferryhq/ferry/pkg/definition"
)

// updateGolden rewrites golden files instead of comparing them: UPDATE_GOLDEN=1 go test ./...
var updateGolden = os.Getenv("UPDATE_GOLDEN") != ""

func newTestPlanner(t testing.TB, clusters []Cluster) *Planner {
	t.Helper()
	reg, err := definition.Builtin()
	require.NoError(t, err)
	return NewPlanner(Offline(OfflineOptions{Definitions: reg, Clusters: clusters}), Options{Engine: cue.NewEngine(cue.Options{})})
}

func readClusters(t testing.TB, file string) []Cluster {
	t.Helper()
	data, err := os.ReadFile(file)
	if os.IsNotExist(err) {
		return nil
	}
	require.NoError(t, err)
	var clusters []Cluster
	require.NoError(t, yaml.UnmarshalStrict(data, &clusters))
	return clusters
}

func planFile(t testing.TB, p *Planner, file string) []byte {
	t.Helper()
	data, err := os.ReadFile(file)
	require.NoError(t, err)
	afs, err := Parse(filepath.ToSlash(file), data)
	require.NoError(t, err)
	items := []Item{}
	for _, af := range afs {
		plan, err := p.Plan(context.Background(), af, PlanOptions{})
		require.NoError(t, err)
		items = append(items, plan.Items()...)
	}
	out, err := yaml.Marshal(items)
	require.NoError(t, err)
	return out
}

func checkGolden(t *testing.T, golden string, got []byte) {
	t.Helper()
	if updateGolden {
		require.NoError(t, os.WriteFile(golden, got, 0o644))
		return
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err, "missing golden file; run UPDATE_GOLDEN=1 go test ./pkg/appfile")
	require.Equal(t, string(want), string(got), "render differs from %s; if intended, run UPDATE_GOLDEN=1 go test ./pkg/appfile", golden)
}

// TestBuiltinDefinitionsGolden renders an Application per built-in definition. Every built-in
// must have one: adding a definition without a golden test fails here.
func TestBuiltinDefinitionsGolden(t *testing.T) {
	reg, err := definition.Builtin()
	require.NoError(t, err)
	p := newTestPlanner(t, readClusters(t, "testdata/builtin/clusters.yaml"))
	for _, kind := range definition.Kinds {
		for _, def := range reg.List(kind) {
			t.Run(def.Name, func(t *testing.T) {
				input := filepath.Join("testdata", "builtin", def.Name+".app.yaml")
				_, err := os.Stat(input)
				require.NoError(t, err, "built-in %s has no golden test input %s", def.DisplayName(), input)
				planner := p
				if objects, err := os.ReadFile(filepath.Join("testdata", "builtin", def.Name+".objects.yaml")); err == nil {
					parsed, err := ParseObjects(def.Name+".objects.yaml", objects)
					require.NoError(t, err)
					planner = NewPlanner(Offline(OfflineOptions{Definitions: reg, Objects: parsed}), Options{Engine: cue.NewEngine(cue.Options{})})
				}
				got := planFile(t, planner, input)
				checkGolden(t, strings.TrimSuffix(input, ".app.yaml")+".golden.yaml", got)
			})
		}
	}
}

// TestExamplesGolden renders every example Application, with its clusters.yaml when it has one.
func TestExamplesGolden(t *testing.T) {
	apps, err := filepath.Glob("../../examples/*/app.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, apps)
	for _, app := range apps {
		name := filepath.Base(filepath.Dir(app))
		t.Run(name, func(t *testing.T) {
			p := newTestPlanner(t, readClusters(t, filepath.Join(filepath.Dir(app), "clusters.yaml")))
			checkGolden(t, filepath.Join("testdata", "examples", name+".golden.yaml"), planFile(t, p, app))
		})
	}
}

// TestCompatDefinitions renders definitions written in KubeVela's CUE definition style —
// imports of strings/list/strconv, context values, defaults and disjunctions, if guards, list
// comprehensions, +patchKey, +patchStrategy and patchOutputs — unchanged.
func TestCompatDefinitions(t *testing.T) {
	reg, err := definition.Builtin()
	require.NoError(t, err)
	require.NoError(t, reg.LoadDir(filepath.Join("testdata", "compat", "defs")))
	p := NewPlanner(Offline(OfflineOptions{Definitions: reg}), Options{Engine: cue.NewEngine(cue.Options{})})
	checkGolden(t, filepath.Join("testdata", "compat", "legacy.golden.yaml"), planFile(t, p, filepath.Join("testdata", "compat", "legacy.app.yaml")))
}

// TestCompatCases renders one KubeVela construct per file in testdata/compat/cases, each with
// the objects KubeVela renders for it in its golden file, and with the managed clusters of
// <case>.clusters.yaml when there is one.
func TestCompatCases(t *testing.T) {
	reg, err := definition.Builtin()
	require.NoError(t, err)
	require.NoError(t, reg.LoadDir(filepath.Join("testdata", "compat", "defs")))
	apps, err := filepath.Glob(filepath.Join("testdata", "compat", "cases", "*.app.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, apps)
	for _, app := range apps {
		name := strings.TrimSuffix(filepath.Base(app), ".app.yaml")
		t.Run(name, func(t *testing.T) {
			clusters := readClusters(t, filepath.Join("testdata", "compat", "cases", name+".clusters.yaml"))
			p := NewPlanner(Offline(OfflineOptions{Definitions: reg, Clusters: clusters}), Options{Engine: cue.NewEngine(cue.Options{})})
			checkGolden(t, filepath.Join("testdata", "compat", "cases", name+".golden.yaml"), planFile(t, p, app))
		})
	}
}
