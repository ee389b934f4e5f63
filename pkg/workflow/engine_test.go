package workflow

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestStepByStepRunsInOrderAndPassesOutputs(t *testing.T) {
	h := newHarness(t, &Spec{Steps: steps(
		Step{Name: "build", Type: "apply", Outputs: []Output{{Name: "image", ValueFrom: `"registry/\(output.name):1"`}}},
		Step{Name: "deploy", Type: "apply", Inputs: []Input{{From: "image", ParameterKey: "container.image"}}},
		Step{Name: "check", Type: "wait", Properties: map[string]any{"n": int64(3)}},
	)})
	h.run()
	require.Equal(t, PhaseSucceeded, h.state.Phase)
	require.Equal(t, map[string]any{"image": "registry/build:1"}, h.state.Outputs)
	require.Equal(t, map[string]any{"container": map[string]any{"image": "registry/build:1"}}, h.world.props["deploy"])
	require.Equal(t, map[string]int{"build": 1, "deploy": 1, "check": 3}, h.world.calls)
	require.Equal(t, epoch.Add(3*time.Second), *h.state.EndTime, "waits back off 1s then 2s")
}

func TestDAGRunsIndependentStepsTogether(t *testing.T) {
	h := newHarness(t, &Spec{Mode: DAG, Steps: steps(
		Step{Name: "slow", Type: "wait", Properties: map[string]any{"n": int64(2)}},
		Step{Name: "a", Type: "apply"},
		Step{Name: "b", Type: "apply", DependsOn: []string{"a"}},
		Step{Name: "after-slow", Type: "apply", DependsOn: []string{"slow"}},
	)})
	h.tick()
	require.Equal(t, StepSucceeded, h.phase("a"))
	require.Equal(t, StepSucceeded, h.phase("b"), "b runs in the same tick once a is done")
	require.Equal(t, StepRunning, h.phase("slow"))
	require.Equal(t, StepPending, h.phase("after-slow"))
	h.run()
	require.Equal(t, PhaseSucceeded, h.state.Phase)
}

func TestConditions(t *testing.T) {
	h := newHarness(t, &Spec{Steps: steps(
		Step{Name: "deploy", Type: "fail"},
		Step{Name: "next", Type: "apply"},
		Step{Name: "rollback", Type: "apply", If: `status.deploy.failed`},
		Step{Name: "report", Type: "apply", If: "always"},
		Step{Name: "only-prod", Type: "apply", If: `context.namespace == "prod"`},
	)})
	h.run()
	require.Equal(t, StepFailed, h.phase("deploy"))
	require.Equal(t, StepSkipped, h.phase("next"))
	require.Equal(t, ReasonDependency, h.state.Step("next").Reason)
	require.Equal(t, StepSucceeded, h.phase("rollback"))
	require.Equal(t, StepSucceeded, h.phase("report"))
	require.Equal(t, StepSkipped, h.phase("only-prod"))
	require.Equal(t, PhaseFailed, h.state.Phase)
	require.Equal(t, `step "deploy" failed (Broken): it is broken`, h.state.Message)
}

func TestBadConditionFailsTheStepInsteadOfHanging(t *testing.T) {
	h := newHarness(t, &Spec{Steps: steps(Step{Name: "a", Type: "apply", If: `status.a.phase ==`})})
	h.run()
	require.Equal(t, PhaseFailed, h.state.Phase)
	require.Contains(t, h.state.Message, "if:")
}

func TestTimeouts(t *testing.T) {
	h := newHarness(t, &Spec{Steps: steps(
		Step{Name: "own", Type: "wait", Timeout: 20 * time.Second, Properties: map[string]any{"n": int64(1000)}},
	)})
	h.run()
	require.Equal(t, StepFailed, h.phase("own"))
	require.Equal(t, ReasonTimeout, h.state.Step("own").Reason)
	require.Equal(t, epoch.Add(20*time.Second), *h.state.EndTime, "the deadline wakes the engine")
	require.Equal(t, PhaseFailed, h.state.Phase)

	h = newHarness(t, &Spec{Steps: steps(Step{Name: "default", Type: "wait", Properties: map[string]any{"n": int64(1 << 30)}})})
	h.run()
	require.Equal(t, ReasonTimeout, h.state.Step("default").Reason, "a step without timeout gets the default one")
	require.Equal(t, epoch.Add(10*time.Minute), *h.state.EndTime)
	require.Less(t, h.ticks, 40, "waits back off up to MaxBackoff")
}

