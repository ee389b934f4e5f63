package definition

import (
	"fmt"
	"slices"
	"sort"

	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/parser"
	"cuelang.org/go/cue/token"
)

// rewriteListAddition reads list addition (a + b on lists), which CUE no longer evaluates but
// KubeVela's older definitions still use, as list concatenation: `a + b` becomes
// `[for ferryItem in a {ferryItem}, for ferryItem in b {ferryItem}]`. An addition is a list addition when one of its sides is a
// list literal or another list addition. The rewrite keeps every line where it was (only
// columns after an addition on its line move), so errors still point at the template's lines.
// It returns the text unchanged, and no warnings, when there is nothing to rewrite or the text
// does not parse (compiling then reports why).
func rewriteListAddition(filename, text string) (string, []string) {
	file, err := parser.ParseFile(filename, text, parser.ParseComments)
	if err != nil {
		return text, nil
	}
	adds := map[*ast.BinaryExpr]int{} // list additions, by nesting depth
	var mark func(n ast.Expr, depth int) bool
	// mark reports whether n is a list addition (or a list literal), recording additions.
	mark = func(n ast.Expr, depth int) bool {
		switch x := n.(type) {
		case *ast.ParenExpr:
			return mark(x.X, depth)
		case *ast.ListLit:
			return true
		case *ast.BinaryExpr:
			if x.Op != token.ADD {
				return false
			}
			left, right := mark(x.X, depth+1), mark(x.Y, depth+1)
			if !left && !right {
				return false
			}
			adds[x] = depth
			// The other side of a list addition is a list too: additions inside it are list
			// additions.
			forceLists(x.X, depth+1, adds)
			forceLists(x.Y, depth+1, adds)
			return true
		}
		return false
	}
	ast.Walk(file, func(n ast.Node) bool {
		if e, ok := n.(*ast.BinaryExpr); ok && e.Op == token.ADD {
			if _, seen := adds[e]; !seen {
				mark(e, 0)
			}
		}
		return true // additions can be anywhere inside, e.g. in a comprehension's body
	}, nil)
	if len(adds) == 0 {
		return text, nil
	}
	type edit struct {
		offset int
		text   string
		// order breaks ties at one offset: openings of outer additions first, closings of
		// inner additions first.
		order int
	}
	var edits []edit
	var lines []int
	for e, depth := range adds {
		x := e.X.Pos().Offset()
		end := e.Y.End().Offset()
		op := e.OpPos.Offset()
		edits = append(edits,
			edit{offset: x, text: "[for ferryItem in ", order: depth},
			// " + " becomes " {ferryItem}, for ferryItem in " (the operator itself is removed below).
			edit{offset: op, text: opText, order: 0},
			edit{offset: end, text: " {ferryItem}]", order: -depth},
		)
		lines = append(lines, e.OpPos.Line())
	}
	// Apply from the end of the text, so that earlier offsets stay valid.
	sort.SliceStable(edits, func(i, j int) bool {
		if edits[i].offset != edits[j].offset {
			return edits[i].offset > edits[j].offset
		}
		return edits[i].order > edits[j].order
	})
	out := []byte(text)
	for _, ed := range edits {
		o := ed.offset
		if o < 0 || o > len(out) {
			return text, nil
		}
		if ed.text == opText {
			// Replace the "+" at o.
			out = append(out[:o], append([]byte(ed.text), out[o+1:]...)...)
			continue
		}
		out = append(out[:o], append([]byte(ed.text), out[o:]...)...)
	}
	if _, err := parser.ParseFile(filename, out); err != nil {
		return text, nil // not something this rewrite understands: let the compiler say why
	}
	sort.Ints(lines)
	lines = slices.Compact(lines)
	var warnings []string
	for _, l := range lines {
		warnings = append(warnings, fmt.Sprintf("%s:%d: list addition (a + b) is no longer CUE; it is read as list concatenation: write list.Concat([a, b])", filename, l))
	}
	return string(out), warnings
}

// opText replaces the "+" of a list addition.
const opText = "{ferryItem}, for ferryItem in"

// forceLists records the additions directly inside a list addition's side as list additions.
func forceLists(n ast.Expr, depth int, adds map[*ast.BinaryExpr]int) {
	switch x := n.(type) {
	case *ast.ParenExpr:
		forceLists(x.X, depth, adds)
	case *ast.BinaryExpr:
		if x.Op != token.ADD {
			return
		}
		if _, ok := adds[x]; !ok {
			adds[x] = depth
		}
		forceLists(x.X, depth+1, adds)
		forceLists(x.Y, depth+1, adds)
	}
}
