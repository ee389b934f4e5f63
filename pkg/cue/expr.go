package cue

import (
	"fmt"
	"sort"
	"strings"

	cuelang "cuelang.org/go/cue"
)

// exprField holds the value of an expression compiled by Eval.
const exprField = "ferry:value"

// Eval evaluates a CUE expression, such as a workflow step's `if` or an output's `valueFrom`,
// with the given variables in scope (e.g. status, inputs, context) and returns its concrete
// value. Compilation is cached by the expression and variable names. Malformed expressions and
// values that are not concrete are errors, never panics; CUE has no file or process access.
func (e *Engine) Eval(expr string, vars map[string]any) (any, error) {
	if strings.TrimSpace(expr) == "" {
		return nil, fmt.Errorf("empty expression")
	}
	if err := (ExpressionBudget{}).Check(expr); err != nil {
		return nil, fmt.Errorf("expression %q: %w", expr, err)
	}
	if e.opts.Sandbox != nil {
		resp, err := e.remote(fmt.Sprintf("expression %q", expr), &Request{Op: OpEval, Expr: expr, Vars: vars})
		if err != nil {
			return nil, err
		}
		return resp.Eval, nil
	}
	imports, body, err := splitImports(expr)
	if err != nil {
		return nil, fmt.Errorf("expression %q: %w", expr, err)
	}
	names := make([]string, 0, len(vars))
	for name := range vars {
		names = append(names, name)
	}
	sort.Strings(names)
	var src strings.Builder
	for _, imp := range imports {
		src.WriteString(imp + "\n")
	}
	for _, name := range names {
		fmt.Fprintf(&src, "%s: _\n", name)
	}
	// Parentheses keep the expression one expression: "a\nb: 1" cannot add fields.
	fmt.Fprintf(&src, "%q: (%s)\n", exprField, body)
	t, err := e.Compile(Source{Name: fmt.Sprintf("expression %q", expr), Filename: "expression", Text: src.String()})
	if err != nil {
		return nil, err
	}
	input, err := toExpr(vars, 0)
	if err != nil {
		return nil, fmt.Errorf("expression %q: %w", expr, err)
	}
	var out any
	err = t.use(func(in *instance) error {
		v := in.value.Unify(in.rt.ctx.BuildExpr(input)).LookupPath(cuelang.MakePath(cuelang.Str(exprField)))
		// Decode alone turns an incomplete value (a missing field) into nil: validate first.
		if err := v.Validate(cuelang.Concrete(true)); err != nil {
			return fmt.Errorf("expression %q: %s", expr, FormatError(err))
		}
		if err := decode(v, &out); err != nil {
			return fmt.Errorf("expression %q: %w", expr, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return normalizeDecoded(out), nil
}

// normalizeDecoded turns decoded integers into int64 for callers that compare values.
func normalizeDecoded(v any) any {
	switch x := v.(type) {
	case int:
		return int64(x)
	case map[string]any:
		for k, e := range x {
			x[k] = normalizeDecoded(e)
		}
	case []any:
		for i, e := range x {
			x[i] = normalizeDecoded(e)
		}
	}
	return v
}
