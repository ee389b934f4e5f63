package definition

import (
	"fmt"
	"slices"
	"sort"
	"strings"

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
	lists := listFields(file)
	adds := map[*ast.BinaryExpr]int{} // list additions, by nesting depth
	var mark func(n ast.Expr, depth int) bool
	// mark reports whether n is a list addition, a list literal or a reference to a field
	// declared as a list, recording additions.
	mark = func(n ast.Expr, depth int) bool {
		switch x := n.(type) {
		case *ast.ParenExpr:
			return mark(x.X, depth)
		case *ast.ListLit:
			return true
		case *ast.Ident, *ast.SelectorExpr:
			return lists.refersToList(x)
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

// fieldLists knows which fields of a template are declared as lists: by dotted path from the
// template's top level (parameter.tags), and by label alone where every field of that label is
// a list.
type fieldLists struct {
	byPath map[string]bool
	byName map[string]bool
}

// listFields collects the fields whose value is a list literal, or a disjunction of them
// (*[] | [...string]).
func listFields(file *ast.File) fieldLists {
	fl := fieldLists{byPath: map[string]bool{}, byName: map[string]bool{}}
	var walk func(decls []ast.Decl, prefix string, depth int)
	walk = func(decls []ast.Decl, prefix string, depth int) {
		if depth > 32 {
			return
		}
		for _, d := range decls {
			f, ok := d.(*ast.Field)
			if !ok {
				continue
			}
			name, _, err := ast.LabelName(f.Label)
			if err != nil {
				continue
			}
			path := prefix + name
			isList := listExpr(f.Value)
			fl.byPath[path] = isList
			if was, seen := fl.byName[name]; !seen || was {
				fl.byName[name] = isList
			}
			if st, ok := f.Value.(*ast.StructLit); ok {
				walk(st.Elts, path+".", depth+1)
			}
		}
	}
	walk(file.Decls, "", 0)
	return fl
}

// listExpr reports a list literal, or a disjunction (with a default) of list literals.
func listExpr(e ast.Expr) bool {
	switch x := e.(type) {
	case *ast.ListLit:
		return true
	case *ast.ParenExpr:
		return listExpr(x.X)
	case *ast.UnaryExpr:
		return x.Op == token.MUL && listExpr(x.X)
	case *ast.BinaryExpr:
		return x.Op == token.OR && listExpr(x.X) && listExpr(x.Y)
	}
	return false
}

// refersToList reports whether a reference (x, or x.y.z from the top level) names a field
// declared as a list.
func (fl fieldLists) refersToList(e ast.Expr) bool {
	var parts []string
	for {
		switch x := e.(type) {
		case *ast.Ident:
			parts = append([]string{x.Name}, parts...)
			if len(parts) == 1 {
				return fl.byName[x.Name]
			}
			return fl.byPath[strings.Join(parts, ".")]
		case *ast.SelectorExpr:
			name, _, err := ast.LabelName(x.Sel)
			if err != nil {
				return false
			}
			parts = append([]string{name}, parts...)
			e = x.X
		default:
			return false
		}
	}
}

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

// RewriteListAddition rewrites CUE's removed list arithmetic (`[a] + [b]`, `[x] * n`) in text
// into list.Concat / list.Repeat, as definitions get it, for other CUE that KubeVela users
// wrote against an older CUE (addon templates). It returns the text and what it rewrote.
func RewriteListAddition(filename, text string) (string, []string) {
	return rewriteListAddition(filename, text)
}
