package cue

import (
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

const deploymentTemplate = `
import "strings"

output: {
	apiVersion: "apps/v1"
	kind:       "Deployment"
	metadata: name: context.name
	spec: {
		replicas: parameter.replicas
		template: spec: containers: [{
			name:  context.name
			image: parameter.image
			if parameter.cmd != _|_ {
				command: parameter.cmd
			}
			env: [for k, v in parameter.env {name: strings.ToUpper(k), value: v}]
		}]
	}
}
outputs: service: {
	apiVersion: "v1"
	kind:       "Service"
	metadata: {name: context.name, namespace: context.namespace}
	spec: ports: [{port: parameter.port}]
}
parameter: {
	// +usage=Container image
	image: string
	// +usage=Number of pods
	replicas: *1 | int
	cmd?: [...string]
	env: [string]: string
	port: *80 | int & >0 & <65536
	protocol: *"TCP" | "UDP"
	ports?: [...{port: int, name?: string}]
}
`

func TestRenderComponent(t *testing.T) {
	e := NewEngine(Options{})
	tmpl, err := e.Compile(Source{Name: "webservice", Filename: "webservice.cue", Text: deploymentTemplate})
	require.NoError(t, err)

	res, err := tmpl.Render(Input{
		Parameter: map[string]any{"image": "nginx:1.27", "env": map[string]any{"mode": "prod"}, "cmd": []any{"run"}},
		Context:   Context{Name: "web", Namespace: "team-a"},
	})
	require.NoError(t, err)
	require.Equal(t, map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": "web"},
		"spec": map[string]any{
			"replicas": int64(1),
			"template": map[string]any{"spec": map[string]any{"containers": []any{map[string]any{
				"name": "web", "image": "nginx:1.27", "command": []any{"run"},
				"env": []any{map[string]any{"name": "MODE", "value": "prod"}},
			}}}},
		},
	}, normalize(res.Output))
	require.Len(t, res.Outputs, 1)
	require.Equal(t, "service", res.Outputs[0].Name)
	require.Equal(t, "team-a", res.Outputs[0].Object["metadata"].(map[string]any)["namespace"])
}

func TestCompileIsCachedByContent(t *testing.T) {
	e := NewEngine(Options{})
	src := Source{Name: "webservice", Filename: "webservice.cue", Text: deploymentTemplate}
	first, err := e.Compile(src)
	require.NoError(t, err)
	for i := 0; i < 5; i++ {
		again, err := e.Compile(src)
		require.NoError(t, err)
		require.Same(t, first, again)
		_, err = again.Render(Input{Parameter: map[string]any{"image": "x"}, Context: Context{Name: "a"}})
		require.NoError(t, err)
	}
	require.Equal(t, Stats{Compiles: 1, CacheHits: 5, Evaluations: 1, MemoHits: 4}, e.Stats())

	changed := src
	changed.Text += "\n// changed\n"
	other, err := e.Compile(changed)
	require.NoError(t, err)
	require.NotSame(t, first, other)
	require.Equal(t, 2, e.Stats().Compiles)
}

func TestParameterErrorsAreAllReported(t *testing.T) {
	e := NewEngine(Options{})
	tmpl, err := e.Compile(Source{Name: `component definition "webservice"`, Filename: "webservice.cue", Text: deploymentTemplate})
	require.NoError(t, err)

	_, err = tmpl.Render(Input{Parameter: map[string]any{
		"replicas": "three",
		"port":     int64(70000),
		"imagee":   "nginx",
		"protocol": "SCTP",
		"ports":    []any{map[string]any{"port": int64(80), "nmae": "http"}}, //nolint:misspell // a typo the user makes
	}, Context: Context{Name: "web"}})
	var perr *ParameterError
	require.ErrorAs(t, err, &perr)
	got := map[string]string{}
	for _, f := range perr.Errors {
		got[f.PathString()] = f.Message
	}
	require.Equal(t, map[string]string{
		"image":         "required but not given (expected string)",
		"imagee":        `unknown parameter (did you mean "image"?)`,
		"port":          `expected *80 | uint & >0 & <65536, got 70000 (int)`,
		"ports[0].nmae": `unknown parameter (did you mean "name"?)`, //nolint:misspell // the typo reported back
		"protocol":      `expected *"TCP" | "UDP", got "SCTP" (string)`,
		"replicas":      `expected *1 | int, got "three" (string)`,
	}, got)
	require.Contains(t, err.Error(), `component definition "webservice"`)
}

