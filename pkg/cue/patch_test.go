package cue

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func workload() map[string]any {
	return map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": "web", "labels": map[string]any{"app": "web"}},
		"spec": map[string]any{
			"replicas": int64(1),
			"selector": map[string]any{"matchLabels": map[string]any{"app": "web"}},
			"template": map[string]any{"spec": map[string]any{"containers": []any{
				map[string]any{"name": "web", "image": "nginx", "env": []any{map[string]any{"name": "A", "value": "1"}}},
			}}},
		},
	}
}

func renderPatch(t *testing.T, text string, params map[string]any) *Result {
	t.Helper()
	e := NewEngine(Options{})
	tmpl, err := e.Compile(Source{Name: "trait", Filename: "trait.cue", Text: text})
	require.NoError(t, err)
	res, err := tmpl.Render(Input{Parameter: params, Context: Context{Name: "web", Output: workload()}})
	require.NoError(t, err)
	return res
}

func TestPatchStrategies(t *testing.T) {
	tests := []struct {
		name    string
		text    string
		params  map[string]any
		check   func(t *testing.T, out map[string]any)
		wantErr string
	}{
		{
			name: "patchKey merges list elements by key and appends new ones",
			text: `
patch: spec: template: spec: {
	// +patchKey=name
	containers: [{
		name: context.name
		// +patchKey=name
		env: [{name: "B", value: "2"}, {name: "A", value: "1"}]
	}, {
		name: "sidecar"
		image: parameter.image
	}]
}
parameter: image: string`,
			params: map[string]any{"image": "busybox"},
			check: func(t *testing.T, out map[string]any) {
				cs := dig(out, "spec", "template", "spec", "containers").([]any)
				require.Len(t, cs, 2)
				require.Equal(t, "nginx", cs[0].(map[string]any)["image"])
				require.Equal(t, []any{map[string]any{"name": "A", "value": "1"}, map[string]any{"name": "B", "value": "2"}}, cs[0].(map[string]any)["env"])
				require.Equal(t, map[string]any{"name": "sidecar", "image": "busybox"}, cs[1])
			},
		},
		{
			name: "an open list's element goes into every element",
			text: `
patch: spec: template: spec: containers: [...{
	securityContext: runAsNonRoot: parameter.nonRoot
	// +patchKey=name
	env: [{name: "B", value: "2"}]
}]
parameter: nonRoot: bool`,
			params: map[string]any{"nonRoot": true},
			check: func(t *testing.T, out map[string]any) {
				cs := dig(out, "spec", "template", "spec", "containers").([]any)
				require.Len(t, cs, 1)
				require.Equal(t, map[string]any{"runAsNonRoot": true}, cs[0].(map[string]any)["securityContext"])
				require.Equal(t, []any{map[string]any{"name": "A", "value": "1"}, map[string]any{"name": "B", "value": "2"}}, cs[0].(map[string]any)["env"])
			},
		},
		{
			name: "an open list whose element is not concrete still needs a key",
			text: `
patch: spec: template: spec: containers: [...{image: string}]
parameter: {}`,
			wantErr: "spec.template.spec.containers: cannot merge a list of 0 into a list of 1",
		},
		{
			name: "retainKeys lets the patch win over a scalar",
			text: `
patch: {
	// +patchStrategy=retainKeys
	spec: replicas: parameter.replicas
}
parameter: replicas: int`,
			params: map[string]any{"replicas": int64(3)},
			check: func(t *testing.T, out map[string]any) {
				require.EqualValues(t, 3, dig(out, "spec", "replicas"))
				require.NotNil(t, dig(out, "spec", "template"), "siblings of the retained field are kept")
			},
		},
		{
			name: "retainKeys on a struct drops keys the patch does not set",
			text: `
patch: metadata: {
	// +patchStrategy=retainKeys
	labels: {team: "a"}
}`,
			check: func(t *testing.T, out map[string]any) {
				require.Equal(t, map[string]any{"team": "a"}, dig(out, "metadata", "labels"))
			},
		},
		{
			name: "replace replaces a list",
			text: `
patch: spec: template: spec: {
	// +patchStrategy=replace
	containers: [{name: "only", image: "x"}]
}`,
			check: func(t *testing.T, out map[string]any) {
				require.Equal(t, []any{map[string]any{"name": "only", "image": "x"}}, dig(out, "spec", "template", "spec", "containers"))
			},
		},
		{
			name: "conflicting scalar without strategy is an error naming the path",
			text: `
patch: spec: replicas: 5`,
			wantErr: "spec.replicas: conflicting values: the object has 1, the patch sets 5",
		},
		{
			name: "list of another length without key is an error",
			text: `
patch: spec: template: spec: containers: [{name: "a"}, {name: "b"}]`,
			wantErr: "spec.template.spec.containers: cannot merge a list of 2 into a list of 1",
		},
		{
			name: "jsonMergePatch on the root",
			text: `
parameter: {...}
// +patchStrategy=jsonMergePatch
patch: parameter`,
			params: map[string]any{"spec": map[string]any{"replicas": int64(4), "selector": nil}},
			check: func(t *testing.T, out map[string]any) {
				require.EqualValues(t, 4, dig(out, "spec", "replicas"))
				require.NotContains(t, out["spec"], "selector")
			},
		},
		{
			name: "jsonPatch operations on the root",
			text: `
parameter: operations: [...{...}]
// +patchStrategy=jsonPatch
patch: parameter`,
			params: map[string]any{"operations": []any{
				map[string]any{"op": "replace", "path": "/spec/replicas", "value": int64(7)},
				map[string]any{"op": "add", "path": "/metadata/labels/tier", "value": "web"},
			}},
			check: func(t *testing.T, out map[string]any) {
				require.EqualValues(t, 7, dig(out, "spec", "replicas"))
				require.Equal(t, "web", dig(out, "metadata", "labels", "tier"))
			},
		},
		{
			name: "patch inside an if guard keeps its annotations",
			text: `
parameter: extra?: string
patch: spec: template: spec: {
	if parameter.extra != _|_ {
		// +patchKey=name
		containers: [{name: parameter.extra, image: "busybox"}]
	}
}`,
			params: map[string]any{"extra": "log"},
			check: func(t *testing.T, out map[string]any) {
				require.Len(t, dig(out, "spec", "template", "spec", "containers"), 2)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := renderPatch(t, tt.text, tt.params)
			require.NotNil(t, res.Patch)
			base := workload()
			out, err := res.Patch.Apply(base)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, workload(), base, "the base object is not modified")
			tt.check(t, out)
		})
	}
}

