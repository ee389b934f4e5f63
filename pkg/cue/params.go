package cue

import (
	"slices"
	"sort"
	"strconv"
	"strings"

	cuelang "cuelang.org/go/cue"
	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/token"

	"github.com/ferryhq/ferry/pkg/suggest"
)

// maxShapes bounds the unknown-parameter memo of one compiled template.
const maxShapes = 256

// unknownParametersByShape is unknownParameters on the template's schema, remembered by the
// shape of what was given. Callers must not change the returned errors.
func (t *instance) unknownParametersByShape(given map[string]any) []FieldError {
	var b strings.Builder
	var byValue bool
	if !writeShape(&b, given, 0) {
		return t.unknownParameters(t.schema, nil, given, nil, &byValue) // too deep to remember
	}
	key := b.String()
	if errs, ok := t.unknown[key]; ok {
		return append([]FieldError(nil), errs...)
	}
	errs := t.unknownParameters(t.schema, nil, given, nil, &byValue)
	if byValue {
		return errs // the answer depends on values, not only on the shape
	}
	if len(t.unknown) >= maxShapes {
		clear(t.unknown)
	}
	t.unknown[key] = errs
	return append([]FieldError(nil), errs...)
}

// writeShape writes what unknownParameters depends on: the keys of maps, the elements of
// lists, and which values are maps or lists; scalars are all alike. It returns false for
// values nested too deep to be worth remembering.
func writeShape(b *strings.Builder, v any, depth int) bool {
	if depth > 32 {
		return false
	}
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteByte('{')
		for _, k := range keys {
			b.WriteString(strconv.Quote(k))
			b.WriteByte(':')
			if !writeShape(b, x[k], depth+1) {
				return false
			}
			b.WriteByte(',')
		}
		b.WriteByte('}')
	case []any:
		b.WriteByte('[')
		for _, e := range x {
			if !writeShape(b, e, depth+1) {
				return false
			}
			b.WriteByte(',')
		}
		b.WriteByte(']')
	default:
		b.WriteByte('_')
	}
	return true
}

