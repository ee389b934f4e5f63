package cue

import (
	"fmt"
	"strings"

	cuelang "cuelang.org/go/cue"
	"cuelang.org/go/cue/ast"
	cueerrors "cuelang.org/go/cue/errors"
)

// ObjectProblems lists the `output` and `outputs.<name>` values of a template that cannot be
// Kubernetes objects — not a struct, or a struct without apiVersion or kind — each with its
// position. Values that only parameters decide are not judged.
func (t *Template) ObjectProblems() []string {
	var out []string
	_ = t.use(func(in *instance) error {
		out = in.objectProblems()
		return nil
	})
	return out
}

func (t *instance) objectProblems() []string {
	var out []string
	check := func(v cuelang.Value, name string) {
		pos := v.Pos()
		where := name
		if pos.IsValid() {
			where = fmt.Sprintf("%s:%d:%d: %s", pos.Filename(), pos.Line(), pos.Column(), name)
		}
		if !writtenOut(v) {
			return // a reference, e.g. to a parameter: decided when rendering
		}
		switch k := v.IncompleteKind(); {
		case k == cuelang.TopKind || k&cuelang.StructKind != 0 && k != cuelang.StructKind:
			return // decided by parameters
		case k != cuelang.StructKind:
			out = append(out, fmt.Sprintf("%s: must be a Kubernetes object, got %s", where, k))
			return
		}
		for _, field := range []string{"apiVersion", "kind"} {
			if !v.LookupPath(cuelang.ParsePath(field)).Exists() {
				out = append(out, fmt.Sprintf("%s: a Kubernetes object needs %s", where, field))
			}
		}
	}
	if o := t.value.LookupPath(pathOutput); o.Exists() {
		check(o, "output")
	}
	if outs := t.value.LookupPath(pathOutputs); outs.Exists() {
		if it, err := outs.Fields(); err == nil {
			for it.Next() {
				check(it.Value(), "outputs."+it.Selector().String())
			}
		}
	}
	return out
}

// writtenOut reports whether a value is written in the template as a literal, rather than taken
// from somewhere else.
func writtenOut(v cuelang.Value) bool {
	src := v.Source()
	if f, ok := src.(*ast.Field); ok {
		src = f.Value
	}
	switch src.(type) {
	case *ast.StructLit, *ast.BasicLit, *ast.ListLit, *ast.Interpolation:
		return true
	}
	return false
}

// HasParameter reports whether the template declares `parameter`.
func (t *Template) HasParameter() bool {
	has := false
	_ = t.use(func(in *instance) error {
		has = in.value.LookupPath(pathParameter).Exists()
		return nil
	})
	return has
}

// ReferenceProblems reports references to definitions (#Name) that do not exist anywhere in
// the template, e.g. an action a package does not have (kube.#Aply). Compiling reports them only at the top
// level; a render reaches them only when it evaluates that field.
func (t *Template) ReferenceProblems() []string {
	var out []string
	_ = t.use(func(in *instance) error {
		err := in.value.Validate(cuelang.Concrete(true)) // only then does CUE report them
		seen := map[string]bool{}
		for _, ce := range cueerrors.Errors(err) {
			format, args := ce.Msg()
			msg := fmt.Sprintf(format, args...)
			// Only definitions (#Name): a regular field may come with context or parameter,
			// which are open until a render fills them.
			if !strings.Contains(msg, "undefined field: #") {
				continue
			}
			where := strings.Join(ce.Path(), ".")
			if pos := ce.Position(); pos.IsValid() {
				where = fmt.Sprintf("%s:%d:%d: %s", pos.Filename(), pos.Line(), pos.Column(), where)
			}
			line := fmt.Sprintf("%s: %s", where, msg)
			if !seen[line] {
				seen[line] = true
				out = append(out, line)
			}
		}
		return nil
	})
	return out
}