func TestTemplateErrorsKeepPositions(t *testing.T) {
	e := NewEngine(Options{})
	_, err := e.Compile(Source{Name: "broken", Filename: "broken.cue", Text: "output: {\n  kind: \n}"})
	var terr *TemplateError
	require.ErrorAs(t, err, &terr)
	require.Contains(t, terr.Error(), "broken.cue:3:")

	tmpl, err := e.Compile(Source{Name: "incomplete", Filename: "incomplete.cue", Text: "output: {\n\tkind: \"ConfigMap\"\n\tdata: x: parameter.missing\n}\nparameter: {...}\n"})
	require.NoError(t, err)
	_, err = tmpl.Render(Input{Context: Context{Name: "a"}})
	require.ErrorAs(t, err, &terr)
	require.Equal(t, "evaluate output", terr.Op)
	require.Contains(t, terr.Error(), "output.data.x")
}

func TestRenderHandsContextToTemplates(t *testing.T) {
	e := NewEngine(Options{})
	tmpl, err := e.Compile(Source{Name: "ctx", Filename: "ctx.cue", Text: `
output: {
	kind: "ConfigMap"
	data: {
		name: context.name
		app: context.appName
		ns: context.namespace
		cluster: context.cluster
		rev: context.appRevision
		revNum: "\(context.appRevisionNum)"
		workflow: context.workflowName
		publish: context.publishVersion
		minor: "\(context.clusterVersion.minor)"
		team: context.appLabels.team
		replica: context.replicaKey
	}
}`})
	require.NoError(t, err)
	res, err := tmpl.Render(Input{Context: Context{
		Name: "web", AppName: "shop", Namespace: "prod", Cluster: "eu-1", AppRevision: "shop-v3", AppRevisionNum: 3,
		WorkflowName: "shop", PublishVersion: "alpha", AppLabels: map[string]string{"team": "a"}, ReplicaKey: "r1",
	}})
	require.NoError(t, err)
	require.Equal(t, map[string]any{
		"name": "web", "app": "shop", "ns": "prod", "cluster": "eu-1", "rev": "shop-v3", "revNum": "3",
		"workflow": "shop", "publish": "alpha", "minor": "34", "team": "a", "replica": "r1",
	}, res.Output["data"])
}

// normalize turns every integer into int64 so expectations can be written plainly.
func normalize(v map[string]any) map[string]any {
	out, _ := normalizeInts(v).(map[string]any)
	return out
}

func normalizeInts(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			out[k] = normalizeInts(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalizeInts(e)
		}
		return out
	case int:
		return int64(x)
	}
	return v
}

// TestComprehensionEmbedsFilledValues guards against a CUE behaviour: values encoded from Go
// data lose their fields when a comprehension embeds them. Templates do this with
// context.output and parameters all the time, so inputs are filled through JSON.
func TestComprehensionEmbedsFilledValues(t *testing.T) {
	e := NewEngine(Options{})
	tmpl, err := e.Compile(Source{Name: "t", Filename: "t.cue", Text: `
output: {
	kind: "List"
	containers: [for c in context.output.spec.containers if c.name == "api" {c}]
	ports: [for p in parameter.ports {p}]
}
parameter: ports: [...{port: int}]
`})
	require.NoError(t, err)
	res, err := tmpl.Render(Input{
		Parameter: map[string]any{"ports": []any{map[string]any{"port": 80}}},
		Context: Context{Output: map[string]any{"spec": map[string]any{"containers": []any{
			map[string]any{"name": "api", "image": "x"}, map[string]any{"name": "other"},
		}}}},
	})
	require.NoError(t, err)
	require.Equal(t, []any{map[string]any{"name": "api", "image": "x"}}, res.Output["containers"])
	require.Equal(t, []any{map[string]any{"port": int64(80)}}, normalizeInts(res.Output["ports"]))
}

