package workflow

import (
	"fmt"
	"maps"
	"time"
)

// level runs the steps of one level (the top, or a step group's sub-steps) as far as they go
// in this tick: a step that finishes lets the next one start at once.
func (r *runner) level(steps []Step, states []StepState, mode Mode) {
	for progress := true; progress; {
		progress = false
		for i := range steps {
			st := &states[i]
			if st.Phase.finished() {
				continue
			}
			if mode == StepByStep && !allFinished(states[:i]) {
				break
			}
			if !r.dependenciesFinished(&steps[i], states) {
				continue
			}
			r.step(&steps[i], st, states[:i], states, mode)
			if st.Phase.finished() {
				progress = true
			}
		}
	}
}

func allFinished(states []StepState) bool {
	for _, s := range states {
		if !s.Phase.finished() {
			return false
		}
	}
	return true
}

func (r *runner) dependenciesFinished(s *Step, states []StepState) bool {
	for _, dep := range s.DependsOn {
		if d := findStep(states, dep); d == nil || !d.Phase.finished() {
			return false
		}
	}
	return true
}

// predecessors are the steps a step waits for: in StepByStep mode every earlier step of its
// level, in DAG mode the ones it depends on.
func predecessors(s *Step, earlier, level []StepState, mode Mode) []StepState {
	if mode == StepByStep {
		return earlier
	}
	var out []StepState
	for _, dep := range s.DependsOn {
		if d := findStep(level, dep); d != nil {
			out = append(out, *d)
		}
	}
	return out
}

// step advances one step that may run now.
func (r *runner) step(s *Step, st *StepState, earlier, level []StepState, mode Mode) {
	now := r.now
	if st.Phase == StepPending {
		inputs, wait, err := r.inputs(s)
		if wait {
			return
		}
		run, reason, err2 := r.shouldRun(s, predecessors(s, earlier, level, mode), inputs)
		switch {
		case err != nil:
			r.fail(st, ReasonInputError, err.Error())
			return
		case err2 != nil:
			r.fail(st, ReasonFailed, err2.Error())
			return
		case !run:
			st.Phase, st.Reason = StepSkipped, reason
			return
		}
		st.Phase = StepRunning
		st.FirstExecuteTime = &now
		st.ExecutionID = r.executionID(s, st)
	}
	if r.timedOut(s, st) {
		msg := fmt.Sprintf("did not finish within %s", r.timeout(s, st))
		if st.Message != "" {
			msg += ": " + st.Message
		}
		r.fail(st, ReasonTimeout, msg)
		stopUnfinished(st.SubSteps, ReasonTimeout)
		return
	}
	switch s.Type {
	case TypeStepGroup:
		r.group(s, st)
	case TypeSuspend:
		r.suspend(s, st)
	default:
		r.execute(s, st)
	}
}

// timeout is the step's own timeout, or the default for steps that wait on machines: a step
// group (its sub-steps have their own), a suspend step and a step suspended until a person
// resumes it get no default.
func (r *runner) timeout(s *Step, st *StepState) time.Duration {
	switch {
	case s.Timeout > 0:
		return s.Timeout
	case s.Type == TypeStepGroup || s.Type == TypeSuspend:
		return 0
	case st.Phase == StepSuspending:
		return 0
	}
	if s.Type == TypeDeploy {
		return deployTimeout(s.Properties, r.env.Options.DefaultTimeout)
	}
	return r.env.Options.DefaultTimeout
}

// timedOut checks the deadline, counted from the first execution or, for a resumed step, from
// when it was resumed, and asks for a tick at the deadline.
func (r *runner) timedOut(s *Step, st *StepState) bool {
	timeout := r.timeout(s, st)
	start := st.FirstExecuteTime
	if st.ResumedTime != nil && s.Type != TypeSuspend {
		start = st.ResumedTime
	}
	if timeout == 0 || start == nil {
		return false
	}
	deadline := start.Add(timeout)
	if !r.now.Before(deadline) {
		return true
	}
	r.wakeAt(deadline)
	return false
}

func (r *runner) fail(st *StepState, reason, message string) {
	st.Phase, st.Reason, st.Message, st.NextTime = StepFailed, reason, message, nil
}

// stopUnfinished stops the sub-steps of a group that timed out.
func stopUnfinished(steps []StepState, reason string) {
	for i := range steps {
		if !steps[i].Phase.finished() {
			steps[i].Phase, steps[i].Reason, steps[i].NextTime = StepStopped, reason, nil
		}
		stopUnfinished(steps[i].SubSteps, reason)
	}
}

