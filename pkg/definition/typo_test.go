package definition

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	ferrycue "github.com/ferryhq/ferry/pkg/cue"
)

// TestEveryBuiltinNamesATypoAnywhere: in every built-in definition, a key the schema does not
// have is reported as an unknown parameter at every struct and list-of-struct parameter, however
// the schema writes it (defaults, validators, conditions, disjunctions). A schema shape the
// check cannot see into would let a typo pass silently, as it once did for ref-objects' objects.
func TestEveryBuiltinNamesATypoAnywhere(t *testing.T) {
	reg, err := Builtin()
	require.NoError(t, err)
	engine := ferrycue.NewEngine(ferrycue.Options{})
	var all []*Definition
	for _, kind := range Kinds {
		all = append(all, reg.List(kind)...)
	}
	for _, d := range all {
		tmpl, err := engine.Compile(d.Source())
		require.NoError(t, err)
		for _, p := range tmpl.Parameters() {
			if (p.Type != "struct" && p.Type != "[...struct]") || p.Open {
				continue // scalars, and maps and open structs, where every key is allowed
			}
			t.Run(string(d.Kind)+"/"+d.Name+"/"+p.Name, func(t *testing.T) {
				given, where := typoAt(p.Name, p.Type == "[...struct]")
				_, err := tmpl.Render(ferrycue.Input{Parameter: given, Context: ferrycue.Context{Name: "c", AppName: "a", Namespace: "default"}})
				require.Error(t, err)
				require.Contains(t, err.Error(), where+": unknown parameter", "a typo at %s passes", where)
			})
		}
	}
}

// typoAt builds parameters with the key zzTypo at a dotted path (a[].b: the first element of
// list a); it returns them and the path an error names.
func typoAt(path string, list bool) (map[string]any, string) {
	var leaf any = map[string]any{"zzTypo": int64(1)}
	where := path + ".zzTypo"
	if list {
		leaf = []any{leaf}
		where = path + "[0].zzTypo"
	}
	parts := strings.Split(path, ".")
	for i := len(parts) - 1; i >= 0; i-- {
		name, elem := strings.CutSuffix(parts[i], "[]")
		if elem {
			leaf = []any{leaf}
		}
		leaf = map[string]any{name: leaf}
	}
	return leaf.(map[string]any), strings.ReplaceAll(where, "[]", "[0]")
}
