package workflow

import (
	"fmt"
	"time"
)

// Suspend pauses the whole workflow until Resume.
func Suspend(st State) State {
	if st.Finished() {
		return st
	}
	st = st.clone()
	st.Suspended, st.Phase = true, PhaseSuspending
	return st
}

// Resume continues a suspended workflow at time now, on behalf of by (recorded in each resumed
// step). With a step name it resumes only that step (which must be suspending); without, it
// lifts a whole-workflow suspend and resumes every suspending step, also inside step groups.
func Resume(st State, step, by string, now time.Time) (State, error) {
	if st.Finished() {
		return st, fmt.Errorf("the workflow has already ended (%s)", st.Phase)
	}
	st = st.clone()
	if step == "" {
		st.Suspended = false
		resumeAll(st.Steps, by, now)
		st.Phase = PhaseExecuting
		return st, nil
	}
	s := st.Step(step)
	if s == nil {
		return st, fmt.Errorf("no step %q", step)
	}
	if s.Phase != StepSuspending || len(s.SubSteps) > 0 {
		return st, fmt.Errorf("step %q is %s, not a suspended step", step, s.Phase)
	}
	resumeOne(s, by, now)
	return st, nil
}

func resumeAll(steps []StepState, by string, now time.Time) {
	for i := range steps {
		if steps[i].Phase == StepSuspending && len(steps[i].SubSteps) == 0 {
			resumeOne(&steps[i], by, now)
		}
		resumeAll(steps[i].SubSteps, by, now)
	}
}

// resumeOne ends a suspend step, or lets a step that asked to suspend run on.
func resumeOne(s *StepState, by string, now time.Time) {
	s.ResumedTime, s.ResumedBy = &now, by
	if s.Type == TypeSuspend {
		s.Phase, s.Reason, s.ResumeTime = StepSucceeded, ReasonResumed, nil
		return
	}
	s.Phase, s.Reason, s.Resumed, s.ResumeTime, s.NextTime = StepRunning, ReasonResumed, true, nil, nil
}

// Terminate ends the workflow: unfinished steps are stopped and nothing runs any more.
func Terminate(st State, now time.Time) State {
	if st.Finished() {
		return st
	}
	st = st.clone()
	stopUnfinished(st.Steps, ReasonTerminated)
	st.Phase, st.Message, st.Suspended = PhaseTerminated, "terminated", false
	st.EndTime = &now
	return st
}

// Restart starts the workflow again from the first step. Execution ids change, so guarded side
// effects happen again, as a restart means.
func Restart(spec *Spec, st State, now time.Time) State {
	next := NewState(spec, now)
	next.Run = st.Run + 1
	return next
}
