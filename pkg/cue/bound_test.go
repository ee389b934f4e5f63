package cue

import (
	"errors"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// testTemplate reads a template of testdata/.
func testTemplate(t testing.TB, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return string(data)
}

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
		{name: "slow", text: testTemplate(t, "runaway.cue"), n: 6, kind: "time", budget: Budget{Timeout: 300 * time.Millisecond}},
		{name: "greedy", text: testTemplate(t, "greedy.cue"), n: 300, kind: "memory", budget: Budget{Timeout: time.Minute, Memory: HeapBytes() + 128<<20}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := NewEngine(Options{Runtimes: 1, Budget: tt.budget})
			bomb, err := e.Compile(Source{Name: `component definition "bomb"`, Filename: "bomb.cue", Text: tt.text})
			require.NoError(t, err)
			start := time.Now()
			in := Input{Parameter: map[string]any{"size": tt.n}}
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

			// In this process the abandoned evaluation goes on until it ends; a heap bound holds
			// for every evaluation until its memory is freed, so wait for that first.
			if tt.budget.Memory > 0 {
				require.Eventually(t, func() bool {
					goruntime.GC()
					return HeapBytes() < tt.budget.Memory
				}, 30*time.Second, 50*time.Millisecond, "the heap stays above the budget")
			}
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
	text := strings.Replace(testTemplate(t, "runaway.cue"), "parameter.size", "6", 1)
	_, err := e.Compile(Source{Name: `component definition "bomb"`, Filename: "bomb.cue", Text: text})
	var be *BudgetError
	require.True(t, errors.As(err, &be), "got %v", err)
	require.Contains(t, err.Error(), `component definition "bomb": evaluation exceeded its time budget (300ms)`)
}

// TestExceededRendersAreTriedAgainLater: a render that exceeded its budget fails at once when
// asked again for a while, and is tried again after: the budget is wall-clock time, and a
// machine too busy once is not a template that never finishes.
func TestExceededRendersAreTriedAgainLater(t *testing.T) {
	e := NewEngine(Options{})
	key := [32]byte{1}
	e.rememberExceeded(key, &BudgetError{What: "x", Kind: "time", Limit: "5s"})
	require.Error(t, e.exceededBefore(key))
	e.mu.Lock()
	x := e.exceeded[key]
	x.at = time.Now().Add(-exceededFor - time.Second)
	e.exceeded[key] = x
	e.mu.Unlock()
	require.NoError(t, e.exceededBefore(key))
}
