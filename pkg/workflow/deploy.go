package workflow

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/ferryhq/ferry/pkg/rollout"
)

// TypeDeploy is the step type that delivers components to the targets of its policies.
const TypeDeploy = "deploy"

// TypeApplyComponent is the step type that delivers one component to one cluster and namespace.
// It is planned and delivered as a deploy step is.
const TypeApplyComponent = "apply-component"

// KubeVela's deprecated delivery steps. Each is planned as a deploy step is (see
// pkg/appfile): the planner works out its components and targets, and PlannedExecutor delivers
// them.
const (
	// TypeApplyApplication delivers every component to the hub.
	TypeApplyApplication = "apply-application"
	// TypeApplyApplicationInParallel delivers every component to the hub, all at once.
	TypeApplyApplicationInParallel = "apply-application-in-parallel"
	// TypeApplyRemaining delivers every component but its exceptions to the hub.
	TypeApplyRemaining = "apply-remaining"
	// TypeDeploy2Env delivers one environment of an env-binding policy.
	TypeDeploy2Env = "deploy2env"
	// TypeDeploy2Runtime delivers every component to managed clusters.
	TypeDeploy2Runtime = "deploy2runtime"
)

// ActionApplyEnvBindApp is the action (vela/op #ApplyEnvBindApp) that delivers one environment of
// an env-binding policy.
const ActionApplyEnvBindApp = "apply-env-bind-app"

// DeliveryAction reports whether a CUE action delivers components as planned for its step: the
// deploy action and KubeVela's older ones (#ApplyApplication, #ApplyRemaining, #ApplyEnvBindApp).
func DeliveryAction(do string) bool {
	switch do {
	case "deploy", TypeApplyApplication, TypeApplyRemaining, ActionApplyEnvBindApp:
		return true
	}
	return false
}

// plannedTypes are the step types whose whole delivery the planner works out.
var plannedTypes = []string{TypeApplyComponent, TypeApplyApplication, TypeApplyApplicationInParallel,
	TypeApplyRemaining, TypeDeploy2Env, TypeDeploy2Runtime}

// PlannedTypes lists the step types, besides deploy, that deliver what the planner made of them
// and run with PlannedExecutor.
func PlannedTypes() []string { return slices.Clone(plannedTypes) }

// Delivers reports whether a step type delivers components: its objects are planned with the
// Application, applied, kept by garbage collection and reported in its health.
func Delivers(stepType string) bool {
	return stepType == TypeDeploy || slices.Contains(plannedTypes, stepType)
}

// Deployer delivers the components of a deploy step: the controller renders the step's plan
// and applies it to each target, at most Parallelism at a time — or, with a rollout strategy,
// to the clusters the rollout has reached. It reports done once every target has the objects
// applied and healthy; until then the step waits (with the step's timeout) and Message says
// what it waits for.
type Deployer interface {
	Deploy(ctx context.Context, req DeployRequest) (DeployResult, error)
}

// DeployRequest is one check of a delivery step.
type DeployRequest struct {
	Step        string
	Policies    []string
	Parallelism int
	// Rollout, unless nil or of type All, changes the step's clusters a few at a time.
	Rollout *rollout.Strategy
	// RollbackOnFailure returns the clusters a stopped rollout changed to the revision they
	// ran before.
	RollbackOnFailure bool
	// Progress is what the step kept from its earlier checks (nil at first); Now is the clock.
	Progress *Progress
	Now      time.Time
}

// DeployResult is what a check of a delivery step found.
type DeployResult struct {
	// Done: every target has the objects and is healthy.
	Done bool
	// Stopped: the rollout stopped (too many clusters failed); the step fails.
	Stopped bool
	Message string
	// Progress replaces what the step keeps, when set.
	Progress *Progress
	// Recheck is when a rollout timer is due.
	Recheck time.Duration
}

// Reasons of a delivery step that failed on its own terms.
const (
	// ReasonRolloutStopped: more clusters failed than the rollout's maxFailures allows.
	ReasonRolloutStopped = "RolloutStopped"
	// ReasonRolledBack: the rollout stopped and the clusters it changed run their previous
	// revision again.
	ReasonRolledBack = "RolledBack"
	// ReasonRollbackFailed: a rollback was due but could not be done (the previous revision
	// is no longer kept); the clusters are left as they are.
	ReasonRollbackFailed = "RollbackFailed"
)