func TestRenderMemoReturnsIndependentCopies(t *testing.T) {
	e := NewEngine(Options{})
	tmpl, err := e.Compile(Source{Name: "webservice", Filename: "webservice.cue", Text: deploymentTemplate})
	require.NoError(t, err)
	in := Input{Parameter: map[string]any{"image": "nginx"}, Context: Context{Name: "web"}}
	first, err := tmpl.Render(in)
	require.NoError(t, err)
	first.Output["metadata"].(map[string]any)["name"] = "changed by the caller"

	second, err := tmpl.Render(in)
	require.NoError(t, err)
	require.Equal(t, "web", second.Output["metadata"].(map[string]any)["name"])
	require.Equal(t, 1, e.Stats().Evaluations)

	in.Context.Cluster = "eu-1"
	_, err = tmpl.Render(in)
	require.NoError(t, err)
	require.Equal(t, 1, e.Stats().Evaluations, "the template does not read context.cluster: the same render")

	in.Context.Name = "api"
	other, err := tmpl.Render(in)
	require.NoError(t, err)
	require.Equal(t, 2, e.Stats().Evaluations, "another input is evaluated, not memoized")
	require.Equal(t, "api", other.Output["metadata"].(map[string]any)["name"])

	off := NewEngine(Options{MaxResults: -1})
	tmpl, err = off.Compile(Source{Name: "webservice", Filename: "webservice.cue", Text: deploymentTemplate})
	require.NoError(t, err)
	for i := 0; i < 3; i++ {
		_, err = tmpl.Render(in)
		require.NoError(t, err)
	}
	require.Equal(t, Stats{Compiles: 1, Evaluations: 3}, off.Stats())
}

func TestIncompleteOutputsAreTemplateErrors(t *testing.T) {
	e := NewEngine(Options{})
	for name, text := range map[string]string{
		"whole output": "output: parameter.missing\nparameter: {...}\n",
		"one output":   "output: {kind: \"A\"}\noutputs: svc: parameter.missing\nparameter: {...}\n",
	} {
		t.Run(name, func(t *testing.T) {
			tmpl, err := e.Compile(Source{Name: name, Filename: "t.cue", Text: text})
			require.NoError(t, err)
			_, err = tmpl.Render(Input{})
			var terr *TemplateError
			require.ErrorAs(t, err, &terr)
			require.Contains(t, err.Error(), "missing")
		})
	}
}

func TestToolImportsAreRejected(t *testing.T) {
	for _, pkg := range []string{"tool/exec", "tool/file", "tool/http", "tool/os"} {
		_, err := NewEngine(Options{}).Compile(Source{Name: "evil", Filename: "evil.cue", Text: "import \"" + pkg + "\"\n\nx: 1\n"})
		require.ErrorContains(t, err, `evil.cue:1:8: import "`+pkg+`" is not allowed`)
	}
}

func TestObjectProblems(t *testing.T) {
	e := NewEngine(Options{})
	tmpl, err := e.Compile(Source{Name: "t", Filename: "t.cue", Text: `output: {
	kind: "Deployment"
}
outputs: {
	good: {apiVersion: "v1", kind: "Service"}
	text: "not an object"
	open: parameter.obj
}
parameter: obj: {...}
`})
	require.NoError(t, err)
	require.Equal(t, []string{
		"t.cue:1:1: output: a Kubernetes object needs apiVersion",
		"t.cue:6:2: outputs.text: must be a Kubernetes object, got string",
	}, tmpl.ObjectProblems(), "outputs.open comes from a parameter: judged when rendering")
	require.True(t, tmpl.HasParameter())
}

