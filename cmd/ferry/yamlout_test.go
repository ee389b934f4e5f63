package main

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"
)

// TestMarshalYAMLMatchesSigsYAML: dry-run writes objects without sigs.k8s.io/yaml's JSON round
// trip; the text is the same for every kind of value a render produces.
func TestMarshalYAMLMatchesSigsYAML(t *testing.T) {
	objects := []map[string]any{
		{},
		{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "x", "labels": map[string]any{"app.oam.dev/name": "a", "tier": "web"}}},
		{"ints": []any{int64(0), int64(-3), int64(1) << 62, int64(math.MinInt64)},
			"floats": []any{1.5, 1e6, 1e21, 1e22, 0.1, -2.25e-7, float64(3), 1e-7, 123456.789, 1.2345678e10, math.Copysign(0, -1), 9.3e18, math.MaxFloat64}},
		{"strings": []any{"", "yes", "on", "no", "null", "~", "123", "1.5", "0x1F", "a: b", "- x", "#c", "multi\nline\n", "trailing ", " lead", "tab\tin", "ünï", "'q'", "\"dq\"", "{a}", "[b]", "*x", "&y", "!t", "%p", "@at", "`bt`", "2026-11-29", "12:30", "1e3", ".5", "+1", "0o17", "NaN", ".inf"}},
		{"bools": []any{true, false}, "null": nil, "nested": []any{[]any{}, map[string]any{"k": []any{map[string]any{"a": nil}}}}},
		{"zKey": int64(1), "aKey": int64(2), "Key": int64(3), "key with space": int64(5), "k:colon": int64(6), "-dash": int64(7),
			"a10": int64(8), "a9": int64(9), "a2b": int64(10), "a10b": int64(11), "B": int64(15), "b": int64(16), "app.oam.dev/component": "x"},
		{"data": map[string]any{"script.sh": "#!/bin/sh\necho hi\n", "long": "a long line of text that goes on and on and on and on and on and on and on and on and on and on and on"}},
	}
	for _, obj := range objects {
		want, err := yaml.Marshal(obj)
		require.NoError(t, err)
		got, err := marshalYAML(obj)
		require.NoError(t, err)
		require.Equal(t, string(want), string(got))
	}
}

// TestMarshalYAMLIsDeterministic: keys the YAML encoder cannot order consistently ("9", "10",
// "1key", "_x") print the same way every time; sigs.k8s.io/yaml prints them in several orders.
func TestMarshalYAMLIsDeterministic(t *testing.T) {
	obj := map[string]any{"1key": int64(4), "10": int64(12), "9": int64(13), "_x": int64(14), "-dash": int64(7), "B": int64(15), "b0": int64(1), "b00": int64(2)}
	first, err := marshalYAML(obj)
	require.NoError(t, err)
	sigs := map[string]bool{}
	for range 200 {
		again, err := marshalYAML(obj)
		require.NoError(t, err)
		require.Equal(t, string(first), string(again))
		s, err := yaml.Marshal(obj)
		require.NoError(t, err)
		sigs[string(s)] = true
	}
	require.True(t, sigs[string(first)], "one of the orders sigs.k8s.io/yaml prints")
}
