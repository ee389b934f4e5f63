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

func (f *fakeDeployer) Deploy(_ context.Context, step string, policies []string, parallelism int) (bool, string, error) {
	f.calls[step] = append(f.calls[step], policies...)
	if f.err != nil {
		return false, "", f.err
	}
	f.rounds[step]--
	if f.rounds[step] > 0 {
		return false, "waiting for web to be healthy on prod", nil
	}
	return true, "deployed", nil
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