// shouldRun decides a pending step: `if: always` runs, another `if` is evaluated, and a step
// without one runs only if its predecessors did not fail.
func (r *runner) shouldRun(s *Step, preds []StepState, inputs map[string]any) (bool, string, error) {
	if s.If == "always" {
		return true, "", nil
	}
	if s.If == "" {
		for _, p := range preds {
			if p.Phase == StepFailed || (p.Phase == StepSkipped && p.Reason == ReasonDependency) {
				return false, ReasonDependency, nil
			}
		}
		return true, "", nil
	}
	if r.env.Evaluator == nil {
		return false, "", fmt.Errorf("if %q: no expression evaluator configured", s.If)
	}
	v, err := r.env.Evaluator.Eval(s.If, map[string]any{"status": r.statusVars(), "inputs": inputs, "context": r.env.Context})
	if err != nil {
		return false, "", fmt.Errorf("if: %w", err)
	}
	b, ok := v.(bool)
	if !ok {
		return false, "", fmt.Errorf("if %q must be true or false, got %v", s.If, v)
	}
	if !b {
		return false, ReasonSkipped, nil
	}
	return true, "", nil
}

// inputs gathers a step's inputs. wait is true while a producing step has not finished; an
// output that its finished producer did not export is an error.
func (r *runner) inputs(s *Step) (map[string]any, bool, error) {
	if len(s.Inputs) == 0 {
		return map[string]any{}, false, nil
	}
	out := map[string]any{}
	for _, in := range s.Inputs {
		if v, ok := r.st.Outputs[in.From]; ok {
			out[in.From] = v
			continue
		}
		producer, known := r.producers[in.From]
		if known {
			if p := r.st.Step(producer); p != nil && !p.Phase.finished() {
				return nil, true, nil
			}
		}
		return nil, false, fmt.Errorf("input %q: no step exported it", in.From)
	}
	return out, false, nil
}

// group runs a step group's sub-steps and derives its phase from theirs.
func (r *runner) group(s *Step, st *StepState) {
	r.level(s.SubSteps, st.SubSteps, orDefault(r.spec.SubMode, DAG))
	switch {
	case allFinished(st.SubSteps):
		for _, sub := range st.SubSteps {
			if sub.Phase == StepFailed {
				r.fail(st, ReasonFailed, fmt.Sprintf("sub-step %q failed", sub.Name))
				return
			}
		}
		st.Phase, st.Reason, st.Message = StepSucceeded, "", ""
	case anySuspending(st.SubSteps):
		st.Phase, st.Reason = StepSuspending, ReasonSuspended
	default:
		st.Phase, st.Reason = StepRunning, ""
	}
}

// suspend runs a suspend step: it waits for Resume, or until its duration has passed.
func (r *runner) suspend(s *Step, st *StepState) {
	if st.Phase == StepRunning {
		st.Phase, st.Reason = StepSuspending, ReasonSuspended
		if msg, ok := s.Properties["message"].(string); ok {
			st.Message = msg
		}
		if d, ok := s.Properties["duration"].(string); ok && d != "" {
			dur, err := time.ParseDuration(d)
			if err != nil {
				r.fail(st, ReasonFailed, fmt.Sprintf("duration %q: %v", d, err))
				return
			}
			resume := st.FirstExecuteTime.Add(dur)
			st.ResumeTime = &resume
		}
	}
	if st.ResumeTime != nil {
		if !r.now.Before(*st.ResumeTime) {
			st.Phase, st.Reason = StepSucceeded, ReasonResumed
			return
		}
		r.wakeAt(*st.ResumeTime)
	}
}