func TestBuiltinFunctionAsOutputIsAnError(t *testing.T) {
	tmpl, err := NewEngine(Options{}).Compile(Source{Name: "odd", Filename: "odd.cue", Text: "output: or\n"})
	require.NoError(t, err)
	_, err = tmpl.Render(Input{})
	require.Error(t, err, "no panic")
}

// TestConcurrentRenders renders from many goroutines at once, as a controller with several
// workers does; run with -race it checks that the engine's locking is sound.
func TestConcurrentRenders(t *testing.T) {
	e := NewEngine(Options{MaxResults: 8})
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 8; j++ {
				tmpl, err := e.Compile(Source{Name: "webservice", Filename: "webservice.cue", Text: deploymentTemplate})
				if err != nil {
					errs <- err
					return
				}
				res, err := tmpl.Render(Input{Parameter: map[string]any{"image": fmt.Sprintf("nginx:%d", j)}, Context: Context{Name: fmt.Sprintf("w%d", i)}})
				if err != nil {
					errs <- err
					return
				}
				if got := res.Output["metadata"].(map[string]any)["name"]; got != fmt.Sprintf("w%d", i) {
					errs <- fmt.Errorf("render %d/%d got name %v", i, j, got)
				}
				if _, err := e.Eval(`inputs.x + 1`, map[string]any{"inputs": map[string]any{"x": int64(j)}}); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, 2, e.Stats().Compiles, "one template and one expression compiled, once each")
}

// TestUnknownParametersRememberedByShape renders properties of the same shape with other
// values, and of other shapes: the remembered check must answer exactly as a fresh one.
func TestUnknownParametersRememberedByShape(t *testing.T) {
	e := NewEngine(Options{MaxResults: -1})
	tmpl, err := e.Compile(Source{Name: "webservice", Filename: "webservice.cue", Text: deploymentTemplate})
	require.NoError(t, err)
	render := func(params map[string]any) []string {
		_, err := tmpl.Render(Input{Parameter: params, Context: Context{Name: "web"}})
		if err == nil {
			return nil
		}
		var perr *ParameterError
		require.ErrorAs(t, err, &perr)
		var paths []string
		for _, f := range perr.Errors {
			paths = append(paths, f.PathString()+": "+f.Message)
		}
		return paths
	}
	for _, tt := range []struct {
		name   string
		params map[string]any
		want   []string
	}{
		{"typo", map[string]any{"image": "a", "imagee": "b"}, []string{`imagee: unknown parameter (did you mean "image"?)`}},
		{"same shape, other values", map[string]any{"image": "c", "imagee": int64(3)}, []string{`imagee: unknown parameter (did you mean "image"?)`}},
		{"no typo", map[string]any{"image": "c"}, nil},
		{"typo in a list element", map[string]any{"image": "c", "ports": []any{map[string]any{"port": int64(1)}, map[string]any{"prot": int64(2)}}},
			[]string{`ports[1].port: required but not given (expected int)`, `ports[1].prot: unknown parameter (did you mean "port"?)`}},
		{"same keys, the list element fixed", map[string]any{"image": "c", "ports": []any{map[string]any{"port": int64(1)}, map[string]any{"port": int64(2)}}}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, render(tt.params))
		})
	}
}