// DeployExecutor runs `deploy` steps: `auto: false` suspends the step until it is resumed,
// then it deploys; `healthyFor` holds it until its targets have been healthy that long without
// a break; `rolloutStrategy` changes its clusters a few at a time (OCM's strategies), and
// `onFailure: rollback` returns them when the rollout stops.
type DeployExecutor struct {
	Deployer Deployer
}

// DeployOptions are a deploy step's properties.
type DeployOptions struct {
	Policies    []string
	Parallelism int
	// HealthyFor holds the step until its targets have been healthy that long.
	HealthyFor time.Duration
	// Rollout is the step's rollout strategy when it changes clusters one check at a time: a
	// progressive one, or All when the step rolls back on failure.
	Rollout *rollout.Strategy
	// RollbackOnFailure returns the clusters a stopped rollout changed (onFailure: rollback,
	// or rollback.onFailure).
	RollbackOnFailure bool
	// RollbackOnUnhealthyWithin returns a cluster to its previous revision when it turns
	// unhealthy within this long after it succeeded (rollback.onUnhealthyWithin).
	RollbackOnUnhealthyWithin time.Duration
}

// ParseDeployOptions reads a deploy step's properties; errors name the property.
func ParseDeployOptions(props map[string]any) (DeployOptions, error) {
	o := DeployOptions{Parallelism: 5}
	if list, ok := props["policies"].([]any); ok {
		for _, p := range list {
			s, ok := p.(string)
			if !ok {
				return o, fmt.Errorf("policies: %v is not a policy name", p)
			}
			o.Policies = append(o.Policies, s)
		}
	}
	if p, ok := props["parallelism"].(int64); ok && p > 0 {
		o.Parallelism = int(p)
	}
	var err error
	if o.HealthyFor, err = duration(props, "healthyFor"); err != nil {
		return o, err
	}
	switch v := props["onFailure"].(type) {
	case nil:
	case string:
		if v != "rollback" && v != "stop" {
			return o, fmt.Errorf("onFailure: %q is neither rollback nor stop", v)
		}
		o.RollbackOnFailure = v == "rollback"
	default:
		return o, fmt.Errorf("onFailure: %v is neither rollback nor stop", v)
	}
	if rb, ok := props["rollback"].(map[string]any); ok {
		if on, ok := rb["onFailure"].(bool); ok && on {
			o.RollbackOnFailure = true
		}
		if o.RollbackOnUnhealthyWithin, err = duration(rb, "onUnhealthyWithin"); err != nil {
			return o, fmt.Errorf("rollback.%w", err)
		}
	}
	strategy := rollout.Strategy{Type: rollout.All, ProgressDeadline: rollout.DefaultProgressDeadline}
	if raw, ok := props["rolloutStrategy"]; ok && raw != nil {
		if strategy, err = rollout.Parse(raw); err != nil {
			return o, err
		}
	}
	// A rollback needs to know which clusters changed, and from what: rolling back makes
	// even an All rollout go through pkg/rollout.
	if strategy.Progressing() || o.RollbackOnFailure || o.RollbackOnUnhealthyWithin > 0 {
		o.Rollout = &strategy
	}
	return o, nil
}

// duration reads an optional duration property.
func duration(props map[string]any, name string) (time.Duration, error) {
	v, ok := props[name].(string)
	if !ok || v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%s: %q is not a duration such as 30s or 10m", name, v)
	}
	return d, nil
}

