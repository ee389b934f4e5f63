package cue

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestWireRoundTrip sends a request and a response with every kind of value through the wire
// format: each comes back with its exact Go type, nil maps and lists stay nil and empty ones
// empty. Every truncation of a message is an error, never a panic.
func TestWireRoundTrip(t *testing.T) {
	values := map[string]any{
		"nil": nil, "true": true, "false": false, "int": 3, "int32": int32(-4), "int64": int64(1 << 40),
		"uint64": uint64(1 << 63), "float32": float32(1.5), "float": 3.0, "string": "ü",
		"map": map[string]any{"a": []any{}}, "nilMap": map[string]any(nil), "list": []any{int64(1), "x", nil},
		"emptyList": []any{}, "nilList": []any(nil), "strings": []string{"a", "b"}, "stringMap": map[string]string{"k": "v"},
	}
	req := &Request{
		Op: OpChain, Validation: ValidateWarn,
		Source: Source{Name: "n", Filename: "f.cue", Text: "x: 1", Snippet: true, Key: "k",
			Packages: []Package{{ImportPath: "vela/op", Filename: "op.cue", Text: "package op"}}},
		Input: Input{Parameter: values, Context: Context{Name: "web", AppRevisionNum: 7, Output: values, Outputs: map[string]any{},
			AppLabels: map[string]string{"a": "b"}, ClusterVersion: ClusterVersion{Major: "1", Minor: 31}, Extra: map[string]any{"stepName": "s"}}},
		Fills: []Fill{{Path: "apply", Field: "value", Value: values}},
		Chain: []WireStep{{Source: Source{Name: "t", Key: "k2"}, Parameter: map[string]any{"a": int64(1)}}},
		Expr:  "a", Vars: values, Name: "st",
		Status:      StatusTemplates{HealthPolicy: "isHealth: true", CustomStatus: "message: \"x\"", Details: "a: \"b\""},
		StatusInput: StatusInput{Output: values, Parameter: map[string]any{}},
	}
	data, err := req.MarshalBinary()
	require.NoError(t, err)
	var got Request
	require.NoError(t, got.UnmarshalBinary(data))
	require.Equal(t, *req, got)
	for i := range data {
		var partial Request
		require.Error(t, partial.UnmarshalBinary(data[:i]), "truncated at %d", i)
	}

	resp := &Response{
		Result: &WireResult{Output: values, Outputs: []NamedObject{{Name: "svc", Object: values}}, HasPatch: true,
			Patch: map[string]any{"spec": map[string]any{}}, PatchOutputs: map[string]map[string]any{"svc": {"a": "b"}},
			References: []map[string]any{{"kind": "Secret"}}, Warnings: []FieldError{{Path: []string{"a", "0"}, Message: "m", Unknown: true}}},
		Actions: []WireAction{{Path: "apply", Do: "apply", Fields: values, Incomplete: "waits"}},
		Value:   values, Eval: []any{int64(1)},
		Status: &Status{Healthy: true, Message: "ok", Details: map[string]string{"a": "b"}},
		Err: &WireError{Parameter: &ParameterError{Template: "t", Errors: []FieldError{{Path: []string{"image"}, Message: "required", Missing: true}}},
			Template: &TemplateError{Template: "t", Op: "evaluate", Details: []string{"f.cue:1:1: x"}}, Message: "m"},
		NeedSource: true,
		Chain:      []Prerendered{{Key: [32]byte{1, 2, 3}, Result: &WireResult{Output: map[string]any{"kind": "ConfigMap"}}}},
	}
	data, err = resp.MarshalBinary()
	require.NoError(t, err)
	var gotResp Response
	require.NoError(t, gotResp.UnmarshalBinary(data))
	require.Equal(t, *resp, gotResp)
	for i := range data {
		var partial Response
		require.Error(t, partial.UnmarshalBinary(data[:i]), "truncated at %d", i)
	}

	_, err = (&Request{Vars: map[string]any{"f": func() {}}}).MarshalBinary()
	require.ErrorContains(t, err, "cannot send a value of type func()")
	var bad Request
	require.Error(t, bad.UnmarshalBinary([]byte{0xff, 0xff, 0xff, 0xff, 0x0f}), "a length past the end")
}

// TestRenderKeys: a render's key is the same for equal inputs however their maps were built,
// and differs where CUE would see a different value: an int and a float, an empty list and
// none, another context.
func TestRenderKeys(t *testing.T) {
	e := NewEngine(Options{})
	tmpl, err := e.Compile(Source{Name: "t", Filename: "t.cue", Text: "output: {apiVersion: \"v1\", kind: \"ConfigMap\", data: a: \"\\(parameter.a)\"}\nparameter: a: _"})
	require.NoError(t, err)
	key := func(params map[string]any, ctx Context) [32]byte {
		k, ok := chainKey(tmpl, params, ctx)
		require.True(t, ok)
		return k
	}
	a := map[string]any{}
	b := map[string]any{}
	for i := range 50 {
		a[string(rune('a'+i%26))+string(rune('a'+i/26))] = int64(i)
	}
	for i := 49; i >= 0; i-- {
		b[string(rune('a'+i%26))+string(rune('a'+i/26))] = int64(i)
	}
	require.Equal(t, key(a, Context{Name: "x"}), key(b, Context{Name: "x"}))
	require.NotEqual(t, key(map[string]any{"a": int64(2)}, Context{}), key(map[string]any{"a": 2.0}, Context{}))
	require.NotEqual(t, key(map[string]any{"a": []any{}}, Context{}), key(map[string]any{"a": nil}, Context{}))
	require.NotEqual(t, key(a, Context{Name: "x"}), key(a, Context{Name: "y"}))
}