// TestUnknownParametersInDisjunctionsAndOpenStructs: the unknown-parameter check looks into
// the elements of a list parameter with a default (*[] | [...{...}]) or a validator
// ([...{...}] & list.MinItems(1)), and leaves alone what a
// schema declares open ({...}, with or without a default), where every key is allowed.
func TestUnknownParametersInDisjunctionsAndOpenStructs(t *testing.T) {
	const template = `
import "list"

output: {apiVersion: "v1", kind: "ConfigMap", metadata: name: context.name}
parameter: {
	items: *[] | [...{name: string, size?: int}]
	some?: [...{name: string}] & list.MinItems(1)
	tags?: [...{key: string}]
	data: *{} | {...}
	open: {...}
	labels: *{} | {[string]: string}
	nested: *[] | [...{inner: *{} | {...}, deep: *[] | [...{leaf?: string}]}]
}`
	e := NewEngine(Options{MaxResults: -1})
	tmpl, err := e.Compile(Source{Name: "t", Filename: "t.cue", Text: template})
	require.NoError(t, err)
	for _, tt := range []struct {
		name   string
		params map[string]any
		want   []string
	}{
		{"known fields in list elements", map[string]any{"items": []any{map[string]any{"name": "a", "size": int64(1)}}}, nil},
		{"typo in an element of a defaulted list", map[string]any{"items": []any{map[string]any{"name": "a", "szie": int64(1)}}},
			[]string{`items[0].szie: unknown parameter (did you mean "size"?)`}},
		{"typo in an element of a list with a validator", map[string]any{"some": []any{map[string]any{"nme": "a"}}},
			[]string{`some[0].name: required but not given (expected string)`, `some[0].nme: unknown parameter (did you mean "name"?)`}},
		{"typo in an element of an optional list", map[string]any{"tags": []any{map[string]any{"key": "a", "value": "b"}}},
			[]string{`tags[0].value: unknown parameter`}},
		{"any key in an open struct with a default", map[string]any{"data": map[string]any{"a": "b", "c": map[string]any{"d": "e"}}}, nil},
		{"any key in an open struct", map[string]any{"open": map[string]any{"x": int64(1)}}, nil},
		{"any key in a pattern struct", map[string]any{"labels": map[string]any{"x": "y"}}, nil},
		{"deeper lists and open structs", map[string]any{"nested": []any{map[string]any{
			"inner": map[string]any{"anything": "goes"},
			"deep":  []any{map[string]any{"leaf": "a"}, map[string]any{"laef": "b"}},
		}}}, []string{`nested[0].deep[1].laef: unknown parameter (did you mean "leaf"?)`}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tmpl.Render(Input{Parameter: tt.params, Context: Context{Name: "x"}})
			require.Equal(t, tt.want, fieldErrorLines(t, err, func(FieldError) bool { return true }))
		})
	}
}

// TestValidationLevels: an unknown parameter is an error (strict, the default), a warning in
// the result (warn) or nothing (ignore); the render goes on without it in the last two, and a
// wrong value stays an error in all three.
func TestValidationLevels(t *testing.T) {
	given := map[string]any{"image": "nginx", "imagee": "typo"}
	for _, tt := range []struct {
		mode     Validation
		wantErr  string
		warnings []string
	}{
		{"", `parameter imagee: unknown parameter (did you mean "image"?)`, nil},
		{ValidateStrict, `parameter imagee: unknown parameter (did you mean "image"?)`, nil},
		{ValidateWarn, "", []string{`imagee: unknown parameter (did you mean "image"?)`}},
		{ValidateIgnore, "", nil},
	} {
		t.Run(string(tt.mode), func(t *testing.T) {
			e := NewEngine(Options{Validation: tt.mode})
			tmpl, err := e.Compile(Source{Name: "webservice", Filename: "webservice.cue", Text: deploymentTemplate})
			require.NoError(t, err)
			for range 2 { // the second render comes from the memo and must say the same
				res, err := tmpl.Render(Input{Parameter: given, Context: Context{Name: "web"}})
				if tt.wantErr != "" {
					require.ErrorContains(t, err, tt.wantErr)
					continue
				}
				require.NoError(t, err)
				var got []string
				for _, w := range res.Warnings {
					require.True(t, w.Unknown)
					got = append(got, w.PathString()+": "+w.Message)
				}
				require.Equal(t, tt.warnings, got)
				require.NotContains(t, fmt.Sprint(res.Output), "typo", "the unknown parameter is not rendered")
			}
			_, err = tmpl.Render(Input{Parameter: map[string]any{"image": int64(3), "imagee": "typo"}, Context: Context{Name: "web"}})
			require.ErrorContains(t, err, "parameter image:", "a wrong value is an error at every level")
		})
	}
	_, err := ParseValidation("lenient")
	require.EqualError(t, err, `unknown validation "lenient": use strict, warn or ignore`)
}

