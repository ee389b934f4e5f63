package workflow

import (
	"context"
	"fmt"
	"slices"
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
// and applies it to each target, at most parallelism at a time. It reports done once every
// target has the objects applied and healthy; until then the step waits (with the step's
// timeout) and message says what it waits for.
type Deployer interface {
	Deploy(ctx context.Context, step string, policies []string, parallelism int) (done bool, message string, err error)
}

// DeployExecutor runs `deploy` steps: `auto: false` suspends the step until it is resumed,
// then it deploys.
type DeployExecutor struct {
	Deployer Deployer
}

// Execute implements Executor.
func (d DeployExecutor) Execute(ctx context.Context, in StepInput) (Result, error) {
	props := in.Step.Properties
	if auto, ok := props["auto"].(bool); ok && !auto && !in.Resumed {
		return Result{Outcome: OutcomeSuspend, Message: fmt.Sprintf("waiting for approval: resume step %q to deploy", in.Step.Name)}, nil
	}
	var policies []string
	if list, ok := props["policies"].([]any); ok {
		for _, p := range list {
			s, ok := p.(string)
			if !ok {
				return Result{}, fmt.Errorf("policies: %v is not a policy name", p)
			}
			policies = append(policies, s)
		}
	}
	parallelism := 5
	if p, ok := props["parallelism"].(int64); ok && p > 0 {
		parallelism = int(p)
	}
	return deployed(d.Deployer.Deploy(ctx, in.Step.Name, policies, parallelism))
}

// deployed turns what a Deployer said into the step's result.
func deployed(done bool, message string, err error) (Result, error) {
	switch {
	case err != nil:
		return Result{}, err
	case !done:
		return Result{Outcome: OutcomeWait, Message: message}, nil
	}
	return Result{Outcome: OutcomeSucceeded, Message: message}, nil
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
	return deployed(a.Deployer.Deploy(ctx, in.Step.Name, nil, parallelism))
}
