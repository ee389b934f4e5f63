package cue

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestEval(t *testing.T) {
	e := NewEngine(Options{})
	vars := map[string]any{
		"status":  map[string]any{"build": map[string]any{"phase": "failed", "failed": true}},
		"inputs":  map[string]any{"replicas": int64(3), "env": "prod"},
		"context": map[string]any{"name": "shop"},
	}
	tests := []struct {
		expr    string
		want    any
		wantErr string
	}{
		{`status.build.phase == "failed"`, true, ""},
		{`status.build.failed && inputs.env == "prod"`, true, ""},
		{`inputs.replicas > 5`, false, ""},
		{`"app-\(context.name)"`, "app-shop", ""},
		{`{n: inputs.replicas * 2}`, map[string]any{"n": int64(6)}, ""},
		{`status.deploy.phase == "succeeded"`, nil, "expression"},
		{`inputs.replicas ==`, nil, "expected operand"},
		{`)`, nil, "expression"},
		{"1\nextra: 2", nil, "expression"},
		{`   `, nil, "empty expression"},
		{`or`, nil, "cannot decode"},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			got, err := e.Eval(tt.expr, vars)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func FuzzEval(f *testing.F) {
	for _, seed := range []string{`status.a.phase == "failed"`, `inputs.x`, `"\(context.name)"`, `[for x in inputs.l {x}]`, `)(`, `{`, `1 &`, `or`, `len`} {
		f.Add(seed)
	}
	e := NewEngine(Options{MaxTemplates: 1000})
	vars := map[string]any{"status": map[string]any{"a": map[string]any{"phase": "failed"}}, "inputs": map[string]any{"x": "y", "l": []any{int64(1)}}, "context": map[string]any{"name": "n"}}
	f.Fuzz(func(t *testing.T, expr string) {
		_, _ = e.Eval(expr, vars) // errors are fine; panics and hangs are not
	})
}

func TestParseClusterVersion(t *testing.T) {
	tests := []struct {
		in      string
		want    ClusterVersion
		wantErr bool
	}{
		{in: "v1.34.2", want: ClusterVersion{Major: "1", Minor: 34, GitVersion: "v1.34.2"}},
		{in: "v1.30.2-eks-1234", want: ClusterVersion{Major: "1", Minor: 30, GitVersion: "v1.30.2-eks-1234"}},
		{in: "1.28+", want: ClusterVersion{Major: "1", Minor: 28, GitVersion: "1.28+"}},
		{in: "v1", wantErr: true},
		{in: "v1.x.0", wantErr: true},
		{in: "", wantErr: true},
	}
	for _, tt := range tests {
		got, err := ParseClusterVersion(tt.in, "")
		if tt.wantErr {
			require.Error(t, err, tt.in)
			continue
		}
		require.NoError(t, err, tt.in)
		require.Equal(t, tt.want, got)
	}
}

func TestExpressionBudget(t *testing.T) {
	bomb := "len([for a in [1,2,3,4,5,6,7,8,9,10] for b in [1,2,3,4,5,6,7,8,9,10] for c in [1,2,3,4,5,6,7,8,9,10] for d in [1,2,3,4,5,6,7,8,9,10] {a}]) > 0"
	tests := []struct {
		expr string
		want string
	}{
		{expr: `status.deploy.phase == "succeeded"`},
		{expr: `len([for s in inputs.hosts if s != "" {s}]) > 0`},
		{expr: bomb, want: "the expression exceeds its evaluation budget: 4 comprehension clauses (for ... in ...), at most 2"},
		{expr: `{for k, v in inputs.m for x in v for y in x {(k): y}}`, want: "3 comprehension clauses"},
		{expr: `"` + strings.Repeat("a", 3000) + `" != ""`, want: "3008 bytes, at most 2048"},
		{expr: `status.deploy.phase ==`, want: "not valid CUE"},
	}
	for _, tt := range tests {
		err := ExpressionBudget{}.Check(tt.expr)
		if tt.want == "" {
			require.NoError(t, err, tt.expr)
			continue
		}
		require.ErrorContains(t, err, tt.want)
	}
}

// TestEvalWithImports: an expression may start with imports of CUE's standard library, as
// KubeVela's valueFrom allows; other imports and anything but one expression after them are
// refused, saying so.
func TestEvalWithImports(t *testing.T) {
	e := NewEngine(Options{})
	got, err := e.Eval("import \"strconv\"\n\"Current star count: \" + strconv.FormatInt(response[\"stargazers_count\"], 10)\n",
		map[string]any{"response": map[string]any{"stargazers_count": int64(42)}})
	require.NoError(t, err)
	require.Equal(t, "Current star count: 42", got)

	got, err = e.Eval("import (\n\t\"strings\"\n\t\"encoding/json\"\n)\nstrings.ToUpper(json.Marshal(x))", map[string]any{"x": "a"})
	require.NoError(t, err)
	require.Equal(t, `"A"`, got)

	for expr, want := range map[string]string{
		"import \"vela/op\"\nop.#Apply":             `an expression may import CUE's standard library only`,
		"import \"example.com/x\"\nx.y":             `an expression may import CUE's standard library only`,
		"import \"strings\"\na: 1\nb: 2":            `after its imports it must be one expression`,
		"import \"strings\"\nstrings.ToUpper(\"a\"": `the expression is not valid CUE`,
	} {
		_, err := e.Eval(expr, nil)
		require.ErrorContains(t, err, want, expr)
	}
}
