package cue

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const stepTemplate = `
read: {
	#do:   "read"
	name:  parameter.name
	value: _
}
apply: {
	#do: "apply"
	value: {kind: "ConfigMap", metadata: name: parameter.name, data: read.value.data}
}
parameter: name: string
`

// TestARenderDoesNotWaitForABusyRuntime holds one runtime, as a long render would, and renders
// on another: a second runtime serves it. With one runtime the same render waits until the
// first is released.
func TestARenderDoesNotWaitForABusyRuntime(t *testing.T) {
	for _, tt := range []struct {
		runtimes int
		waits    bool
	}{{runtimes: 2, waits: false}, {runtimes: 1, waits: true}} {
		t.Run(fmt.Sprintf("runtimes=%d", tt.runtimes), func(t *testing.T) {
			e := NewEngine(Options{Runtimes: tt.runtimes, MaxResults: -1})
			require.Equal(t, tt.runtimes, e.Runtimes())
			tmpl, err := e.Compile(Source{Name: "webservice", Filename: "webservice.cue", Text: deploymentTemplate})
			require.NoError(t, err)

			busy := e.acquire()
			done := make(chan error, 1)
			go func() {
				_, err := tmpl.Render(Input{Parameter: map[string]any{"image": "nginx"}, Context: Context{Name: "web"}})
				done <- err
			}()
			if tt.waits {
				select {
				case err := <-done:
					t.Fatalf("rendered (%v) while the only runtime was busy", err)
				case <-time.After(200 * time.Millisecond):
				}
				e.release(busy)
				require.NoError(t, <-done)
				return
			}
			select {
			case err := <-done:
				require.NoError(t, err)
			case <-time.After(30 * time.Second):
				t.Fatal("a render waited for a busy runtime although another was free")
			}
			e.release(busy)
		})
	}
}

// TestConcurrentUseOfEveryEntryPoint renders, evaluates steps, expressions and status snippets
// of the same templates from many goroutines on a pool of runtimes, and checks each result
// belongs to its own input. Run with -race (make test does) it checks that no CUE value is
// used by two goroutines at once.
func TestConcurrentUseOfEveryEntryPoint(t *testing.T) {
	e := NewEngine(Options{Runtimes: 3, MaxResults: -1})
	st := StatusTemplates{HealthPolicy: `isHealth: context.output.status.ready == parameter.want`, CustomStatus: `message: "ready \(context.output.status.ready)"`}
	const workers, rounds = 6, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers*rounds)
	for i := range workers {
		wg.Go(func() {
			for j := range rounds {
				if err := useEveryEntryPoint(e, st, fmt.Sprintf("w%d-%d", i, j), int64(i*rounds+j)); err != nil {
					errs <- fmt.Errorf("worker %d round %d: %w", i, j, err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	// webservice, the step, one expression and two status snippets.
	require.Equal(t, 5, e.Stats().Compiles, "every source compiled once, however many workers asked at the same time")
}

func useEveryEntryPoint(e *Engine, st StatusTemplates, name string, n int64) error {
	web, err := e.Compile(Source{Name: "webservice", Filename: "webservice.cue", Text: deploymentTemplate})
	if err != nil {
		return err
	}
	res, err := web.Render(Input{Parameter: map[string]any{"image": name}, Context: Context{Name: name}})
	if err != nil {
		return err
	}
	if got := res.Output["metadata"].(map[string]any)["name"]; got != name {
		return fmt.Errorf("render: name %v, want %s", got, name)
	}
	if len(web.Parameters()) == 0 {
		return fmt.Errorf("no parameters listed")
	}

	step, err := e.Compile(Source{Name: "step", Filename: "step.cue", Text: stepTemplate})
	if err != nil {
		return err
	}
	ev, err := step.Evaluate(Input{Parameter: map[string]any{"name": name}})
	if err != nil {
		return err
	}
	actions := ev.Actions()
	if len(actions) != 2 || actions[0].Do != "read" || actions[1].Incomplete == nil {
		return fmt.Errorf("actions before the read: %+v", actions)
	}
	if err := ev.Fill(actions[0], "value", map[string]any{"data": map[string]any{"n": name}}); err != nil {
		return err
	}
	actions = ev.Actions()
	if actions[1].Incomplete != nil {
		return fmt.Errorf("apply still incomplete after the read: %w", actions[1].Incomplete)
	}
	data := actions[1].Fields["value"].(map[string]any)["data"].(map[string]any)
	if data["n"] != name {
		return fmt.Errorf("apply got data %v, want %s", data, name)
	}

	v, err := e.Eval(`inputs.x * 2`, map[string]any{"inputs": map[string]any{"x": n}})
	if err != nil {
		return err
	}
	if v != n*2 {
		return fmt.Errorf("expression: %v, want %d", v, n*2)
	}

	status, err := e.EvalStatus("webservice", st, StatusInput{
		Output:    map[string]any{"status": map[string]any{"ready": n}},
		Parameter: map[string]any{"want": n},
	})
	if err != nil {
		return err
	}
	if !status.Healthy || status.Message != fmt.Sprintf("ready %d", n) {
		return fmt.Errorf("status: %+v", status)
	}
	return nil
}
