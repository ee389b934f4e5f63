package workflow

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry/pkg/cue"
)

// world is what outlives the engine: the effects steps had, as a cluster or a chat server would
// keep them. Executors built from it are thrown away and rebuilt freely.
type world struct {
	mu sync.Mutex
	// calls counts executions per step; effects records each successful effect once per
	// execution id (applies are idempotent).
	calls   map[string]int
	effects map[string]map[string]bool
	// sent is the notification ledger (in the controller: the context ConfigMap).
	sent map[string]bool
	// notifyURL receives notifications; empty to skip the HTTP call.
	notifyURL string
	// failures says how many times a "flaky" step fails before it succeeds.
	failures map[string]int
	// props records the properties each step was executed with.
	props map[string]map[string]any
}

func newWorld() *world {
	return &world{calls: map[string]int{}, effects: map[string]map[string]bool{}, sent: map[string]bool{},
		failures: map[string]int{}, props: map[string]map[string]any{}}
}

func (w *world) effect(step, id string) {
	if w.effects[step] == nil {
		w.effects[step] = map[string]bool{}
	}
	w.effects[step][id] = true
}

// executors are in-memory step types for tests.
func (w *world) executors() map[string]Executor {
	record := func(in StepInput) {
		w.calls[in.Step.Name]++
		w.props[in.Step.Name] = in.Step.Properties
	}
	return map[string]Executor{
		"apply": ExecutorFunc(func(_ context.Context, in StepInput) (Result, error) {
			w.mu.Lock()
			defer w.mu.Unlock()
			record(in)
			w.effect(in.Step.Name, in.ExecutionID)
			return Result{Outcome: OutcomeSucceeded, Value: map[string]any{"output": map[string]any{"name": in.Step.Name, "id": in.ExecutionID}}}, nil
		}),
		"wait": ExecutorFunc(func(_ context.Context, in StepInput) (Result, error) {
			w.mu.Lock()
			defer w.mu.Unlock()
			record(in)
			n, _ := in.Step.Properties["n"].(int64)
			if int64(w.calls[in.Step.Name]) < n {
				return Result{Outcome: OutcomeWait, Message: "not ready"}, nil
			}
			w.effect(in.Step.Name, in.ExecutionID)
			return Result{Outcome: OutcomeSucceeded}, nil
		}),
		"flaky": ExecutorFunc(func(_ context.Context, in StepInput) (Result, error) {
			w.mu.Lock()
			defer w.mu.Unlock()
			record(in)
			if w.failures[in.Step.Name] > 0 {
				w.failures[in.Step.Name]--
				return Result{}, fmt.Errorf("transient error")
			}
			w.effect(in.Step.Name, in.ExecutionID)
			return Result{Outcome: OutcomeSucceeded}, nil
		}),
		"fail": ExecutorFunc(func(_ context.Context, in StepInput) (Result, error) {
			w.mu.Lock()
			defer w.mu.Unlock()
			record(in)
			return Result{Outcome: OutcomeFail, Reason: "Broken", Message: "it is broken"}, nil
		}),
		"approve": ExecutorFunc(func(_ context.Context, in StepInput) (Result, error) {
			w.mu.Lock()
			defer w.mu.Unlock()
			record(in)
			if !in.Resumed {
				return Result{Outcome: OutcomeSuspend, Message: "waiting for approval"}, nil
			}
			w.effect(in.Step.Name, in.ExecutionID)
			return Result{Outcome: OutcomeSucceeded}, nil
		}),
		"notify": ExecutorFunc(func(ctx context.Context, in StepInput) (Result, error) {
			w.mu.Lock()
			defer w.mu.Unlock()
			record(in)
			if w.sent[in.ExecutionID] {
				return Result{Outcome: OutcomeSucceeded, Message: "already sent"}, nil
			}
			if w.notifyURL != "" {
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, w.notifyURL, nil)
				req.Header.Set("X-Ferry-Execution-Id", in.ExecutionID)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					return Result{}, err
				}
				resp.Body.Close()
			}
			w.sent[in.ExecutionID] = true
			w.effect(in.Step.Name, in.ExecutionID)
			return Result{Outcome: OutcomeSucceeded}, nil
		}),
	}
}

// harness runs a workflow tick by tick on a fake clock.
type harness struct {
	t     *testing.T
	spec  *Spec
	state State
	now   time.Time
	world *world
	eval  *cue.Engine
	ticks int
}

var epoch = time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)

func newHarness(t *testing.T, spec *Spec) *harness {
	t.Helper()
	require.NoError(t, spec.Validate())
	return &harness{t: t, spec: spec, state: NewState(spec, epoch), now: epoch, world: newWorld(), eval: cue.NewEngine(cue.Options{})}
}

func (h *harness) env() Env {
	return Env{
		Now:       func() time.Time { return h.now },
		Executors: h.world.executors(),
		Evaluator: h.eval,
		Context:   map[string]any{"appName": "shop", "namespace": "default"},
		Options:   Options{DefaultTimeout: 10 * time.Minute, BaseBackoff: time.Second, MaxBackoff: 30 * time.Second},
	}
}

// tick runs one tick and returns the requeue delay.
func (h *harness) tick() time.Duration {
	h.t.Helper()
	next, requeue, err := Run(context.Background(), h.spec, h.state, h.env())
	require.NoError(h.t, err)
	h.state = next
	h.ticks++
	return requeue
}

// run ticks, moving the clock to each requested requeue, until the workflow ends or waits for
// someone (requeue 0).
func (h *harness) run() {
	h.t.Helper()
	for i := 0; i < 1000; i++ {
		requeue := h.tick()
		if h.state.Finished() || requeue == 0 {
			return
		}
		h.now = h.now.Add(requeue)
	}
	h.t.Fatalf("workflow did not settle in 1000 ticks: %+v", h.state)
}

func (h *harness) phase(step string) StepPhase {
	h.t.Helper()
	s := h.state.Step(step)
	require.NotNil(h.t, s, "step %q", step)
	return s.Phase
}

func steps(s ...Step) []Step { return s }
