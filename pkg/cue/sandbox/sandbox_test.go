package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry/pkg/cue"
)

func TestMain(m *testing.M) {
	ServeIfWorker()
	os.Exit(m.Run())
}

const component = `
output: {
	apiVersion: "apps/v1"
	kind:       "Deployment"
	metadata: name: context.name
	spec: {
		replicas: parameter.replicas
		template: spec: {
			containers: [{name: context.name, image: parameter.image, args: parameter.args}]
			volumes: []
		}
	}
	ratio: 3.0
	nothing: null
}
outputs: service: {
	apiVersion: "v1"
	kind:       "Service"
	metadata: name: context.name
	spec: ports: [{port: 80}]
}
parameter: {
	image:    string
	replicas: *1 | int
	args: [...string]
}
`

const trait = `
patch: spec: template: spec: {
	// +patchKey=name
	containers: [{name: context.name, env: [{name: "A", value: parameter.a}]}]
}
patchOutputs: service: metadata: labels: a: parameter.a
parameter: a: string
`

const step = `
import "vela/op"
read: op.#Read & {value: {apiVersion: "v1", kind: "ConfigMap", metadata: name: parameter.name}}
apply: op.#Apply & {value: {apiVersion: "v1", kind: "ConfigMap", metadata: name: parameter.name + "-copy", data: read.value.data}}
parameter: name: string
`

const op = `package op
#Read: {#do: "read", value: {...}}
#Apply: {#do: "apply", value: {...}}
`

// template reads a template of pkg/cue's testdata: runaway.cue takes size^8 steps and little
// memory, greedy.cue allocates size megabytes as fast as it can.
func template(t testing.TB, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "testdata", name))
	require.NoError(t, err)
	return string(data)
}

func sources() []cue.Source {
	return []cue.Source{
		{Name: "component", Filename: "component.cue", Text: component},
		{Name: "trait", Filename: "trait.cue", Text: trait},
	}
}

