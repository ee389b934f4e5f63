package cue

import (
	"fmt"

	"cuelang.org/go/cue/ast"
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
	x, err := parser.ParseExpr("expression", expr)
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
