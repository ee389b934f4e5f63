package workflow

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fakeDeployer is done after rounds calls per step, or fails with err.
type fakeDeployer struct {
	rounds map[string]int
	calls  map[string][]string
	err    error
}

func (f *fakeDeployer) Deploy(_ context.Context, req DeployRequest) (DeployResult, error) {
	f.calls[req.Step] = append(f.calls[req.Step], req.Policies...)
	if f.err != nil {
		return DeployResult{}, f.err
	}
	f.rounds[req.Step]--
	if f.rounds[req.Step] > 0 {
		return DeployResult{Message: "waiting for web to be healthy on prod"}, nil
	}
	return DeployResult{Done: true, Message: "deployed"}, nil
}

func TestDeployExecutor(t *testing.T) {
	spec := &Spec{Steps: steps(
		Step{Name: "staging", Type: TypeDeploy, Properties: map[string]any{"policies": []any{"staging"}}},
		Step{Name: "prod", Type: TypeDeploy, Properties: map[string]any{"policies": []any{"prod", "prod-size"}, "auto": false}},
	)}
	deployer := &fakeDeployer{rounds: map[string]int{"staging": 2, "prod": 1}, calls: map[string][]string{}}
	h := newHarness(t, spec)
	env := h.env()
	env.Executors = map[string]Executor{TypeDeploy: DeployExecutor{Deployer: deployer}}
	run := func() {
		for i := 0; i < 50; i++ {
			next, requeue, err := Run(context.Background(), spec, h.state, env)
			require.NoError(t, err)
			h.state = next
			if next.Finished() || requeue == 0 {
				return
			}
			h.now = h.now.Add(requeue)
		}
	}
	run()
	require.Equal(t, StepSucceeded, h.phase("staging"))
	require.Equal(t, StepSuspending, h.phase("prod"), "auto: false waits for approval")
	require.Empty(t, deployer.calls["prod"])
	var err error
	h.state, err = Resume(h.state, "prod", "", h.now)
	require.NoError(t, err)
	run()
	require.Equal(t, PhaseSucceeded, h.state.Phase)
	require.Equal(t, []string{"prod", "prod-size"}, deployer.calls["prod"])

	// A deploy that never becomes healthy ends with Timeout, not running forever (KubeVela #7045).
	spec = &Spec{Steps: steps(Step{Name: "stuck", Type: TypeDeploy, Timeout: 5 * time.Minute})}
	h = newHarness(t, spec)
	env = h.env()
	env.Executors = map[string]Executor{TypeDeploy: DeployExecutor{Deployer: &fakeDeployer{rounds: map[string]int{"stuck": 1 << 30}, calls: map[string][]string{}}}}
	run()
	require.Equal(t, PhaseFailed, h.state.Phase)
	require.Equal(t, ReasonTimeout, h.state.Step("stuck").Reason)
	require.Contains(t, h.state.Step("stuck").Message, "did not finish within 5m0s: waiting for web to be healthy on prod")

	spec = &Spec{Steps: steps(Step{Name: "broken", Type: TypeDeploy})}
	h = newHarness(t, spec)
	env = h.env()
	env.Executors = map[string]Executor{TypeDeploy: DeployExecutor{Deployer: &fakeDeployer{err: errors.New("cluster prod is unreachable"), calls: map[string][]string{}}}}
	run()
	require.Equal(t, PhaseFailed, h.state.Phase)
	require.Contains(t, h.state.Message, "cluster prod is unreachable")
}

// healthSwitch is a Deployer whose targets are healthy while healthy is set.
type healthSwitch struct{ healthy bool }

func (h *healthSwitch) Deploy(context.Context, DeployRequest) (DeployResult, error) {
	if !h.healthy {
		return DeployResult{Message: "waiting for web"}, nil
	}
	return DeployResult{Done: true, Message: "deployed to 1 target(s), healthy"}, nil
}

// TestHealthyFor: a deploy step with healthyFor succeeds only once its targets have been healthy
// that long without a break; a flap restarts the clock; the next check is due when the time is
// up, not later; the clock survives the state's round trip (a restarted controller).
func TestHealthyFor(t *testing.T) {
	spec := &Spec{Steps: steps(Step{Name: "prod", Type: TypeDeploy, Properties: map[string]any{"healthyFor": "10m"}})}
	h := newHarness(t, spec)
	env := h.env()
	env.Options.BaseBackoff, env.Options.MaxBackoff = time.Hour, time.Hour // the timer, not the backoff, decides
	health := &healthSwitch{healthy: true}
	env.Executors = map[string]Executor{TypeDeploy: DeployExecutor{Deployer: health}}
	tick := func() time.Duration {
		next, requeue, err := Run(context.Background(), spec, h.state, env)
		require.NoError(t, err)
		h.state = next
		return requeue
	}
	start := h.now
	require.Equal(t, 10*time.Minute, tick(), "the next check is when healthyFor is up")
	require.Equal(t, "healthy for 0s of 10m0s (healthyFor)", h.state.Step("prod").Message)
	h.now = start.Add(6 * time.Minute)
	env.Wake = true // something changed: check now
	health.healthy = false
	tick()
	require.Nil(t, h.state.Step("prod").Progress.HealthySince, "a flap restarts the clock")
	h.now = start.Add(7 * time.Minute)
	health.healthy = true
	tick()
	require.Equal(t, h.now, *h.state.Step("prod").Progress.HealthySince)
	h.now = start.Add(16 * time.Minute)
	tick()
	require.Equal(t, StepRunning, h.state.Step("prod").Phase, "9 minutes since the flap are not 10")
	require.Equal(t, "healthy for 9m0s of 10m0s (healthyFor)", h.state.Step("prod").Message)
	h.now = start.Add(17 * time.Minute)
	tick()
	require.Equal(t, StepSucceeded, h.state.Step("prod").Phase)
	require.Equal(t, "deployed to 1 target(s), healthy; healthy for 10m0s", h.state.Step("prod").Message)
}

// TestDeployPropertiesErrors: a bad healthyFor, rolloutStrategy or onFailure fails the step
// saying which field is wrong.
func TestDeployPropertiesErrors(t *testing.T) {
	for _, tc := range []struct {
		props map[string]any
		want  string
	}{
		{map[string]any{"healthyFor": "a while"}, `healthyFor: "a while" is not a duration`},
		{map[string]any{"rolloutStrategy": map[string]any{"type": "Canary"}}, `rolloutStrategy.type: "Canary"`},
		{map[string]any{"onFailure": "panic"}, `onFailure: "panic" is neither rollback nor stop`},
	} {
		_, err := DeployExecutor{Deployer: &healthSwitch{}}.Execute(context.Background(), StepInput{Step: Step{Name: "prod", Type: TypeDeploy, Properties: tc.props}})
		require.ErrorContains(t, err, tc.want)
	}
}