// TestRendersAsInThisProcess renders, evaluates expressions and status policies, and runs a
// step's evaluation with fills both in this process and in the sandbox: the answers are the
// same, including the types of numbers, empty lists, nulls and the errors callers look for.
func TestRendersAsInThisProcess(t *testing.T) {
	pool := New(Options{Processes: 2})
	t.Cleanup(pool.Close)
	local := cue.NewEngine(cue.Options{})
	remote := cue.NewEngine(cue.Options{Sandbox: pool, MaxResults: -1})

	ctx := cue.Context{Name: "web", AppName: "app", Namespace: "default"}
	for _, tt := range []struct {
		source int
		params map[string]any
	}{
		{0, map[string]any{"image": "nginx", "args": []any{}}},
		{0, map[string]any{"image": "nginx", "replicas": int64(3), "args": []any{"-v"}}},
		{0, map[string]any{"image": int64(1), "args": []any{}}},
		{0, map[string]any{"image": "nginx", "args": []any{}, "unknown": true}},
		{1, map[string]any{"a": "b"}},
	} {
		t.Run(fmt.Sprint(tt.params), func(t *testing.T) {
			src := sources()[tt.source]
			lt, err := local.Compile(src)
			require.NoError(t, err)
			rt, err := remote.Compile(src)
			require.NoError(t, err)
			want, wantErr := lt.Render(cue.Input{Parameter: tt.params, Context: ctx})
			got, gotErr := rt.Render(cue.Input{Parameter: tt.params, Context: ctx})
			require.Equal(t, wantErr, gotErr)
			require.Equal(t, want, got)
			if wantErr != nil {
				var pe *cue.ParameterError
				require.True(t, errors.As(gotErr, &pe), "a parameter error stays one: %T", gotErr)
			}
		})
	}

	t.Run("patch", func(t *testing.T) {
		rt, err := remote.Compile(sources()[1])
		require.NoError(t, err)
		res, err := rt.Render(cue.Input{Parameter: map[string]any{"a": "b"}, Context: ctx})
		require.NoError(t, err)
		merged, err := res.Patch.Apply(map[string]any{"spec": map[string]any{"template": map[string]any{"spec": map[string]any{
			"containers": []any{map[string]any{"name": "sidecar"}, map[string]any{"name": "web", "image": "nginx"}}}}}})
		require.NoError(t, err)
		containers := merged["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)["containers"].([]any)
		require.Len(t, containers, 2, "patchKey=name merged the container by name: the annotation came through")
	})

	t.Run("expression", func(t *testing.T) {
		vars := map[string]any{"status": map[string]any{"n": int64(2), "l": []any{}}}
		for _, expr := range []string{`status.n + 1`, `status.l`, `status.n / 2`, `status.missing`} {
			want, wantErr := local.Eval(expr, vars)
			got, gotErr := remote.Eval(expr, vars)
			require.Equal(t, wantErr, gotErr, expr)
			require.Equal(t, want, got, expr)
		}
	})

	t.Run("status", func(t *testing.T) {
		st := cue.StatusTemplates{HealthPolicy: `isHealth: context.output.status.ready == parameter.n`,
			CustomStatus: `message: "ready \(context.output.status.ready)"`, Details: `n: "\(parameter.n)"`}
		for _, ready := range []int64{1, 2} {
			in := cue.StatusInput{Output: map[string]any{"status": map[string]any{"ready": ready}}, Parameter: map[string]any{"n": int64(2)}}
			want, wantErr := local.EvalStatus("web", st, in)
			got, gotErr := remote.EvalStatus("web", st, in)
			require.NoError(t, wantErr)
			require.NoError(t, gotErr)
			require.Equal(t, want, got)
		}
	})

	t.Run("step", func(t *testing.T) {
		src := cue.Source{Name: "step", Filename: "step.cue", Text: step, Packages: []cue.Package{{ImportPath: "vela/op", Filename: "op.cue", Text: op}}}
		run := func(e *cue.Engine) ([]cue.Action, map[string]any) {
			tmpl, err := e.Compile(src)
			require.NoError(t, err)
			ev, err := tmpl.Evaluate(cue.Input{Parameter: map[string]any{"name": "cm"}})
			require.NoError(t, err)
			actions := ev.Actions()
			require.Len(t, actions, 2)
			require.Error(t, actions[1].Incomplete, "apply waits for read")
			require.NoError(t, ev.Fill(actions[0], "value", map[string]any{"data": map[string]any{"k": "v"}}))
			require.Error(t, ev.Fill(actions[0], "value", map[string]any{"kind": "Secret"}), "a conflicting fill is refused")
			return ev.Actions(), ev.Value()
		}
		wantActions, wantValue := run(local)
		gotActions, gotValue := run(remote)
		require.Equal(t, len(wantActions), len(gotActions))
		for i := range wantActions {
			require.Equal(t, wantActions[i].Path, gotActions[i].Path)
			require.Equal(t, wantActions[i].Do, gotActions[i].Do)
			require.Equal(t, wantActions[i].Fields, gotActions[i].Fields)
			require.Equal(t, wantActions[i].Incomplete == nil, gotActions[i].Incomplete == nil)
		}
		require.Equal(t, "v", gotActions[1].Fields["value"].(map[string]any)["data"].(map[string]any)["k"])
		require.Equal(t, wantValue, gotValue)
	})
}

// TestBudgetKillsTheProcess sends evaluations that do not end in bounds: the caller gets a
// BudgetError naming the template within the budget, the process is replaced, and the next
// render works.
func TestBudgetKillsTheProcess(t *testing.T) {
	for _, tt := range []struct {
		name, text, kind string
		n                int64
		budget           cue.Budget
	}{
		{name: "slow", text: template(t, "runaway.cue"), n: 10, kind: "time", budget: cue.Budget{Timeout: time.Second}},
		// Its time bound is far off: under the race detector on a busy 2-core machine the heap
		// grows to 128 MiB only after 45-70 s (about 5 s without it), and the test is about which
		// bound ends it, not how fast.
		{name: "greedy", text: template(t, "greedy.cue"), n: 100000, kind: "memory", budget: cue.Budget{Timeout: 5 * time.Minute, Memory: 128 << 20}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pool := New(Options{Processes: 1, Budget: tt.budget})
			t.Cleanup(pool.Close)
			e := cue.NewEngine(cue.Options{Sandbox: pool})
			bomb, err := e.Compile(cue.Source{Name: `component definition "bomb"`, Filename: "bomb.cue", Text: tt.text})
			require.NoError(t, err)
			require.Equal(t, 1, pool.Processes())

			start := time.Now()
			_, err = bomb.Render(cue.Input{Parameter: map[string]any{"size": tt.n}})
			var be *cue.BudgetError
			require.True(t, errors.As(err, &be), "got %v", err)
			require.Equal(t, tt.kind, be.Kind)
			// The kind says which bound ended it: greedy's memory bound comes before its time bound.
			require.Contains(t, err.Error(), `component definition "bomb": evaluation exceeded its `+tt.kind+` budget`)
			t.Logf("ended after %s", time.Since(start))
			require.Equal(t, 0, pool.Processes(), "the process was ended")

			web, err := e.Compile(sources()[0])
			require.NoError(t, err)
			res, err := web.Render(cue.Input{Parameter: map[string]any{"image": "nginx", "args": []any{}}, Context: cue.Context{Name: "web"}})
			require.NoError(t, err)
			require.Equal(t, "Deployment", res.Output["kind"])
			require.Equal(t, 1, pool.Processes(), "a new process")
		})
	}
}

