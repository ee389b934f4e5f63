package workflow

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func twentySteps() *Spec {
	spec := &Spec{}
	for i := 0; i < 20; i++ {
		spec.Steps = append(spec.Steps, Step{Name: fmt.Sprintf("step-%d", i), Type: "apply"})
	}
	return spec
}

// BenchmarkTickFinished is the steady state of a delivered app: its 20-step workflow has
// finished and every reconcile ticks it again.
func BenchmarkTickFinished(b *testing.B) {
	spec := twentySteps()
	h := &harness{t: &testing.T{}, spec: spec, state: NewState(spec, epoch), now: epoch, world: newWorld()}
	env := h.env()
	st, _, err := Run(context.Background(), spec, h.state, env)
	require.NoError(b, err)
	require.True(b, st.Finished())
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := Run(context.Background(), spec, st, env); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTickSuspended is a 20-step workflow held at an approval in the middle: every tick
// looks at it and finds nothing to do.
func BenchmarkTickSuspended(b *testing.B) {
	spec := twentySteps()
	spec.Steps[10] = Step{Name: "approval", Type: TypeSuspend}
	h := &harness{t: &testing.T{}, spec: spec, state: NewState(spec, epoch), now: epoch, world: newWorld()}
	env := h.env()
	st, _, err := Run(context.Background(), spec, h.state, env)
	require.NoError(b, err)
	require.Equal(b, PhaseSuspending, st.Phase)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := Run(context.Background(), spec, st, env); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzExpressions runs a step with an arbitrary `if` and output `valueFrom`: the workflow must
// end, with an error in the status where they are malformed, and never panic.
func FuzzExpressions(f *testing.F) {
	for _, seed := range [][2]string{
		{`status.a.succeeded`, `output.name`},
		{`inputs.x == 1`, `"\(output.id)"`},
		{`)`, `{`},
		{`always`, `[for x in output {x}]`},
		{`context.appName == "shop" && true`, `output.name + 1`},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, cond, valueFrom string) {
		spec := &Spec{Steps: steps(
			Step{Name: "a", Type: "apply"},
			Step{Name: "b", Type: "apply", If: cond, Outputs: []Output{{Name: "o", ValueFrom: valueFrom}}},
		)}
		h := newHarness(t, spec)
		for i := 0; i < 20 && !h.state.Finished(); i++ {
			requeue := h.tick()
			h.now = h.now.Add(requeue + time.Second)
		}
		if !h.state.Finished() {
			t.Fatalf("workflow did not end: %+v", h.state)
		}
	})
}
