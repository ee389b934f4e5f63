package cue

import (
	"strings"

	"cuelang.org/go/cue/ast"
)

// Patch strategies a template can set with a `// +patchStrategy=` comment.
const (
	// StrategyRetainKeys makes the patch's value win: scalars are replaced and structs keep
	// only the keys the patch sets.
	StrategyRetainKeys = "retainKeys"
	// StrategyReplace replaces the value wholesale, e.g. a list.
	StrategyReplace = "replace"
	// StrategyJSONPatch treats the patch as RFC 6902 `operations`; only on the patch root.
	StrategyJSONPatch = "jsonPatch"
	// StrategyJSONMergePatch applies the patch as an RFC 7386 merge patch.
	StrategyJSONMergePatch = "jsonMergePatch"
)

// annotation is what the comments before one field say.
type annotation struct {
	// keys are the `+patchKey=` keys that identify list elements.
	keys []string
	// strategy is the `+patchStrategy=` value.
	strategy string
	// each marks an open list whose element applies to every element of the list patched,
	// `containers: [...{lifecycle: ...}]`.
	each bool
}

// annotations maps a field path (list elements as "[]", joined by ".") to its annotation.
type annotations map[string]annotation

// under returns the annotations below a top-level field, re-rooted at it ("" is the field).
func (a annotations) under(field string) annotations {
	out := annotations{}
	for p, an := range a {
		switch {
		case p == field:
			out[""] = an
		case strings.HasPrefix(p, field+"."):
			out[p[len(field)+1:]] = an
		}
	}
	return out
}

// collectPatchAnnotations reads `// +patchKey=` and `// +patchStrategy=` comments from the
// syntax tree once, at compile time, so that rendering need not look at comments. A reference
// to a top-level field (`patch: spec: template: spec: _podSpec`) is followed, so comments in
// helper fields apply where the helper is used.
func collectPatchAnnotations(f *ast.File) annotations {
	w := &annotationWalker{out: annotations{}, tops: map[string]*ast.Field{}, following: map[string]bool{}, expanding: map[string]bool{}}
	for _, d := range f.Decls {
		if field, ok := d.(*ast.Field); ok {
			if name, _, err := ast.LabelName(field.Label); err == nil {
				w.tops[name] = field
			}
		}
	}
	w.walkDecls(f.Decls, "")
	return w.out
}

type annotationWalker struct {
	out       annotations
	tops      map[string]*ast.Field
	following map[string]bool
	// expanding holds the helpers being followed: a helper that refers to itself, directly
	// or not (`#A: {a?: #A}`, valid CUE), is not followed again inside itself.
	expanding map[string]bool
}

func joinPath(parent, child string) string {
	if parent == "" {
		return child
	}
	return parent + "." + child
}

func (w *annotationWalker) walkDecls(decls []ast.Decl, path string) {
	for _, d := range decls {
		switch d := d.(type) {
		case *ast.Field:
			name, _, err := ast.LabelName(d.Label)
			if err != nil {
				continue
			}
			p := joinPath(path, name)
			// In the shorthand `spec: replicas: x` a comment above the line is about the
			// innermost field, as KubeVela users write it.
			target := p
			for inner := shorthandField(d); inner != nil; inner = shorthandField(inner) {
				innerName, _, err := ast.LabelName(inner.Label)
				if err != nil {
					break
				}
				target = joinPath(target, innerName)
			}
			record(w.out, target, d)
			record(w.out, target, d.Label)
			w.walkExpr(d.Value, p)
		case *ast.Comprehension:
			w.walkExpr(d.Value, path)
		case *ast.EmbedDecl:
			record(w.out, path, d)
			w.walkExpr(d.Expr, path)
		}
	}
}

func (w *annotationWalker) walkExpr(e ast.Expr, path string) {
	switch e := e.(type) {
	case *ast.StructLit:
		w.walkDecls(e.Elts, path)
	case *ast.ListLit:
		for _, el := range e.Elts {
			if c, ok := el.(*ast.Comprehension); ok {
				w.walkExpr(c.Value, path+".[]")
				continue
			}
			if ell, ok := el.(*ast.Ellipsis); ok {
				if ell.Type != nil && path != "" {
					an := w.out[path]
					an.each = true
					w.out[path] = an
					w.walkExpr(ell.Type, path+".[]")
				}
				continue
			}
			w.walkExpr(el, path+".[]")
		}
	case *ast.BinaryExpr:
		w.walkExpr(e.X, path)
		w.walkExpr(e.Y, path)
	case *ast.ParenExpr:
		w.walkExpr(e.X, path)
	case *ast.UnaryExpr:
		w.walkExpr(e.X, path)
	case *ast.Ident:
		// Follow a reference to a top-level helper field, once per place it is used.
		if top, ok := w.tops[e.Name]; ok && path != "" && !w.expanding[e.Name] {
			key := e.Name + "\x00" + path
			if !w.following[key] {
				w.following[key] = true
				record(w.out, path, top)
				w.expanding[e.Name] = true
				w.walkExpr(top.Value, path)
				delete(w.expanding, e.Name)
			}
		}
	}
}

func record(out annotations, path string, n ast.Node) {
	for _, cg := range ast.Comments(n) {
		for _, c := range cg.List {
			text := strings.TrimSpace(strings.TrimPrefix(c.Text, "//"))
			an := out[path]
			switch {
			case strings.HasPrefix(text, "+patchKey="):
				for _, k := range strings.Split(strings.TrimPrefix(text, "+patchKey="), ",") {
					if k = strings.TrimSpace(k); k != "" {
						an.keys = append(an.keys, k)
					}
				}
			case strings.HasPrefix(text, "+patchStrategy="):
				an.strategy = strings.TrimSpace(strings.TrimPrefix(text, "+patchStrategy="))
			default:
				continue
			}
			out[path] = an
		}
	}
}

// shorthandField returns the single field of `a: b: x` written without braces, or nil.
func shorthandField(f *ast.Field) *ast.Field {
	st, ok := f.Value.(*ast.StructLit)
	if !ok || st.Lbrace.IsValid() || len(st.Elts) != 1 {
		return nil
	}
	inner, _ := st.Elts[0].(*ast.Field)
	return inner
}