// TestABusyProcessDoesNotHoldOthers runs a slow evaluation and, meanwhile, renders on the
// other process.
func TestABusyProcessDoesNotHoldOthers(t *testing.T) {
	pool := New(Options{Processes: 2, Budget: cue.Budget{Timeout: 3 * time.Second}})
	t.Cleanup(pool.Close)
	e := cue.NewEngine(cue.Options{Sandbox: pool, MaxResults: -1})
	bomb, err := e.Compile(cue.Source{Name: "bomb", Filename: "bomb.cue", Text: template(t, "runaway.cue")})
	require.NoError(t, err)
	web, err := e.Compile(sources()[0])
	require.NoError(t, err)

	slow := make(chan error, 1)
	go func() {
		_, err := bomb.Render(cue.Input{Parameter: map[string]any{"size": int64(10)}})
		slow <- err
	}()
	var wg sync.WaitGroup
	start := time.Now()
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := web.Render(cue.Input{Parameter: map[string]any{"image": fmt.Sprintf("nginx:%d", i), "args": []any{}}, Context: cue.Context{Name: "web"}})
			if err == nil && res.Output["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)["image"] != fmt.Sprintf("nginx:%d", i) {
				err = fmt.Errorf("render %d got another's result", i)
			}
			require.NoError(t, err)
		}()
	}
	wg.Wait()
	require.Less(t, time.Since(start), 3*time.Second, "renders waited for the slow one")
	var be *cue.BudgetError
	require.True(t, errors.As(<-slow, &be))
}

// TestAProgramThatDoesNotServe: a program started as an evaluator that does not call
// ServeIfWorker refuses to start evaluators of its own instead of starting itself again and
// again.
func TestAProgramThatDoesNotServe(t *testing.T) {
	t.Setenv(envWorker, "1")
	pool := New(Options{Processes: 1})
	t.Cleanup(pool.Close)
	_, err := pool.Do(&cue.Request{Op: cue.OpEval, Expr: "1"})
	require.ErrorContains(t, err, "must call sandbox.ServeIfWorker")
}

// TestEvaluationsAfterClose: a stopping controller may still have reconciles to finish; after
// Close they evaluate, and no process is left once they are done.
func TestEvaluationsAfterClose(t *testing.T) {
	pool := New(Options{Processes: 2})
	e := cue.NewEngine(cue.Options{Sandbox: pool, MaxResults: -1})
	v, err := e.Eval("1 + 1", nil)
	require.NoError(t, err)
	require.Equal(t, int64(2), v)
	require.Equal(t, 1, pool.Processes())
	pool.Close()
	require.Equal(t, 0, pool.Processes())
	v, err = e.Eval("2 + 2", nil)
	require.NoError(t, err)
	require.Equal(t, int64(4), v)
	require.Equal(t, 0, pool.Processes(), "the process ended after its evaluation")
}

