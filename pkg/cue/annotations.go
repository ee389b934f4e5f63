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
// syntax tree once, at compile time, so that rendering need not look at comments.
func collectPatchAnnotations(f *ast.File) annotations {
	out := annotations{}
	walkDecls(f.Decls, "", out)
	return out
}

func joinPath(parent, child string) string {
	if parent == "" {
		return child
	}
	return parent + "." + child
}

func walkDecls(decls []ast.Decl, path string, out annotations) {
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
			record(out, target, d)
			record(out, target, d.Label)
			walkExpr(d.Value, p, out)
		case *ast.Comprehension:
			walkExpr(d.Value, path, out)
		case *ast.EmbedDecl:
			record(out, path, d)
			walkExpr(d.Expr, path, out)
		}
	}
}

func walkExpr(e ast.Expr, path string, out annotations) {
	switch e := e.(type) {
	case *ast.StructLit:
		walkDecls(e.Elts, path, out)
	case *ast.ListLit:
		for _, el := range e.Elts {
			if c, ok := el.(*ast.Comprehension); ok {
				walkExpr(c.Value, path+".[]", out)
				continue
			}
			walkExpr(el, path+".[]", out)
		}
	case *ast.BinaryExpr:
		walkExpr(e.X, path, out)
		walkExpr(e.Y, path, out)
	case *ast.ParenExpr:
		walkExpr(e.X, path, out)
	case *ast.UnaryExpr:
		walkExpr(e.X, path, out)
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
