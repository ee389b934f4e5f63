package workflow

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry/pkg/cue"
)

// crashSpec has everything a restart must survive: outputs and inputs, a step group run as a
// DAG with a retried step, a waiting step and a timed suspend, a notification, a suspend for
// approval and a conditional step.
func crashSpec() *Spec {
	return &Spec{Steps: steps(
		Step{Name: "build", Type: "apply", Outputs: []Output{{Name: "image", ValueFrom: `"registry/shop:\(output.id)"`}}},
		Step{Name: "rollout", Type: TypeStepGroup, SubSteps: steps(
			Step{Name: "eu", Type: "flaky", Retries: Retries{Limit: 2, Backoff: 2 * time.Second}, Inputs: []Input{{From: "image", ParameterKey: "image"}}},
			Step{Name: "us", Type: "wait", Properties: map[string]any{"n": int64(3)}},
			Step{Name: "soak", Type: TypeSuspend, Properties: map[string]any{"duration": "30s"}},
			Step{Name: "verify", Type: "apply", DependsOn: []string{"eu", "us"}, Outputs: []Output{{Name: "verified", ValueFrom: `output.name`}}},
		)},
		Step{Name: "announce", Type: "notify"},
		Step{Name: "approval", Type: TypeSuspend},
		Step{Name: "prod", Type: "apply", Inputs: []Input{{From: "verified"}}, If: `inputs.verified == "verify"`},
	)}
}

// driver runs the crash workflow with a durable world and notification server, building a fresh
// engine (executors, evaluator) for every tick as a restarted controller would.
type driver struct {
	t     *testing.T
	spec  *Spec
	world *world
	now   time.Time
	// persisted is the state as the caller stored it, JSON.
	persisted []byte
	ticks     int
}

func newDriver(t *testing.T, url string) *driver {
	w := newWorld()
	w.notifyURL = url
	w.failures["eu"] = 1
	d := &driver{t: t, spec: crashSpec(), world: w, now: epoch}
	d.persist(NewState(d.spec, epoch))
	return d
}

func (d *driver) persist(st State) {
	data, err := json.Marshal(st)
	require.NoError(d.t, err)
	d.persisted = data
}

func (d *driver) load() State {
	var st State
	require.NoError(d.t, json.Unmarshal(d.persisted, &st))
	return st
}

// tick loads the persisted state into a new engine, runs one tick and, unless crash, persists
// the result. It returns the requeue delay.
func (d *driver) tick(crash bool) (State, time.Duration) {
	h := &harness{t: d.t, spec: d.spec, world: d.world, eval: cue.NewEngine(cue.Options{}), now: d.now}
	next, requeue, err := Run(context.Background(), d.spec, d.load(), h.env())
	require.NoError(d.t, err)
	d.ticks++
	if !crash {
		d.persist(next)
	}
	return next, requeue
}

// finish drives the workflow to its end, resuming the approval when it is reached; crashAt
// names the tick whose result is lost.
func (d *driver) finish(crashAt int) State {
	for i := 0; i < 500; i++ {
		st, requeue := d.tick(d.ticks == crashAt)
		if st.Finished() {
			return st
		}
		if requeue == 0 && st.Phase == PhaseSuspending && d.ticks != crashAt {
			resumed, err := Resume(st, "approval", "", d.now)
			require.NoError(d.t, err)
			d.persist(resumed)
		}
		d.now = d.now.Add(requeue)
	}
	d.t.Fatal("workflow did not finish")
	return State{}
}

func TestCrashAtEveryTickRunsEachStepOnce(t *testing.T) {
	var mu sync.Mutex
	received := map[string]int{}
	server := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		received[r.Header.Get("X-Ferry-Execution-Id")]++
	}))
	defer server.Close()

	reference := newDriver(t, server.URL)
	want := reference.finish(-1)
	require.Equal(t, PhaseSucceeded, want.Phase, want.Message)
	require.Equal(t, map[string]any{"image": "registry/shop:build-r0-a0", "verified": "verify"}, want.Outputs)
	wantEffects := effectCounts(reference.world)
	require.Equal(t, map[string]int{"build": 1, "eu": 1, "us": 1, "verify": 1, "announce": 1, "prod": 1}, wantEffects)
	require.Equal(t, 2, reference.world.calls["eu"], "eu failed once and was retried")
	totalTicks := reference.ticks
	require.GreaterOrEqual(t, totalTicks, 5)

	replayedNotification := false
	for crashAt := 1; crashAt <= totalTicks; crashAt++ {
		mu.Lock()
		clear(received)
		mu.Unlock()
		d := newDriver(t, server.URL)
		got := d.finish(crashAt)
		require.Equal(t, PhaseSucceeded, got.Phase, "crash at tick %d: %s", crashAt, got.Message)
		require.Equal(t, want.Outputs, got.Outputs, "crash at tick %d", crashAt)
		require.Equal(t, wantEffects, effectCounts(d.world), "crash at tick %d: each step's effect happens once", crashAt)
		mu.Lock()
		require.Len(t, received, 1, "crash at tick %d: one notification execution", crashAt)
		for id, n := range received {
			require.Equal(t, 1, n, "crash at tick %d: notification %s sent %d times", crashAt, id, n)
		}
		mu.Unlock()
		replayedNotification = replayedNotification || d.world.calls["announce"] > 1
	}
	require.True(t, replayedNotification, "some crash lost the tick that notified, so the guard was exercised")
}

// effectCounts is how many distinct executions had an effect, per step.
func effectCounts(w *world) map[string]int {
	out := map[string]int{}
	for step, ids := range w.effects {
		out[step] = len(ids)
	}
	return out
}