// TestPrerenderedChain renders a component and its trait in one round trip: the renders that
// follow with the same inputs take those results (no further evaluation in the sandbox) and
// equal what this process renders; a render with other inputs is evaluated on its own.
func TestPrerenderedChain(t *testing.T) {
	pool := New(Options{Processes: 1})
	t.Cleanup(pool.Close)
	local := cue.NewEngine(cue.Options{})
	remote := cue.NewEngine(cue.Options{Sandbox: pool, MaxResults: -1, Prerender: true})
	require.True(t, remote.Prerenders())
	ctx := cue.Context{Name: "web", AppName: "app", Namespace: "default"}
	compParams := map[string]any{"image": "nginx", "args": []any{}}
	traitParams := map[string]any{"a": "b"}

	chain := func(e *cue.Engine, prerender bool) (*cue.Result, *cue.Result) {
		comp, err := e.Compile(sources()[0])
		require.NoError(t, err)
		trait, err := e.Compile(sources()[1])
		require.NoError(t, err)
		if prerender {
			e.Prerender(ctx, []cue.ChainStep{{Template: comp, Parameter: compParams}, {Template: trait, Parameter: traitParams}})
		}
		c, err := comp.Render(cue.Input{Parameter: compParams, Context: ctx})
		require.NoError(t, err)
		traitCtx := ctx
		traitCtx.Output = c.Output
		traitCtx.Outputs = map[string]any{"service": c.Outputs[0].Object}
		tr, err := trait.Render(cue.Input{Parameter: traitParams, Context: traitCtx})
		require.NoError(t, err)
		return c, tr
	}
	wantComp, wantTrait := chain(local, false)
	gotComp, gotTrait := chain(remote, true)
	require.Equal(t, wantComp, gotComp)
	require.Equal(t, wantTrait, gotTrait)
	require.Equal(t, 0, remote.Stats().Evaluations, "both renders were done ahead")

	trait, err := remote.Compile(sources()[1])
	require.NoError(t, err)
	other, err := trait.Render(cue.Input{Parameter: map[string]any{"a": "c"}, Context: ctx})
	require.NoError(t, err)
	require.Equal(t, 1, remote.Stats().Evaluations, "other inputs are evaluated on their own")
	require.Equal(t, "c", other.PatchOutputs["service"].Value["metadata"].(map[string]any)["labels"].(map[string]any)["a"])
}

// TestAProcessKilledWhileIdle: an evaluator process killed from outside between evaluations
// (the OOM killer, an operator) is replaced, and the next evaluation works.
func TestAProcessKilledWhileIdle(t *testing.T) {
	pool := New(Options{Processes: 1})
	t.Cleanup(pool.Close)
	e := cue.NewEngine(cue.Options{Sandbox: pool, MaxResults: -1})
	_, err := e.Eval("1", nil)
	require.NoError(t, err)
	pool.mu.Lock()
	require.Len(t, pool.idle, 1)
	w := pool.idle[0]
	pool.mu.Unlock()
	require.NoError(t, w.cmd.Process.Kill())
	v, err := e.Eval("2 + 3", nil)
	require.NoError(t, err)
	require.Equal(t, int64(5), v)
	require.Equal(t, 1, pool.Processes())
}

// TestKilledByTheKernelTwice: an evaluation whose process is killed from outside (as the
// kernel's OOM killer does when the container's memory runs out) is tried once more on a new
// process; killed again, it fails with the memory budget. Evaluator processes ask the kernel
// to pick them first.
func TestKilledByTheKernelTwice(t *testing.T) {
	pool := New(Options{Processes: 1, Budget: cue.Budget{Timeout: time.Minute}})
	t.Cleanup(pool.Close)
	e := cue.NewEngine(cue.Options{Sandbox: pool, MaxResults: -1})
	bomb, err := e.Compile(cue.Source{Name: "bomb", Filename: "bomb.cue", Text: template(t, "runaway.cue")})
	require.NoError(t, err)
	pool.mu.Lock()
	for w := range pool.live {
		score, err := os.ReadFile(fmt.Sprintf("/proc/%d/oom_score_adj", w.cmd.Process.Pid))
		if err == nil {
			require.Equal(t, "1000", strings.TrimSpace(string(score)), "the OOM killer picks evaluator processes first")
		}
	}
	pool.mu.Unlock()

	done := make(chan error, 1)
	go func() {
		_, err := bomb.Render(cue.Input{Parameter: map[string]any{"size": int64(10)}})
		done <- err
	}()
	killed := map[*worker]bool{}
	deadline := time.Now().Add(30 * time.Second)
	for len(killed) < 2 && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
		pool.mu.Lock()
		for w := range pool.live {
			if !killed[w] {
				killed[w] = true
				_ = w.cmd.Process.Kill()
			}
		}
		pool.mu.Unlock()
	}
	require.Len(t, killed, 2, "a second process took the evaluation")
	err = <-done
	var be *cue.BudgetError
	require.True(t, errors.As(err, &be), "got %v", err)
	require.Equal(t, "memory", be.Kind)
	require.Contains(t, err.Error(), "bomb: evaluation exceeded its memory budget (the memory the container had left)")
}

// slowTrait patches nothing and takes n^8 steps.
const slowTrait = `
import "list"
l: list.Range(0, parameter.n, 1)
patch: metadata: annotations: {for a in l for b in l for c in l for d in l for e in l for f in l for g in l for h in l if a+b+c+d+e+f+g+h < 0 {"\(a)": "x"}}
parameter: n: int
`