func TestRetries(t *testing.T) {
	spec := &Spec{Steps: steps(Step{Name: "push", Type: "flaky", Retries: Retries{Limit: 2, Backoff: 5 * time.Second}})}
	h := newHarness(t, spec)
	h.world.failures["push"] = 2
	h.tick()
	require.Equal(t, ReasonRetrying, h.state.Step("push").Reason)
	first := h.state.Step("push").ExecutionID
	h.run()
	require.Equal(t, PhaseSucceeded, h.state.Phase)
	require.Equal(t, 3, h.world.calls["push"])
	require.NotEqual(t, first, h.state.Step("push").ExecutionID, "a retry is a new execution")
	require.Equal(t, epoch.Add(15*time.Second), *h.state.EndTime, "retries back off 5s then 10s")

	h = newHarness(t, spec)
	h.world.failures["push"] = 3
	h.run()
	require.Equal(t, PhaseFailed, h.state.Phase)
	require.Equal(t, 3, h.world.calls["push"], "limit 2 means three attempts")
	require.Contains(t, h.state.Message, "transient error")
}

func TestSuspendAndResume(t *testing.T) {
	spec := &Spec{Steps: steps(
		Step{Name: "staging", Type: "apply"},
		Step{Name: "approval", Type: TypeSuspend, Properties: map[string]any{"message": "check staging"}},
		Step{Name: "prod", Type: "apply"},
	)}
	h := newHarness(t, spec)
	h.run()
	require.Equal(t, PhaseSuspending, h.state.Phase)
	require.Equal(t, "check staging", h.state.Step("approval").Message)
	h.now = h.now.Add(48 * time.Hour)
	h.run()
	require.Equal(t, StepSuspending, h.phase("approval"), "a person's approval has no default timeout")

	_, err := Resume(h.state, "prod", "", h.now)
	require.ErrorContains(t, err, `step "prod" is pending, not a suspended step`)
	h.state, err = Resume(h.state, "approval", "release@example.com", h.now)
	require.NoError(t, err)
	h.run()
	require.Equal(t, PhaseSucceeded, h.state.Phase)
	require.Equal(t, "release@example.com", h.state.Step("approval").ResumedBy, "who approved stays recorded")

	// Suspending the whole workflow holds every step until Resume.
	h = newHarness(t, &Spec{Steps: steps(Step{Name: "a", Type: "apply"})})
	h.state = Suspend(h.state)
	h.run()
	require.Equal(t, PhaseSuspending, h.state.Phase)
	require.Zero(t, h.world.calls["a"])
	h.state, err = Resume(h.state, "", "", h.now)
	require.NoError(t, err)
	h.run()
	require.Equal(t, PhaseSucceeded, h.state.Phase)
}

// TestTimedSuspendInStepGroupResumesByItself is KubeVela #4508.
func TestTimedSuspendInStepGroupResumesByItself(t *testing.T) {
	h := newHarness(t, &Spec{Steps: steps(
		Step{Name: "group", Type: TypeStepGroup, SubSteps: steps(
			Step{Name: "pause", Type: TypeSuspend, Properties: map[string]any{"duration": "30s"}},
			Step{Name: "work", Type: "apply"},
		)},
		Step{Name: "after", Type: "apply"},
	)})
	requeue := h.tick()
	require.Equal(t, 30*time.Second, requeue)
	require.Equal(t, StepSuspending, h.phase("group"))
	require.Equal(t, StepSucceeded, h.phase("work"), "sub-steps run as a DAG by default")
	h.run()
	require.Equal(t, PhaseSucceeded, h.state.Phase)
	require.Equal(t, ReasonResumed, h.state.Step("pause").Reason)
	require.Equal(t, epoch.Add(30*time.Second), *h.state.EndTime)
}

