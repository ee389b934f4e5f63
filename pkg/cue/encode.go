package cue

import (
	"fmt"
	"math"
	"sort"
	"strconv"

	cuelang "cuelang.org/go/cue"
	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/token"
)

// fill unifies the template with {parameter: params, context: ctx} in one step: each
// unification evaluates the template, so filling the two one after another would do it twice.
// The caller holds rt.
func (rt *runtime) fill(v cuelang.Value, params map[string]any, ctx Context) (cuelang.Value, error) {
	input, err := toExpr(map[string]any{"parameter": params, "context": ctx.value()}, 0)
	if err != nil {
		return cuelang.Value{}, fmt.Errorf("encode input: %w", err)
	}
	return v.Unify(rt.ctx.BuildExpr(input)), nil
}

// toExpr builds CUE syntax for plain Go data. It does not use Context.Encode: in CUE v0.17 a
// value encoded from Go data loses its fields when a comprehension embeds it
// (`[for c in context.output.spec.containers {c}]` yields `[{}]`), and templates do that all
// the time. Building syntax is also cheaper than going through JSON text. Go nil becomes null.
func toExpr(x any, depth int) (ast.Expr, error) {
	if depth > 200 {
		return nil, fmt.Errorf("value nested too deeply")
	}
	switch v := x.(type) {
	case nil:
		return ast.NewNull(), nil
	case bool:
		return ast.NewBool(v), nil
	case string:
		return ast.NewString(v), nil
	case int:
		return &ast.BasicLit{Kind: token.INT, Value: strconv.Itoa(v)}, nil
	case int32:
		return &ast.BasicLit{Kind: token.INT, Value: strconv.FormatInt(int64(v), 10)}, nil
	case int64:
		return &ast.BasicLit{Kind: token.INT, Value: strconv.FormatInt(v, 10)}, nil
	case uint64:
		return &ast.BasicLit{Kind: token.INT, Value: strconv.FormatUint(v, 10)}, nil
	case float32:
		return floatExpr(float64(v))
	case float64:
		return floatExpr(v)
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		fields := make([]any, 0, 2*len(keys))
		for _, k := range keys {
			val, err := toExpr(v[k], depth+1)
			if err != nil {
				return nil, err
			}
			fields = append(fields, ast.NewStringLabel(k), val)
		}
		return ast.NewStruct(fields...), nil
	case map[string]string:
		m := make(map[string]any, len(v))
		for k, s := range v {
			m[k] = s
		}
		return toExpr(m, depth)
	case []any:
		elems := make([]ast.Expr, len(v))
		for i, el := range v {
			val, err := toExpr(el, depth+1)
			if err != nil {
				return nil, err
			}
			elems[i] = val
		}
		return ast.NewList(elems...), nil
	case []string:
		elems := make([]ast.Expr, len(v))
		for i, s := range v {
			elems[i] = ast.NewString(s)
		}
		return ast.NewList(elems...), nil
	default:
		return nil, fmt.Errorf("unsupported value of type %T", x)
	}
}

func floatExpr(f float64) (ast.Expr, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, fmt.Errorf("%v is not a valid number", f)
	}
	if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
		// A whole number written as 3.0 in YAML stays a float for CUE.
		return &ast.BasicLit{Kind: token.FLOAT, Value: strconv.FormatFloat(f, 'f', 1, 64)}, nil
	}
	return &ast.BasicLit{Kind: token.FLOAT, Value: strconv.FormatFloat(f, 'g', -1, 64)}, nil
}