// Execute implements Executor.
func (d DeployExecutor) Execute(ctx context.Context, in StepInput) (Result, error) {
	props := in.Step.Properties
	if auto, ok := props["auto"].(bool); ok && !auto && !in.Resumed {
		return Result{Outcome: OutcomeSuspend, Message: fmt.Sprintf("waiting for approval: resume step %q to deploy", in.Step.Name)}, nil
	}
	o, err := ParseDeployOptions(props)
	if err != nil {
		return Result{}, err
	}
	if in.Progress != nil && in.Progress.RolledBack != "" {
		// A retry of a rolled-back rollout does not start it again.
		return Result{Outcome: OutcomeFail, Reason: ReasonRolledBack, Message: in.Progress.RolledBack}, nil
	}
	res, err := d.Deployer.Deploy(ctx, DeployRequest{Step: in.Step.Name, Policies: o.Policies, Parallelism: o.Parallelism,
		Rollout: o.Rollout, RollbackOnFailure: o.RollbackOnFailure, Progress: in.Progress, Now: in.Now})
	if err != nil {
		// Keep what the rollout found (which clusters it changed, from what) for the retry.
		return Result{Outcome: OutcomeFail, Reason: ReasonFailed, Message: err.Error(), Progress: res.Progress}, nil
	}
	progress := res.Progress
	if progress == nil {
		progress = in.Progress.Clone()
	}
	switch {
	case res.Stopped:
		reason := ReasonRolloutStopped
		if progress != nil && progress.RolledBack != "" {
			reason = ReasonRolledBack
		}
		return Result{Outcome: OutcomeFail, Reason: reason, Message: res.Message, Progress: progress}, nil
	case o.HealthyFor > 0:
		return holdHealthy(in.Now, o.HealthyFor, res, progress), nil
	case !res.Done:
		return Result{Outcome: OutcomeWait, Message: res.Message, Progress: progress, Recheck: res.Recheck}, nil
	}
	return Result{Outcome: OutcomeSucceeded, Message: res.Message, Progress: progress}, nil
}

// deployTimeout is the default timeout of a deploy step that sets none: the default plus its
// healthyFor, and none for a progressive rollout, whose progressDeadline bounds each cluster
// instead (a rollout over many clusters takes as long as it takes).
func deployTimeout(props map[string]any, def time.Duration) time.Duration {
	o, err := ParseDeployOptions(props)
	switch {
	case err != nil:
		return def
	case o.Rollout != nil && o.Rollout.Progressing():
		return 0
	}
	return def + o.HealthyFor
}

// holdHealthy succeeds a deploy step with healthyFor once its targets have been healthy that long
// without a break; a check that finds them unhealthy restarts the clock.
func holdHealthy(now time.Time, healthyFor time.Duration, res DeployResult, progress *Progress) Result {
	if progress == nil {
		progress = &Progress{}
	}
	if !res.Done {
		progress.HealthySince = nil
		return Result{Outcome: OutcomeWait, Message: res.Message, Progress: progress, Recheck: res.Recheck}
	}
	if progress.HealthySince == nil {
		progress.HealthySince = &now
	}
	held := max(now.Sub(*progress.HealthySince), 0)
	if held >= healthyFor {
		return Result{Outcome: OutcomeSucceeded, Progress: progress,
			Message: fmt.Sprintf("%s; healthy for %s", res.Message, healthyFor)}
	}
	return Result{Outcome: OutcomeWait, Progress: progress, Recheck: healthyFor - held,
		Message: fmt.Sprintf("healthy for %s of %s (healthyFor)", held.Round(time.Second), healthyFor)}
}

// deployed turns what a Deployer said into the step's result.
func deployed(res DeployResult, err error) (Result, error) {
	switch {
	case err != nil:
		return Result{}, err
	case !res.Done:
		return Result{Outcome: OutcomeWait, Message: res.Message}, nil
	}
	return Result{Outcome: OutcomeSucceeded, Message: res.Message}, nil
}

// PlannedExecutor runs the delivery steps of PlannedTypes through the Deployer: the planner
// made each step a plan of its own (apply-component: one component on one target), so the
// step's properties have been read already.
type PlannedExecutor struct {
	Deployer Deployer
}

// Execute implements Executor.
func (a PlannedExecutor) Execute(ctx context.Context, in StepInput) (Result, error) {
	parallelism := 1
	if in.Step.Type == TypeApplyApplicationInParallel || in.Step.Type == TypeDeploy2Runtime ||
		(in.Step.Type == TypeDeploy2Env && in.Step.Properties["parallel"] == true) {
		parallelism = 5
	}
	return deployed(a.Deployer.Deploy(ctx, DeployRequest{Step: in.Step.Name, Parallelism: parallelism, Now: in.Now}))
}