func TestResumeAllReachesIntoStepGroups(t *testing.T) {
	h := newHarness(t, &Spec{SubMode: StepByStep, Steps: steps(
		Step{Name: "group", Type: TypeStepGroup, SubSteps: steps(
			Step{Name: "hold", Type: TypeSuspend},
			Step{Name: "then", Type: "apply"},
		)},
	)})
	h.run()
	require.Equal(t, PhaseSuspending, h.state.Phase)
	require.Equal(t, StepPending, h.phase("then"))
	var err error
	h.state, err = Resume(h.state, "", "", h.now)
	require.NoError(t, err)
	h.run()
	require.Equal(t, PhaseSucceeded, h.state.Phase)
}

func TestExecutorSuspendWaitsForApproval(t *testing.T) {
	h := newHarness(t, &Spec{Steps: steps(Step{Name: "deploy", Type: "approve"})})
	h.run()
	require.Equal(t, StepSuspending, h.phase("deploy"))
	var err error
	h.state, err = Resume(h.state, "deploy", "", h.now)
	require.NoError(t, err)
	h.run()
	require.Equal(t, PhaseSucceeded, h.state.Phase)
	require.Equal(t, 2, h.world.calls["deploy"])
}

func TestGroupTimeoutStopsItsSubSteps(t *testing.T) {
	h := newHarness(t, &Spec{Steps: steps(
		Step{Name: "group", Type: TypeStepGroup, Timeout: time.Minute, SubSteps: steps(
			Step{Name: "forever", Type: "wait", Properties: map[string]any{"n": int64(1 << 30)}},
		)},
	)})
	h.run()
	require.Equal(t, PhaseFailed, h.state.Phase)
	require.Equal(t, ReasonTimeout, h.state.Step("group").Reason)
	require.Equal(t, StepStopped, h.phase("forever"))
}

func TestSubStepFailureFailsGroup(t *testing.T) {
	h := newHarness(t, &Spec{Steps: steps(
		Step{Name: "group", Type: TypeStepGroup, SubSteps: steps(Step{Name: "bad", Type: "fail"}, Step{Name: "good", Type: "apply"})},
	)})
	h.run()
	require.Equal(t, PhaseFailed, h.state.Phase)
	require.Equal(t, `step "group": step "bad" failed (Broken): it is broken`, h.state.Message)
	require.Equal(t, StepSucceeded, h.phase("good"))
}

func TestTerminateAndRestart(t *testing.T) {
	spec := &Spec{Steps: steps(Step{Name: "a", Type: "apply"}, Step{Name: "hold", Type: TypeSuspend}, Step{Name: "b", Type: "apply"})}
	h := newHarness(t, spec)
	h.run()
	firstID := h.state.Step("a").ExecutionID
	h.state = Terminate(h.state, h.now)
	require.Equal(t, PhaseTerminated, h.state.Phase)
	require.Equal(t, StepStopped, h.phase("hold"))
	require.Equal(t, StepStopped, h.phase("b"))
	h.run()
	require.Zero(t, h.world.calls["b"], "nothing runs after terminate")

	h.state = Restart(spec, h.state, h.now)
	h.run()
	require.Equal(t, 2, h.world.calls["a"])
	require.NotEqual(t, firstID, h.state.Step("a").ExecutionID)
	require.Equal(t, 1, h.state.Run)
}