// TestAChainPastItsBudget: a chain whose trait does not finish costs the budget once as a
// chain; the component then renders on its own, the trait reports the budget, and the same
// chain is not sent again.
func TestAChainPastItsBudget(t *testing.T) {
	pool := New(Options{Processes: 1, Budget: cue.Budget{Timeout: time.Second}})
	t.Cleanup(pool.Close)
	e := cue.NewEngine(cue.Options{Sandbox: pool, Prerender: true})
	comp, err := e.Compile(sources()[0])
	require.NoError(t, err)
	trait, err := e.Compile(cue.Source{Name: `trait definition "slow"`, Filename: "slow.cue", Text: slowTrait})
	require.NoError(t, err)
	ctx := cue.Context{Name: "web"}
	compParams := map[string]any{"image": "nginx", "args": []any{}}
	steps := []cue.ChainStep{{Template: comp, Parameter: compParams}, {Template: trait, Parameter: map[string]any{"n": int64(10)}}}

	start := time.Now()
	e.Prerender(ctx, steps)
	require.GreaterOrEqual(t, time.Since(start), time.Second, "the chain ran into its budget")
	c, err := comp.Render(cue.Input{Parameter: compParams, Context: ctx})
	require.NoError(t, err)
	_, err = trait.Render(cue.Input{Parameter: map[string]any{"n": int64(10)}, Context: ctx})
	var be *cue.BudgetError
	require.True(t, errors.As(err, &be), "got %v", err)
	require.Contains(t, err.Error(), `trait definition "slow": evaluation exceeded its time budget (1s)`)
	require.Equal(t, "Deployment", c.Output["kind"])

	start = time.Now()
	e.Prerender(ctx, steps)
	require.Less(t, time.Since(start), 500*time.Millisecond, "the chain is not sent again")
}

// TestTemplatesForgottenByTheProcess: a process that keeps one compiled template at a time
// forgets the one it was sent before; sent by key alone, it asks for the source again, and
// renders and chains stay right.
func TestTemplatesForgottenByTheProcess(t *testing.T) {
	pool := New(Options{Processes: 1, MaxTemplates: 1})
	t.Cleanup(pool.Close)
	local := cue.NewEngine(cue.Options{MaxResults: -1})
	remote := cue.NewEngine(cue.Options{Sandbox: pool, MaxResults: -1, Prerender: true})
	ctx := cue.Context{Name: "web"}
	params := []map[string]any{{"image": "nginx", "args": []any{}}, {"a": "b"}}
	for round := range 3 {
		for i, src := range sources() {
			lt, err := local.Compile(src)
			require.NoError(t, err)
			rt, err := remote.Compile(src)
			require.NoError(t, err)
			want, err := lt.Render(cue.Input{Parameter: params[i], Context: ctx})
			require.NoError(t, err)
			got, err := rt.Render(cue.Input{Parameter: params[i], Context: ctx})
			require.NoError(t, err, "round %d, template %d", round, i)
			require.Equal(t, want, got, "round %d, template %d", round, i)
		}
		comp, err := remote.Compile(sources()[0])
		require.NoError(t, err)
		trait, err := remote.Compile(sources()[1])
		require.NoError(t, err)
		remote.Prerender(ctx, []cue.ChainStep{{Template: comp, Parameter: params[0]}, {Template: trait, Parameter: params[1]}})
		got, err := comp.Render(cue.Input{Parameter: params[0], Context: ctx})
		require.NoError(t, err)
		require.Equal(t, "Deployment", got.Output["kind"])
	}
}

// TestStartingIsNotEvaluating: a process that is slow to start (a busy machine) does not use up
// the evaluation budget: the budget counts from when it is ready.
func TestStartingIsNotEvaluating(t *testing.T) {
	self, err := os.Executable()
	require.NoError(t, err)
	pool := New(Options{Processes: 1, Budget: cue.Budget{Timeout: time.Second},
		Command: []string{"/bin/sh", "-c", `sleep 2; exec "$0"`, self}})
	t.Cleanup(pool.Close)
	e := cue.NewEngine(cue.Options{Sandbox: pool, MaxResults: -1})
	v, err := e.Eval("1 + 1", nil)
	require.NoError(t, err, "a 2 s start within a 1 s evaluation budget")
	require.Equal(t, int64(2), v)
}
