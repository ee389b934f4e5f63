package appworkflow

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/rollout"
	"github.com/ferryhq/ferry/pkg/workflow"
)

// Status stores an engine state in status.workflow. Outputs are not part of it: they
// live in the workflow's context ConfigMap.
func Status(st workflow.State, revision string, mode workflow.Mode) *v1beta1.WorkflowStatus {
	out := &v1beta1.WorkflowStatus{
		AppRevision: revision, Mode: string(mode), Phase: string(st.Phase), Message: st.Message,
		Suspend:    st.Phase == workflow.PhaseSuspending,
		Terminated: st.Phase == workflow.PhaseTerminated,
		Finished:   st.Finished(),
		StartTime:  timeOf(&st.StartTime), EndTime: timeOf(st.EndTime),
		Run: st.Run, ManualSuspend: st.Suspended,
	}
	for _, s := range st.Steps {
		ws := v1beta1.WorkflowStepStatus{StepStatus: stepStatus(s)}
		for _, sub := range s.SubSteps {
			ws.SubStepsStatus = append(ws.SubStepsStatus, stepStatus(sub))
		}
		out.Steps = append(out.Steps, ws)
	}
	return out
}

func stepStatus(s workflow.StepState) v1beta1.StepStatus {
	return v1beta1.StepStatus{
		ID: s.ExecutionID, Name: s.Name, Type: s.Type, Phase: string(s.Phase), Message: s.Message, Reason: s.Reason,
		FirstExecuteTime: timeOf(s.FirstExecuteTime), LastExecuteTime: timeOf(s.LastExecuteTime),
		Attempts: s.Attempts, Waits: s.Waits, NextTime: timeOf(s.NextTime), ResumeTime: timeOf(s.ResumeTime),
		Resumed: s.Resumed, ResumedTime: timeOf(s.ResumedTime), ResumedBy: s.ResumedBy, Progress: ProgressStatus(s.Progress),
	}
}

// State reads an engine state back from status.workflow.
func State(ws *v1beta1.WorkflowStatus) workflow.State {
	st := workflow.State{
		Phase: workflow.Phase(ws.Phase), Message: ws.Message, Suspended: ws.ManualSuspend,
		EndTime: goTime(ws.EndTime), Run: ws.Run,
	}
	if ws.StartTime != nil {
		st.StartTime = ws.StartTime.Time
	}
	for _, s := range ws.Steps {
		step := stepState(s.StepStatus)
		for _, sub := range s.SubStepsStatus {
			step.SubSteps = append(step.SubSteps, stepState(sub))
		}
		st.Steps = append(st.Steps, step)
	}
	return st
}

func stepState(s v1beta1.StepStatus) workflow.StepState {
	return workflow.StepState{
		Name: s.Name, Type: s.Type, Phase: workflow.StepPhase(s.Phase), Reason: s.Reason, Message: s.Message,
		ExecutionID: s.ID, Attempts: s.Attempts, Waits: s.Waits,
		FirstExecuteTime: goTime(s.FirstExecuteTime), LastExecuteTime: goTime(s.LastExecuteTime),
		NextTime: goTime(s.NextTime), ResumeTime: goTime(s.ResumeTime), Resumed: s.Resumed, ResumedTime: goTime(s.ResumedTime), ResumedBy: s.ResumedBy,
		Progress: ProgressState(s.Progress),
	}
}

// ProgressStatus is a step's Progress as the status keeps it.
func ProgressStatus(p *workflow.Progress) *v1beta1.StepProgress {
	if p == nil {
		return nil
	}
	out := &v1beta1.StepProgress{HealthySince: ceilTime(p.HealthySince), RolledBack: p.RolledBack}
	if m := p.Metric; m != nil {
		out.Metric = &v1beta1.MetricReading{Query: m.Query, Value: m.Value, Condition: m.Condition, Met: m.Met, Since: timeOf(m.Since)}
	}
	for _, c := range p.Rollout {
		out.Rollout = append(out.Rollout, v1beta1.ClusterRollout{Cluster: c.Cluster, Group: c.Group, Phase: string(c.Phase),
			Started: ceilTime(c.Started), HealthySince: ceilTime(c.HealthySince), Finished: timeOf(c.Finished), Message: c.Message, From: c.From})
	}
	return out
}

// ceilTime keeps a time in whole seconds (as the status does) rounded up, so that a clock
// counting from it (healthyFor, minSuccessTime) never ends early.
func ceilTime(t *time.Time) *metav1.Time {
	if t == nil {
		return nil
	}
	up := t.Truncate(time.Second)
	if up.Before(*t) {
		up = up.Add(time.Second)
	}
	mt := metav1.NewTime(up)
	return &mt
}

// ProgressState reads a step's Progress back from the status.
func ProgressState(p *v1beta1.StepProgress) *workflow.Progress {
	if p == nil {
		return nil
	}
	out := &workflow.Progress{HealthySince: goTime(p.HealthySince), RolledBack: p.RolledBack}
	if m := p.Metric; m != nil {
		out.Metric = &workflow.MetricReading{Query: m.Query, Value: m.Value, Condition: m.Condition, Met: m.Met, Since: goTime(m.Since)}
	}
	for _, c := range p.Rollout {
		out.Rollout = append(out.Rollout, rollout.Cluster{Cluster: c.Cluster, Group: c.Group, Phase: rollout.Phase(c.Phase),
			Started: goTime(c.Started), HealthySince: goTime(c.HealthySince), Finished: goTime(c.Finished), Message: c.Message, From: c.From})
	}
	return out
}

func timeOf(t *time.Time) *metav1.Time {
	if t == nil {
		return nil
	}
	mt := metav1.NewTime(t.Truncate(time.Second))
	return &mt
}

func goTime(t *metav1.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := t.Time
	return &v
}