// unknownParameters reports properties the parameter schema does not allow, recursing into
// structs and lists of structs. KubeVela silently ignores such typos; Ferry names them. A field
// that a schema declares only under a condition on other fields (if type == "pvc" {claimName:
// string}) is allowed when the given values meet the condition; byValue is then set, as the
// answer depends on values and not only on the shape of what was given.
func (t *instance) unknownParameters(schema cuelang.Value, path []string, given map[string]any, errs []FieldError, byValue *bool) []FieldError {
	if schema.IncompleteKind() != cuelang.StructKind {
		return errs
	}
	// A disjunction such as *{} | {[string]: string} allows a field if any branch does.
	alternatives := []cuelang.Value{schema}
	if op, args := schema.Expr(); op == cuelang.OrOp {
		alternatives = args
	}
	var closed []cuelang.Value
	for i, alt := range alternatives {
		if declaredOpen(alt) {
			return errs // {...}: every key is allowed
		}
		if c, ok := t.closedAt(path, i, alt); ok {
			closed = append(closed, c)
		} else {
			return errs // a schema we cannot close: do not guess
		}
	}
	keys := make([]string, 0, len(given))
	for k := range given {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if !allAllowed(closed, keys) {
		alternatives, closed = t.withGivenScalars(alternatives, closed, given, keys)
		*byValue = true
	}
	for _, k := range keys {
		childPath := append(append([]string(nil), path...), k)
		branch := -1
		for i, c := range closed {
			if c.Allows(cuelang.Str(k)) {
				branch = i
				break
			}
		}
		if branch < 0 {
			errs = append(errs, FieldError{Path: childPath, Unknown: true,
				Message: "unknown parameter" + suggest.Hint(k, fieldNames(schema))})
			continue
		}
		child := lookupField(alternatives[branch], k)
		if !child.Exists() {
			continue
		}
		switch val := given[k].(type) {
		case map[string]any:
			errs = t.unknownParameters(child, childPath, val, errs, byValue)
		case []any:
			elem, ok := listElement(child)
			if !ok {
				continue
			}
			for i, item := range val {
				if m, ok := item.(map[string]any); ok {
					errs = t.unknownParameters(elem, append(append([]string(nil), childPath...), strconv.Itoa(i)), m, errs, byValue)
				}
			}
		}
	}
	return errs
}

// allAllowed reports whether some alternative allows each key.
func allAllowed(closed []cuelang.Value, keys []string) bool {
	for _, k := range keys {
		if !slices.ContainsFunc(closed, func(c cuelang.Value) bool { return c.Allows(cuelang.Str(k)) }) {
			return false
		}
	}
	return true
}

// withGivenScalars fills each alternative with the given scalar values of the fields it
// declares, so that fields declared under a condition on them appear, and closes it again. An
// alternative the values do not fit is left as it was.
func (t *instance) withGivenScalars(alternatives, closed []cuelang.Value, given map[string]any, keys []string) ([]cuelang.Value, []cuelang.Value) {
	outAlts := slices.Clone(alternatives)
	outClosed := slices.Clone(closed)
	for i, alt := range alternatives {
		filled := alt
		for _, k := range keys {
			switch given[k].(type) {
			case string, bool, int64, float64, int:
			default:
				continue
			}
			if !closed[i].Allows(cuelang.Str(k)) {
				continue
			}
			filled = filled.FillPath(cuelang.MakePath(cuelang.Str(k)), given[k])
		}
		if filled.Err() != nil {
			continue
		}
		ctx := t.rt.ctx
		holder := ctx.CompileString("x: _").FillPath(cuelang.ParsePath("x"), filled)
		c := ctx.CompileString("close(x)", cuelang.Scope(holder))
		if c.Err() != nil {
			continue
		}
		outAlts[i], outClosed[i] = filled, c
	}
	return outAlts, outClosed
}

// listElement returns the element schema of a list parameter. With a default, as in
// *[] | [...{...}], the value itself is the default (an empty list, without elements), so the
// element comes from the disjunction's branches. With a validator, as in
// [...{...}] & list.MinItems(1), the schema alone is an error (no elements yet), so the element
// comes from the conjunction's list.
func listElement(schema cuelang.Value) (cuelang.Value, bool) {
	candidates := []cuelang.Value{schema}
	if _, args := schema.Expr(); len(args) > 0 {
		candidates = append(candidates, args...)
	}
	for _, c := range candidates {
		if c.IncompleteKind() != cuelang.ListKind {
			continue
		}
		if elem := c.LookupPath(cuelang.MakePath(cuelang.AnyIndex)); elem.Exists() {
			return elem, true
		}
	}
	return cuelang.Value{}, false
}

// declaredOpen reports a struct schema written open, {...} (alone or as a branch of a
// disjunction, *{} | {...}): close() would reject every key.
func declaredOpen(schema cuelang.Value) bool {
	if openSyntax(schema.Source(), 0) {
		return true
	}
	_, args := schema.Expr()
	for _, a := range args {
		if openSyntax(a.Source(), 0) {
			return true
		}
	}
	return false
}

func openSyntax(node ast.Node, depth int) bool {
	if depth > 16 {
		return false
	}
	switch n := node.(type) {
	case *ast.Field:
		return openSyntax(n.Value, depth+1)
	case *ast.UnaryExpr: // *{...}
		return openSyntax(n.X, depth+1)
	case *ast.ParenExpr:
		return openSyntax(n.X, depth+1)
	case *ast.BinaryExpr:
		if n.Op == token.OR {
			return openSyntax(n.X, depth+1) || openSyntax(n.Y, depth+1)
		}
	case *ast.StructLit:
		for _, el := range n.Elts {
			if _, ok := el.(*ast.Ellipsis); ok {
				return true
			}
		}
	}
	return false
}

// closedAt returns close(schema) for a parameter path, cached per template. List indices share
// one entry, as every element has the same schema.
func (t *instance) closedAt(path []string, alternative int, schema cuelang.Value) (cuelang.Value, bool) {
	key := schemaKey(path) + "|" + strconv.Itoa(alternative)
	if v, ok := t.closed[key]; ok {
		return v, v.Err() == nil
	}
	ctx := t.rt.ctx
	holder := ctx.CompileString("x: _").FillPath(cuelang.ParsePath("x"), schema)
	closed := ctx.CompileString("close(x)", cuelang.Scope(holder))
	t.closed[key] = closed
	return closed, closed.Err() == nil
}

func schemaKey(path []string) string {
	parts := make([]string, len(path))
	for i, p := range path {
		if _, err := strconv.Atoi(p); err == nil {
			p = "[]"
		}
		parts[i] = p
	}
	return strings.Join(parts, "\x00")
}

func fieldNames(v cuelang.Value) []string {
	it, err := v.Fields(cuelang.Optional(true))
	if err != nil {
		return nil
	}
	var names []string
	for it.Next() {
		names = append(names, it.Selector().Unquoted())
	}
	return names
}

// lookupField finds a regular or optional field.
func lookupField(v cuelang.Value, name string) cuelang.Value {
	if f := v.LookupPath(cuelang.MakePath(cuelang.Str(name))); f.Exists() {
		return f
	}
	return v.LookupPath(cuelang.MakePath(cuelang.Str(name).Optional()))
}
