package cue

import (
	"fmt"
	"strings"

	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/literal"
	"cuelang.org/go/cue/parser"
)

// ExpressionBudget bounds what a workflow expression (a step's `if`, an output's `valueFrom`)
// may ask of the evaluator. CUE evaluation cannot be interrupted once started, so the bound is
// checked before: an expression within it evaluates in bounded time and memory over the
// inputs a workflow has. Conditions in KubeVela's and Ferry's workflows compare fields and need
// little: a comprehension or two over a short list at most.
type ExpressionBudget struct {
	// MaxLength bounds the expression's text (2048 bytes when zero).
	MaxLength int
	// MaxComprehensions bounds its comprehension clauses (`for x in ...`), whose costs
	// multiply when nested (2 when zero).
	MaxComprehensions int
}

func (b ExpressionBudget) withDefaults() ExpressionBudget {
	if b.MaxLength == 0 {
		b.MaxLength = 2048
	}
	if b.MaxComprehensions == 0 {
		b.MaxComprehensions = 2
	}
	return b
}

// Check reports an expression that is not valid CUE or exceeds the budget.
func (b ExpressionBudget) Check(expr string) error {
	b = b.withDefaults()
	if len(expr) > b.MaxLength {
		return fmt.Errorf("the expression exceeds its evaluation budget: %d bytes, at most %d", len(expr), b.MaxLength)
	}
	_, body, err := splitImports(expr)
	if err != nil {
		return err
	}
	x, err := parser.ParseExpr("expression", body)
	if err != nil {
		return fmt.Errorf("the expression is not valid CUE: %s", FormatError(err))
	}
	clauses := 0
	ast.Walk(x, func(n ast.Node) bool {
		if _, ok := n.(*ast.ForClause); ok {
			clauses++
		}
		return true
	}, nil)
	if clauses > b.MaxComprehensions {
		return fmt.Errorf("the expression exceeds its evaluation budget: %d comprehension clauses (for ... in ...), at most %d", clauses, b.MaxComprehensions)
	}
	return nil
}

// splitImports separates the import declarations an expression may start with, as KubeVela
// allows (`import "strconv"` and then the expression), from the expression. Only CUE's standard
// library can be imported.
func splitImports(expr string) (imports []string, body string, err error) {
	if !strings.HasPrefix(strings.TrimSpace(expr), "import") {
		return nil, expr, nil
	}
	file, err := parser.ParseFile("expression", expr)
	if err != nil {
		return nil, "", fmt.Errorf("the expression is not valid CUE: %s", FormatError(err))
	}
	var rest []ast.Decl
	for _, d := range file.Decls {
		imp, ok := d.(*ast.ImportDecl)
		if !ok {
			rest = append(rest, d)
			continue
		}
		for _, spec := range imp.Specs {
			path, _ := literal.Unquote(spec.Path.Value)
			if strings.Contains(strings.Split(path, "/")[0], ".") || strings.HasPrefix(path, "vela/") || strings.HasPrefix(path, "ferry/") {
				return nil, "", fmt.Errorf("the expression imports %q: an expression may import CUE's standard library only", path)
			}
		}
		imports = append(imports, expr[imp.Pos().Offset():imp.End().Offset()])
	}
	embed, ok := []ast.Decl(nil), false
	if len(rest) == 1 {
		_, ok = rest[0].(*ast.EmbedDecl)
		embed = rest
	}
	if !ok {
		return nil, "", fmt.Errorf("the expression is not valid CUE: after its imports it must be one expression")
	}
	return imports, expr[embed[0].Pos().Offset():embed[0].End().Offset()], nil
}
