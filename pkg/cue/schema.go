package cue

import (
	"strings"

	cuelang "cuelang.org/go/cue"
	"cuelang.org/go/cue/ast"
)

// Parameter describes one field of a template's `parameter` schema, for documentation.
type Parameter struct {
	// Name is the dotted path, e.g. ports[].port.
	Name string
	// Type is a short type, e.g. string, int, [...string], "a" | "b".
	Type string
	// Default is the default value in CUE syntax, or "".
	Default string
	// Required is true when the user must give the field.
	Required bool
	// Description comes from `// +usage=` comments.
	Description string
	// Open is true for a struct (or list of structs) written open, {name: string, ...}: keys
	// beside the declared ones are allowed.
	Open bool
}

// Parameters lists the template's parameters, nested fields after their parent.
func (t *Template) Parameters() []Parameter {
	var out []Parameter
	_ = t.use(func(in *instance) error {
		if schema := in.value.LookupPath(pathParameter); schema.Exists() {
			out = listParameters(schema, "", nil, 0)
		}
		return nil
	})
	return out
}

func listParameters(v cuelang.Value, prefix string, out []Parameter, depth int) []Parameter {
	if depth > 6 {
		return out
	}
	it, err := v.Fields(cuelang.Optional(true))
	if err != nil {
		return out
	}
	for it.Next() {
		fv := it.Value()
		name := it.Selector().Unquoted()
		if prefix != "" {
			name = prefix + "." + name
		}
		p := Parameter{
			Name:        name,
			Type:        typeString(fv),
			Description: usage(fv.Doc()),
		}
		if def, ok := defaultOf(fv); ok {
			p.Default = def
		}
		p.Required = !it.IsOptional() && p.Default == "" && fv.Validate(cuelang.Concrete(true)) != nil
		out = append(out, p)
		tv := typeOf(fv)
		if op, args := tv.Expr(); op == cuelang.AndOp && tv.IncompleteKind() == cuelang.BottomKind {
			// A type with validators that an abstract value does not meet yet, e.g.
			// [...{...}] & list.MinItems(1): list the type's fields.
			for _, a := range args {
				if k := a.IncompleteKind(); k == cuelang.StructKind || k == cuelang.ListKind {
					tv = a
					break
				}
			}
		}
		switch tv.IncompleteKind() {
		case cuelang.StructKind:
			out[len(out)-1].Open = declaredOpen(tv)
			out = listParameters(tv, name, out, depth+1)
		case cuelang.ListKind:
			if elem := tv.LookupPath(cuelang.MakePath(cuelang.AnyIndex)); elem.Exists() && elem.IncompleteKind() == cuelang.StructKind {
				out[len(out)-1].Open = declaredOpen(elem)
				out = listParameters(elem, name+"[]", out, depth+1)
			}
		}
	}
	return out
}

// defaultOf returns a default the template marked with `*`.
func defaultOf(v cuelang.Value) (string, bool) {
	// A value with a marked default is not concrete itself; a bare [...T] is concrete and its
	// implicit default [] is not one the author wrote.
	d, ok := v.Default()
	if !ok || v.IsConcrete() || d.Validate(cuelang.Concrete(true)) != nil {
		return "", false
	}
	b, err := d.MarshalJSON()
	if err != nil {
		return "", false
	}
	return string(b), true
}

// typeOf returns the value that describes a field's type: for `*[] | [...T]` CUE evaluates to
// the default, and the written type is the expression's single argument.
func typeOf(v cuelang.Value) cuelang.Value {
	if op, args := v.Expr(); op == cuelang.NoOp && len(args) == 1 {
		return args[0]
	}
	return v
}

// typeString renders a short type for a schema value.
func typeString(v cuelang.Value) string {
	v = typeOf(v)
	op, args := v.Expr()
	if op == cuelang.AndOp {
		// A type with validators, e.g. [...{...}] & list.MinItems(1): show the type.
		for _, a := range args {
			if k := a.IncompleteKind(); k != cuelang.TopKind && k != cuelang.BottomKind {
				return typeString(a)
			}
		}
	}
	if op == cuelang.OrOp && len(args) > 1 {
		// Literal alternatives such as the default of *1 | int or *{} | {[string]: string}
		// are left out when another alternative has their kind.
		typed := map[cuelang.Kind]bool{}
		for _, a := range args {
			if !isLiteral(a) {
				typed[a.IncompleteKind()] = true
			}
		}
		var parts []string
		seen := map[string]bool{}
		for _, a := range args {
			s := typeString(a)
			if isLiteral(a) {
				if typed[a.IncompleteKind()] {
					continue
				}
				if b, err := a.MarshalJSON(); err == nil {
					s = string(b)
				}
			}
			if !seen[s] {
				seen[s] = true
				parts = append(parts, s)
			}
		}
		return strings.Join(parts, " | ")
	}
	switch k := v.IncompleteKind(); k {
	case cuelang.ListKind:
		if elem := v.LookupPath(cuelang.MakePath(cuelang.AnyIndex)); elem.Exists() {
			return "[..." + typeString(elem) + "]"
		}
		return "list"
	case cuelang.StructKind:
		if isMap(v) {
			if elem := v.LookupPath(cuelang.MakePath(cuelang.AnyString)); elem.Exists() {
				return "map[string]" + typeString(elem)
			}
			return "{...}"
		}
		return "struct"
	case cuelang.StringKind, cuelang.IntKind, cuelang.BoolKind, cuelang.FloatKind, cuelang.NumberKind, cuelang.NullKind:
		return k.String()
	case cuelang.TopKind:
		return "any"
	default:
		return strings.ReplaceAll(k.String(), "|", " | ")
	}
}

// isLiteral reports whether a value is a written constant: a scalar, [] or {} without
// patterns.
func isLiteral(v cuelang.Value) bool {
	switch v.IncompleteKind() {
	case cuelang.StructKind:
		return isMap(v) && !v.LookupPath(cuelang.MakePath(cuelang.AnyString)).Exists()
	case cuelang.ListKind:
		if !v.IsConcrete() {
			return false
		}
		n, err := v.Len().Int64()
		return err == nil && n == 0 && !v.LookupPath(cuelang.MakePath(cuelang.AnyIndex)).Exists()
	default:
		return v.IsConcrete()
	}
}

// isMap reports whether a struct has no named fields, only a pattern or `...`.
func isMap(v cuelang.Value) bool {
	it, err := v.Fields(cuelang.Optional(true))
	if err != nil {
		return false
	}
	return !it.Next()
}

// usage extracts the `+usage=` text from doc comments.
func usage(groups []*ast.CommentGroup) string {
	var lines []string
	for _, g := range groups {
		for _, c := range g.List {
			text := strings.TrimSpace(strings.TrimPrefix(c.Text, "//"))
			if u, ok := strings.CutPrefix(text, "+usage="); ok {
				lines = append(lines, strings.TrimSpace(u))
			}
		}
	}
	return strings.Join(lines, " ")
}
