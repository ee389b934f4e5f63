package workflow

import (
	"slices"
	"time"

	"github.com/ferryhq/ferry/pkg/rollout"
)

// Phase is the phase of the whole workflow.
type Phase string

// Workflow phases. Succeeded, Failed and Terminated are final.
const (
	PhaseExecuting  Phase = "executing"
	PhaseSuspending Phase = "suspending"
	PhaseSucceeded  Phase = "succeeded"
	PhaseFailed     Phase = "failed"
	PhaseTerminated Phase = "terminated"
)

// StepPhase is the phase of one step.
type StepPhase string

// Step phases. Succeeded, Failed, Skipped and Stopped are final.
const (
	StepPending    StepPhase = "pending"
	StepRunning    StepPhase = "running"
	StepSucceeded  StepPhase = "succeeded"
	StepFailed     StepPhase = "failed"
	StepSkipped    StepPhase = "skipped"
	StepSuspending StepPhase = "suspending"
	StepStopped    StepPhase = "stopped"
)

// Reasons a step is in its phase.
const (
	ReasonTimeout     = "Timeout"
	ReasonRetrying    = "Retrying"
	ReasonFailed      = "Failed"
	ReasonWaiting     = "Waiting"
	ReasonSkipped     = "ConditionNotMet"
	ReasonDependency  = "DependencyFailed"
	ReasonSuspended   = "Suspended"
	ReasonResumed     = "Resumed"
	ReasonTerminated  = "Terminated"
	ReasonOutputError = "OutputError"
	ReasonInputError  = "InputError"
	ReasonUnknownType = "UnknownStepType"
)

// State is everything the engine knows about a run; the caller persists it between ticks.
type State struct {
	Phase   Phase  `json:"phase"`
	Message string `json:"message,omitempty"`
	// Suspended is set by Suspend (the whole workflow) and cleared by Resume.
	Suspended bool       `json:"suspended,omitempty"`
	StartTime time.Time  `json:"startTime"`
	EndTime   *time.Time `json:"endTime,omitempty"`
	// Run counts restarts; execution ids include it.
	Run   int         `json:"run"`
	Steps []StepState `json:"steps"`
	// Outputs are the values steps exported, by output name.
	Outputs map[string]any `json:"outputs,omitempty"`
}

// StepState is what happened to one step.
type StepState struct {
	Name    string    `json:"name"`
	Type    string    `json:"type"`
	Phase   StepPhase `json:"phase"`
	Reason  string    `json:"reason,omitempty"`
	Message string    `json:"message,omitempty"`
	// ExecutionID identifies one execution of the step: the same while a result is not
	// persisted, new for every retry and every restart.
	ExecutionID      string     `json:"executionID,omitempty"`
	Attempts         int        `json:"attempts,omitempty"`
	Waits            int        `json:"waits,omitempty"`
	FirstExecuteTime *time.Time `json:"firstExecuteTime,omitempty"`
	LastExecuteTime  *time.Time `json:"lastExecuteTime,omitempty"`
	// NextTime is when a waiting or retrying step runs again.
	NextTime *time.Time `json:"nextTime,omitempty"`
	// ResumeTime is when a suspend with a duration resumes by itself.
	ResumeTime *time.Time `json:"resumeTime,omitempty"`
	// Resumed is set when a step that asked to suspend has been resumed, at ResumedTime; its
	// timeout counts from then.
	Resumed     bool       `json:"resumed,omitempty"`
	ResumedTime *time.Time `json:"resumedTime,omitempty"`
	// ResumedBy is who resumed (approved) the step, as the API server knows them.
	ResumedBy string `json:"resumedBy,omitempty"`
	// Progress is what the step's executor keeps between checks of one execution.
	Progress *Progress   `json:"progress,omitempty"`
	SubSteps []StepState `json:"subSteps,omitempty"`
}

// Progress is what a gated or progressive deploy step keeps between checks: since when its
// targets have been healthy (healthyFor), and each cluster's place in its rollout.
type Progress struct {
	HealthySince *time.Time        `json:"healthySince,omitempty"`
	Rollout      []rollout.Cluster `json:"rollout,omitempty"`
	// RolledBack says what a rollback on failure returned.
	RolledBack string `json:"rolledBack,omitempty"`
	// Metric is a check-metrics step's last reading.
	Metric *MetricReading `json:"metric,omitempty"`
}

// MetricReading is the last value a metric check read and whether it met its condition.
type MetricReading struct {
	Query     string `json:"query"`
	Value     string `json:"value"`
	Condition string `json:"condition"`
	Met       bool   `json:"met"`
	// Since is when the condition last started to hold (Met) or to fail.
	Since *time.Time `json:"since,omitempty"`
}

// Clone returns a deep copy; nil for nil.
func (p *Progress) Clone() *Progress {
	if p == nil {
		return nil
	}
	out := *p
	out.Rollout = slices.Clone(p.Rollout)
	if p.Metric != nil {
		m := *p.Metric
		out.Metric = &m
	}
	return &out
}

// Finished reports whether the workflow has ended.
func (s *State) Finished() bool {
	return s.Phase == PhaseSucceeded || s.Phase == PhaseFailed || s.Phase == PhaseTerminated
}

func (p StepPhase) finished() bool {
	return p == StepSucceeded || p == StepFailed || p == StepSkipped || p == StepStopped
}

// Step finds a step's state by name, at any level.
func (s *State) Step(name string) *StepState {
	return findStep(s.Steps, name)
}

func findStep(steps []StepState, name string) *StepState {
	for i := range steps {
		if steps[i].Name == name {
			return &steps[i]
		}
		if sub := findStep(steps[i].SubSteps, name); sub != nil {
			return sub
		}
	}
	return nil
}

// NewState returns the state of a run that has not started.
func NewState(spec *Spec, now time.Time) State {
	return State{Phase: PhaseExecuting, StartTime: now, Steps: newStepStates(spec.Steps)}
}

func newStepStates(steps []Step) []StepState {
	out := make([]StepState, len(steps))
	for i, s := range steps {
		out[i] = StepState{Name: s.Name, Type: s.Type, Phase: StepPending, SubSteps: newStepStates(s.SubSteps)}
	}
	return out
}

// clone deep-copies a state so a tick never changes its input.
func (s State) clone() State {
	s.Steps = cloneSteps(s.Steps)
	if s.Outputs != nil {
		out := make(map[string]any, len(s.Outputs))
		for k, v := range s.Outputs {
			out[k] = v
		}
		s.Outputs = out
	}
	return s
}

func cloneSteps(steps []StepState) []StepState {
	if steps == nil {
		return nil
	}
	out := make([]StepState, len(steps))
	for i, st := range steps {
		st.SubSteps = cloneSteps(st.SubSteps)
		st.Progress = st.Progress.Clone()
		out[i] = st
	}
	return out
}