// TestUnknownParameterInsideAClosedDefinition: a parameter typed by a definition is closed, so
// CUE refuses an unknown field itself. Strict, it is reported once; warn and ignore render
// without it.
func TestUnknownParameterInsideAClosedDefinition(t *testing.T) {
	const template = `
#Mount: {name: string, path: string}
output: {apiVersion: "v1", kind: "ConfigMap", metadata: name: context.name, data: {for m in parameter.mounts {"\(m.name)": m.path}}}
parameter: mounts: [...#Mount]`
	given := map[string]any{"mounts": []any{map[string]any{"name": "a", "path": "/a", "pth": "/b"}}}
	for _, tt := range []struct {
		mode     Validation
		wantErrs []string
		warnings int
	}{
		{ValidateStrict, []string{`mounts[0].pth: unknown parameter (did you mean "path"?)`}, 0},
		{ValidateWarn, nil, 1},
		{ValidateIgnore, nil, 0},
	} {
		t.Run(string(tt.mode), func(t *testing.T) {
			tmpl, err := NewEngine(Options{Validation: tt.mode}).Compile(Source{Name: "t", Filename: "t.cue", Text: template})
			require.NoError(t, err)
			res, err := tmpl.Render(Input{Parameter: given, Context: Context{Name: "x"}})
			if tt.wantErrs != nil {
				var perr *ParameterError
				require.ErrorAs(t, err, &perr)
				var got []string
				for _, f := range perr.Errors {
					got = append(got, f.PathString()+": "+f.Message)
				}
				require.Equal(t, tt.wantErrs, got)
				return
			}
			require.NoError(t, err)
			require.Len(t, res.Warnings, tt.warnings)
			require.Equal(t, map[string]any{"a": "/a"}, res.Output["data"])
			require.Equal(t, "/b", given["mounts"].([]any)[0].(map[string]any)["pth"], "the caller's properties are not changed")
		})
	}
}

// TestUnknownParameterUnderADisjunctionIsReportedAlone: with a parameter schema that is a
// disjunction of closed structs (KubeVela's single or `containers` form), a typo is reported as
// the unknown parameter it is, without CUE's consequences (the other branch refusing fields).
func TestUnknownParameterUnderADisjunctionIsReportedAlone(t *testing.T) {
	const template = `
#P: {image: string, containerName: *"" | string}
output: {apiVersion: "v1", kind: "ConfigMap", metadata: name: context.name}
parameter: *#P | close({containers: [...#P]})`
	tmpl, err := NewEngine(Options{}).Compile(Source{Name: "t", Filename: "t.cue", Text: template})
	require.NoError(t, err)
	for _, tt := range []struct {
		given map[string]any
		want  []string
	}{
		{map[string]any{"image": "a", "imgae": "b"}, []string{`imgae: unknown parameter (did you mean "image"?)`}},
		{map[string]any{"containers": []any{map[string]any{"image": "a", "contanerName": "x"}}},
			[]string{`containers[0].contanerName: unknown parameter (did you mean "containerName"?)`}},
	} {
		_, err := tmpl.Render(Input{Parameter: tt.given, Context: Context{Name: "x"}})
		var perr *ParameterError
		require.ErrorAs(t, err, &perr)
		var got []string
		for _, f := range perr.Errors {
			got = append(got, f.PathString()+": "+f.Message)
		}
		require.Equal(t, tt.want, got)
	}
}

