package cue

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// SlowTemplate takes 10^8 steps given n: 10, n^8 in general: eight nested comprehensions over ten
// elements filter 10^8 combinations, each garbage at once, so the heap stays small while it runs.
const SlowTemplate = `
import "list"
l: list.Range(0, parameter.n, 1)
output: {
	apiVersion: "v1"
	kind:       "ConfigMap"
	data: {for a in l for b in l for c in l for d in l for e in l for f in l for g in l for h in l if a+b+c+d+e+f+g+h < 0 {"\(a)": "x"}}
}
parameter: n: int
`

// GreedyTemplate allocates as fast as it can: a list of n megabyte strings.
const GreedyTemplate = `
import ("list", "strings")
output: {
	apiVersion: "v1"
	kind:       "ConfigMap"
	data: x: [for i in list.Range(0, parameter.n, 1) {strings.Repeat("ab", 500000)}]
}
parameter: n: int
`

// TestBudgetInThisProcess renders templates that do not end in bounds on an engine without a
// sandbox: the caller gets a BudgetError naming the template within the budget, and the engine
// keeps rendering other templates on a new runtime.
func TestBudgetInThisProcess(t *testing.T) {
	for _, tt := range []struct {
		name, text, kind string
		n                int64
		budget           Budget
	}{
		// In this process the evaluation goes on after the budget error: the sizes are chosen
		// so that it ends, after seconds or a few hundred megabytes, and does not disturb the
		// tests that follow. n: 6 takes about 5 s here.
		{name: "slow", text: SlowTemplate, n: 6, kind: "time", budget: Budget{Timeout: 300 * time.Millisecond}},
		{name: "greedy", text: GreedyTemplate, n: 300, kind: "memory", budget: Budget{Timeout: time.Minute, Memory: HeapBytes() + 128<<20}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := NewEngine(Options{Runtimes: 1, Budget: tt.budget})
			bomb, err := e.Compile(Source{Name: `component definition "bomb"`, Filename: "bomb.cue", Text: tt.text})
			require.NoError(t, err)
			start := time.Now()
			in := Input{Parameter: map[string]any{"n": tt.n}}
			_, err = bomb.Render(in)
			var be *BudgetError
			require.True(t, errors.As(err, &be), "got %v", err)
			require.Equal(t, tt.kind, be.Kind)
			require.Contains(t, err.Error(), `component definition "bomb": evaluation exceeded its `+tt.kind+` budget`)
			require.Less(t, time.Since(start), 30*time.Second)

			// The same inputs fail at once: they would exceed the budget again.
			start = time.Now()
			_, again := bomb.Render(in)
			require.Equal(t, err, again)
			require.Less(t, time.Since(start), time.Second)

			web, err := e.Compile(Source{Name: "webservice", Filename: "webservice.cue", Text: deploymentTemplate})
			require.NoError(t, err)
			res, err := web.Render(Input{Parameter: map[string]any{"image": "nginx"}, Context: Context{Name: "web"}})
			require.NoError(t, err)
			require.Equal(t, "Deployment", res.Output["kind"])
		})
	}
}

// TestBudgetOfAnExpression bounds an expression within the expression budget whose input makes
// it slow.
func TestBudgetOfAnExpression(t *testing.T) {
	e := NewEngine(Options{Budget: Budget{Timeout: 300 * time.Millisecond}})
	list := make([]any, 3000)
	for i := range list {
		list[i] = int64(i)
	}
	_, err := e.Eval(`len([for a in l for b in l if a*b < 0 {a}]) == 0`, map[string]any{"l": list})
	var be *BudgetError
	require.True(t, errors.As(err, &be), "got %v", err)
	require.Contains(t, err.Error(), "expression \"len(")
}

// TestBudgetOfACompile bounds a template that does not end whatever the parameters: compiling
// it (loading the definition) exceeds the budget.
func TestBudgetOfACompile(t *testing.T) {
	e := NewEngine(Options{Budget: Budget{Timeout: 300 * time.Millisecond}})
	text := strings.Replace(SlowTemplate, "parameter.n", "6", 1)
	_, err := e.Compile(Source{Name: `component definition "bomb"`, Filename: "bomb.cue", Text: text})
	var be *BudgetError
	require.True(t, errors.As(err, &be), "got %v", err)
	require.Contains(t, err.Error(), `component definition "bomb": evaluation exceeded its time budget (300ms)`)
}
