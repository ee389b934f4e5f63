package definition

import (
	"strings"
	"testing"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/cuecontext"
	"github.com/stretchr/testify/require"
)

// TestListAdditionIsReadAsConcatenation: KubeVela's older templates add lists with +, which
// CUE no longer evaluates. Ferry reads such additions as concatenation, with a warning naming
// the line, and leaves every other + alone.
func TestListAdditionIsReadAsConcatenation(t *testing.T) {
	for _, tt := range []struct {
		name, expr string
		want       string // the value, as JSON
		warns      bool
	}{
		{"two literals", `["a"] + ["b"]`, `["a","b"]`, true},
		{"a reference and a literal", `_base + ["c"]`, `["x","y","c"]`, true},
		{"three, left to right", `_base + _more + ["d"]`, `["x","y","z","d"]`, true},
		{"a literal first, references after", `["a"] + _base + _more`, `["a","x","y","z"]`, true},
		{"in parentheses", `(["a"] + ["b"]) + (_more + ["c"])`, `["a","b","z","c"]`, true},
		{"a comprehension", `[for s in _base {s + "!"}] + ["e"]`, `["x!","y!","e"]`, true},
		{"inside another expression", `len(_base + ["q"]) + 1`, `4`, true},
		{"inside a list", `[_base + ["q"], 2 + 3]`, `[["x","y","q"],5]`, true},
		{"numbers stay numbers", `1 + 2`, `3`, false},
		{"strings stay strings", `"a" + "b"`, `"ab"`, false},
		{"two references to fields declared as lists", `_base + _more`, `["x","y","z"]`, true},
		{"parameters declared as lists", `parameter.tags + parameter.more`, `["a","b"]`, true},
		{"two references to numbers", `_n + _n`, `2`, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			text := "_base: [\"x\", \"y\"]\n_more: [\"z\"]\n_n: 1\nparameter: {tags: *[\"a\"] | [...string], more: [...string] | *[\"b\"]}\nout: " + tt.expr + "\n"
			got, warnings := rewriteListAddition("t.cue", text)
			require.Equal(t, strings.Count(text, "\n"), strings.Count(got, "\n"), "lines stay where they were")
			if tt.warns {
				require.Equal(t, []string{"t.cue:5: list addition (a + b) is no longer CUE; it is read as list concatenation: write list.Concat([a, b])"}, warnings)
			} else {
				require.Empty(t, warnings)
				require.Equal(t, text, got)
			}
			v := cuecontext.New().CompileString(got).LookupPath(cue.ParsePath("out"))
			require.NoError(t, v.Err(), got)
			data, err := v.MarshalJSON()
			require.NoError(t, err, got)
			require.JSONEq(t, tt.want, string(data), got)
		})
	}
	// Text that does not parse is left to the compiler.
	got, warnings := rewriteListAddition("t.cue", "out: [1] + \n")
	require.Equal(t, "out: [1] + \n", got)
	require.Empty(t, warnings)
}