// TestUnknownParametersUnderAConditionOnOtherFields: a field a schema declares only when
// another field has some value (KubeVela's volumes trait: if type == "pvc" {claimName: string})
// is known when the given values meet the condition and unknown when they do not, whatever
// order the renders come in (the answer depends on values, so it is not remembered by shape).
func TestUnknownParametersUnderAConditionOnOtherFields(t *testing.T) {
	const template = `
output: {apiVersion: "v1", kind: "ConfigMap", metadata: name: context.name}
parameter: volumes: [...{
	name: string
	type: *"emptyDir" | "pvc"
	if type == "emptyDir" {medium: *"" | "Memory"}
	if type == "pvc" {claimName: string}
}]`
	e := NewEngine(Options{MaxResults: -1})
	tmpl, err := e.Compile(Source{Name: "t", Filename: "t.cue", Text: template})
	require.NoError(t, err)
	volume := func(typ, key string) map[string]any {
		return map[string]any{"volumes": []any{map[string]any{"name": "v", "type": typ, key: "x"}}}
	}
	for _, tt := range []struct {
		name   string
		params map[string]any
		want   []string
	}{
		{"a field of the type given", volume("pvc", "claimName"), nil},
		{"the same shape with another type", volume("emptyDir", "claimName"), []string{`volumes[0].claimName: unknown parameter`}},
		{"a field of the default type", map[string]any{"volumes": []any{map[string]any{"name": "v", "medium": "Memory"}}}, nil},
		{"a typo beside the type", volume("pvc", "claimNmae"), []string{`volumes[0].claimNmae: unknown parameter`}},
		{"the first shape again", volume("pvc", "claimName"), nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tmpl.Render(Input{Parameter: tt.params, Context: Context{Name: "x"}})
			require.Equal(t, tt.want, fieldErrorLines(t, err, func(f FieldError) bool { return f.Unknown }))
		})
	}
}

// fieldErrorLines lists "path: message" of the parameter errors of err that keep selects; err
// must be nil or a *ParameterError.
func fieldErrorLines(t *testing.T, err error, keep func(FieldError) bool) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	var perr *ParameterError
	require.ErrorAs(t, err, &perr)
	var lines []string
	for _, f := range perr.Errors {
		if keep(f) {
			lines = append(lines, f.PathString()+": "+f.Message)
		}
	}
	return lines
}

// TestContextNarrowedToWhatTheTemplateReads: a template is filled, and its render keyed, with
// the context fields it reads; one that uses context as a whole gets all of them.
func TestContextNarrowedToWhatTheTemplateReads(t *testing.T) {
	full := Context{
		Name: "web", AppName: "shop", Namespace: "prod", Cluster: "eu-1", AppRevision: "shop-v2",
		AppRevisionNum: 2, AppLabels: map[string]string{"team": "a"}, ReplicaKey: "r1",
		ClusterVersion: ClusterVersion{Major: "1", Minor: 30},
		Output:         map[string]any{"kind": "Deployment"},
		Extra:          map[string]any{"stepName": "deploy", "references": []any{}},
	}
	cases := []struct {
		name     string
		template string
		want     Context
	}{
		{"reads nothing", `patch: spec: replicas: parameter.replicas`, Context{Extra: map[string]any{}}},
		{"reads fields", `name: context.name + "-" + context.appLabels["team"]
steps: "\(context.stepName)"
minor: context.clusterVersion.minor`, Context{
			Name: "web", AppLabels: map[string]string{"team": "a"}, ClusterVersion: ClusterVersion{Major: "1", Minor: 30},
			Extra: map[string]any{"stepName": "deploy"},
		}},
		{"reads the workload", `image: context.output.spec.image`, Context{Output: map[string]any{"kind": "Deployment"}, Extra: map[string]any{}}},
		{"uses context whole", `_ctx: context
name: _ctx.name`, Context{
			Name: "web", AppName: "shop", Namespace: "prod", Cluster: "eu-1", AppRevision: "shop-v2",
			AppRevisionNum: 2, AppLabels: map[string]string{"team": "a"}, ReplicaKey: "r1",
			ClusterVersion: ClusterVersion{Major: "1", Minor: 30},
			Output:         map[string]any{"kind": "Deployment"},
			Extra:          map[string]any{"stepName": "deploy", "references": []any{}},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			require.Equal(t, c.want, scanContextReads(c.template).narrow(full))
		})
	}
}