// execute runs a step through its Executor.
func (r *runner) execute(s *Step, st *StepState) {
	now := r.now
	if st.Phase == StepSuspending {
		if st.ResumeTime == nil || now.Before(*st.ResumeTime) {
			if st.ResumeTime != nil {
				r.wakeAt(*st.ResumeTime)
			}
			return
		}
		st.Phase, st.Reason, st.Resumed, st.ResumeTime, st.ResumedTime = StepRunning, ReasonResumed, true, nil, &now
	}
	if st.NextTime != nil && now.Before(*st.NextTime) && (!r.env.Wake || st.Reason != ReasonWaiting) {
		r.wakeAt(*st.NextTime)
		return
	}
	exec, ok := r.env.Executors[s.Type]
	if !ok {
		r.fail(st, ReasonUnknownType, fmt.Sprintf("no executor for step type %q", s.Type))
		return
	}
	inputs, wait, err := r.inputs(s)
	if err != nil {
		r.fail(st, ReasonInputError, err.Error())
		return
	}
	if wait {
		r.waitAgain(st, "waiting for inputs")
		return
	}
	step := *s
	step.Properties = maps.Clone(s.Properties)
	if step.Properties == nil {
		step.Properties = map[string]any{}
	}
	for _, in := range s.Inputs {
		if in.ParameterKey != "" {
			setPath(step.Properties, in.ParameterKey, inputs[in.From])
		}
	}
	res, err := exec.Execute(r.ctx, StepInput{Step: step, ExecutionID: st.ExecutionID, Attempt: st.Attempts,
		Resumed: st.Resumed, Inputs: inputs, Context: r.env.Context, Now: now, Progress: st.Progress.Clone()})
	st.LastExecuteTime = &now
	if err != nil {
		res = Result{Outcome: OutcomeFail, Reason: ReasonFailed, Message: err.Error()}
	}
	if res.Progress != nil {
		st.Progress = res.Progress
	}
	switch res.Outcome {
	case OutcomeSucceeded:
		r.succeed(s, st, res)
	case OutcomeWait:
		r.waitAgain(st, res.Message)
		if res.Recheck > 0 && st.NextTime.After(now.Add(res.Recheck)) {
			next := now.Add(res.Recheck)
			st.NextTime = &next
			r.wakeAt(next)
		}
	case OutcomeSuspend:
		st.Phase, st.Reason, st.Message, st.NextTime = StepSuspending, ReasonSuspended, res.Message, nil
		if res.SuspendFor > 0 {
			resume := now.Add(res.SuspendFor)
			st.ResumeTime = &resume
			r.wakeAt(resume)
		}
	default:
		r.retryOrFail(s, st, res)
	}
}

// succeed evaluates the step's outputs over its result.
func (r *runner) succeed(s *Step, st *StepState, res Result) {
	values := map[string]any{}
	for _, o := range s.Outputs {
		if r.env.Evaluator == nil {
			r.fail(st, ReasonOutputError, "no expression evaluator configured")
			return
		}
		v, err := r.env.Evaluator.Eval(o.ValueFrom, res.Value)
		if err != nil {
			r.fail(st, ReasonOutputError, fmt.Sprintf("output %q: %v", o.Name, err))
			return
		}
		values[o.Name] = v
	}
	if len(values) > 0 && r.st.Outputs == nil {
		r.st.Outputs = map[string]any{}
	}
	maps.Copy(r.st.Outputs, values)
	st.Phase, st.Reason, st.Message, st.NextTime = StepSucceeded, "", res.Message, nil
}

// waitAgain schedules the next check of a waiting step with bounded exponential backoff.
func (r *runner) waitAgain(st *StepState, message string) {
	st.Waits++
	st.Reason, st.Message = ReasonWaiting, message
	next := r.now.Add(r.backoff(r.env.Options.BaseBackoff, st.Waits))
	st.NextTime = &next
	r.wakeAt(next)
}

// retryOrFail retries a failed execution while retries are left, with a new execution id.
func (r *runner) retryOrFail(s *Step, st *StepState, res Result) {
	st.Attempts++
	reason := res.Reason
	if reason == "" {
		reason = ReasonFailed
	}
	if st.Attempts > s.Retries.Limit {
		r.fail(st, reason, res.Message)
		return
	}
	base := s.Retries.Backoff
	if base == 0 {
		base = r.env.Options.BaseBackoff
	}
	next := r.now.Add(r.backoff(base, st.Attempts))
	st.Reason = ReasonRetrying
	st.Message = fmt.Sprintf("attempt %d of %d failed (%s): %s", st.Attempts, s.Retries.Limit+1, reason, res.Message)
	st.NextTime = &next
	st.ExecutionID = r.executionID(s, st)
	r.wakeAt(next)
}

// backoff is base·2^(n-1), at most MaxBackoff.
func (r *runner) backoff(base time.Duration, n int) time.Duration {
	d := base
	for i := 1; i < n && d < r.env.Options.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, r.env.Options.MaxBackoff)
}