func TestPatchOutputs(t *testing.T) {
	res := renderPatch(t, `
patchOutputs: service: metadata: annotations: team: "a"`, nil)
	require.Contains(t, res.PatchOutputs, "service")
	out, err := res.PatchOutputs["service"].Apply(map[string]any{"kind": "Service", "metadata": map[string]any{"name": "s"}})
	require.NoError(t, err)
	require.Equal(t, "a", dig(out, "metadata", "annotations", "team"))
}

func dig(m map[string]any, path ...string) any {
	var cur any = m
	for _, p := range path {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = mm[p]
	}
	return cur
}

func TestPatchAnnotationsFollowHelperFields(t *testing.T) {
	res := renderPatch(t, `
_container: {
	name: context.name
	// +patchStrategy=retainKeys
	resources: requests: cpu: "2"
}
_podSpec: {
	// +patchKey=name
	containers: [_container]
}
patch: spec: template: spec: _podSpec
`, nil)
	base := workload()
	base["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)["resources"] =
		map[string]any{"requests": map[string]any{"cpu": "1", "memory": "1Gi"}}
	out, err := res.Patch.Apply(base)
	require.NoError(t, err)
	c := dig(out, "spec", "template", "spec", "containers").([]any)[0].(map[string]any)
	require.Equal(t, map[string]any{"requests": map[string]any{"cpu": "2", "memory": "1Gi"}}, c["resources"],
		"retainKeys from the helper lets the patch win where it would conflict")
	require.Equal(t, "nginx", c["image"], "containers merged by key from the helper")
}

// TestRecursiveHelpersCompile: a definition that refers to itself (valid CUE) compiles; the
// walker that reads patch comments does not follow it forever. Mutual recursion too.
func TestRecursiveHelpersCompile(t *testing.T) {
	for name, text := range map[string]string{
		"self": `
#A: {a?: #A, n?: int}
// +patchKey=name
patch: spec: tree: #A
parameter: {}
`,
		"mutual": `
#A: {b?: #B}
#B: {a?: #A, list?: [...#A]}
patch: spec: tree: #A & {b: a: {}}
parameter: {}
`,
	} {
		t.Run(name, func(t *testing.T) {
			done := make(chan error, 1)
			go func() {
				_, err := NewEngine(Options{}).Compile(Source{Name: "trait", Filename: "trait.cue", Text: text})
				done <- err
			}()
			select {
			case err := <-done:
				require.NoError(t, err)
			case <-time.After(10 * time.Second):
				t.Fatal("compiling a recursive definition does not end")
			}
		})
	}
}

// TestOpenListPatchFromTheMemo: a repeated render, answered by the memo, keeps the element of
// an open list.
func TestOpenListPatchFromTheMemo(t *testing.T) {
	e := NewEngine(Options{})
	tmpl, err := e.Compile(Source{Name: "trait", Filename: "trait.cue", Text: `
patch: spec: template: spec: containers: [...{stdin: parameter.stdin}]
parameter: stdin: bool`})
	require.NoError(t, err)
	for range 2 {
		res, err := tmpl.Render(Input{Parameter: map[string]any{"stdin": true}, Context: Context{Name: "web", Output: workload()}})
		require.NoError(t, err)
		out, err := res.Patch.Apply(workload())
		require.NoError(t, err)
		require.Equal(t, true, dig(out, "spec", "template", "spec", "containers").([]any)[0].(map[string]any)["stdin"])
	}
	require.Equal(t, 1, e.Stats().MemoHits)
}