func TestUnknownTypeAndInputErrors(t *testing.T) {
	h := newHarness(t, &Spec{Steps: steps(Step{Name: "x", Type: "teleport"})})
	h.run()
	require.Equal(t, ReasonUnknownType, h.state.Step("x").Reason)
	require.Equal(t, PhaseFailed, h.state.Phase)

	h = newHarness(t, &Spec{Steps: steps(
		Step{Name: "a", Type: "apply", Outputs: []Output{{Name: "v", ValueFrom: `output.missing`}}},
	)})
	h.run()
	require.Equal(t, ReasonOutputError, h.state.Step("a").Reason)

	h = newHarness(t, &Spec{Steps: steps(Step{Name: "b", Type: "apply", Inputs: []Input{{From: "nobody"}}})})
	h.run()
	require.Equal(t, ReasonInputError, h.state.Step("b").Reason)
}

func TestStateMustMatchSpec(t *testing.T) {
	spec := &Spec{Steps: steps(Step{Name: "a", Type: "apply"})}
	other := &Spec{Steps: steps(Step{Name: "b", Type: "apply"})}
	_, _, err := Run(context.Background(), spec, NewState(other, epoch), Env{})
	require.ErrorContains(t, err, "restart the workflow")
}

func TestSpecValidation(t *testing.T) {
	tests := []struct {
		name string
		spec Spec
		want string
	}{
		{"duplicate", Spec{Steps: steps(Step{Name: "a", Type: "x"}, Step{Name: "a", Type: "x"})}, `step "a" (x): duplicate step name`},
		{"unknown dependency", Spec{Steps: steps(Step{Name: "a", Type: "x", DependsOn: []string{"z"}})}, `dependsOn names unknown step "z"`},
		{"cycle", Spec{Mode: DAG, Steps: steps(Step{Name: "a", Type: "x", DependsOn: []string{"b"}}, Step{Name: "b", Type: "x", DependsOn: []string{"a"}})}, "cycle"},
		{"mode", Spec{Mode: "Parallel"}, `mode "Parallel"`},
		{"no type", Spec{Steps: steps(Step{Name: "a"})}, `step "a" (): type is required`},
		{"nested group", Spec{Steps: steps(Step{Name: "g", Type: TypeStepGroup, SubSteps: steps(Step{Name: "h", Type: TypeStepGroup})})}, "cannot be nested"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.ErrorContains(t, tt.spec.Validate(), tt.want)
		})
	}
}

func TestFinishedWorkflowTickIsANoOp(t *testing.T) {
	h := newHarness(t, &Spec{Steps: steps(Step{Name: "a", Type: "apply"})})
	h.run()
	before := h.state
	requeue := h.tick()
	require.Zero(t, requeue)
	require.Equal(t, before, h.state)
	require.Equal(t, 1, h.world.calls["a"])
}

// TestWakeChecksWaitingStepsEarly: a caller that knows something changed (a watched object)
// gets waiting steps checked at once; retry backoff is kept.
func TestWakeChecksWaitingStepsEarly(t *testing.T) {
	h := newHarness(t, &Spec{Steps: steps(Step{Name: "rollout", Type: "wait", Properties: map[string]any{"n": int64(3)}})})
	h.tick()
	h.tick() // same instant: the wait's next check is in the future, nothing runs
	require.Equal(t, 1, h.world.calls["rollout"])
	env := h.env()
	env.Wake = true
	for i := 0; i < 2; i++ {
		next, _, err := Run(context.Background(), h.spec, h.state, env)
		require.NoError(t, err)
		h.state = next
	}
	require.Equal(t, 3, h.world.calls["rollout"], "woken twice without the clock moving")
	require.Equal(t, PhaseSucceeded, h.state.Phase)

	h = newHarness(t, &Spec{Steps: steps(Step{Name: "push", Type: "flaky", Retries: Retries{Limit: 3, Backoff: time.Minute}})})
	h.world.failures["push"] = 1
	h.tick()
	env = h.env()
	env.Wake = true
	next, _, err := Run(context.Background(), h.spec, h.state, env)
	require.NoError(t, err)
	require.Equal(t, 1, h.world.calls["push"], "a retry waits for its backoff even when woken")
	require.Equal(t, ReasonRetrying, next.Step("push").Reason)
}
