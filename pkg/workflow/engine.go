package workflow

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Outcome is what one execution of a step came to.
type Outcome string

// Outcomes.
const (
	// OutcomeSucceeded: the step is done; its outputs are evaluated over Result.Value.
	OutcomeSucceeded Outcome = "succeeded"
	// OutcomeWait: not done yet (a condition is not met); the engine asks again with backoff
	// until the step's timeout.
	OutcomeWait Outcome = "wait"
	// OutcomeSuspend: the step waits for Resume, or SuspendFor.
	OutcomeSuspend Outcome = "suspend"
	// OutcomeFail: the step failed; it is retried if it has retries left.
	OutcomeFail Outcome = "fail"
)

// Result is what an Executor returns.
type Result struct {
	Outcome Outcome
	Reason  string
	Message string
	// Value is the step's result; outputs' valueFrom expressions see its fields.
	Value map[string]any
	// SuspendFor resumes an OutcomeSuspend by itself after this long.
	SuspendFor time.Duration
	// Progress, when set, replaces what the step keeps between checks (StepInput.Progress).
	Progress *Progress
	// Recheck bounds the wait of an OutcomeWait: a timer of the step (healthyFor, a rollout's
	// minSuccessTime) is due then, sooner than the backoff.
	Recheck time.Duration
}

// StepInput is what an Executor gets.
type StepInput struct {
	// Step has its properties with the inputs applied.
	Step Step
	// ExecutionID is the same when the engine repeats an execution whose result was not
	// persisted, and new for every retry and restart: side effects key on it.
	ExecutionID string
	Attempt     int
	// Resumed is true once a step that asked to suspend has been resumed.
	Resumed bool
	Inputs  map[string]any
	Context map[string]any
	Now     time.Time
	// Progress is what earlier checks of this step kept (Result.Progress); nil at first. It
	// is a copy: change it freely.
	Progress *Progress
}

// Executor runs one step type. Executions must be idempotent (apply) or guarded by ExecutionID
// (notifications).
type Executor interface {
	Execute(ctx context.Context, in StepInput) (Result, error)
}

// ExecutorFunc adapts a function to Executor.
type ExecutorFunc func(ctx context.Context, in StepInput) (Result, error)

// Execute calls f.
func (f ExecutorFunc) Execute(ctx context.Context, in StepInput) (Result, error) { return f(ctx, in) }

// Evaluator evaluates `if` and `valueFrom` expressions; *cue.Engine implements it.
type Evaluator interface {
	Eval(expr string, vars map[string]any) (any, error)
}

// Options tune waiting.
type Options struct {
	// DefaultTimeout bounds a step without a timeout: 30m when zero. A suspend step waiting
	// for a person has no default timeout, only its own.
	DefaultTimeout time.Duration
	// BaseBackoff is the first wait between checks of a waiting step, doubled each time up to
	// MaxBackoff: 1s and 1m when zero. It is also the retry backoff of steps without one.
	BaseBackoff time.Duration
	MaxBackoff  time.Duration
}

// Env is what a tick needs besides the state.
type Env struct {
	// Now is the clock; tests pass a fake one.
	Now       func() time.Time
	Executors map[string]Executor
	Evaluator Evaluator
	// Context is `context` in expressions and StepInput.
	Context map[string]any
	Options Options
	// Wake checks steps that wait for a condition now, before their next check: the caller
	// knows something they wait for may have changed (e.g. a watched object). Retries keep
	// their backoff.
	Wake bool
}

// Run does one tick: it runs what can run now and returns the new state and how long until
// the next tick is needed (0: only a change from outside, such as Resume, moves it on). The input
// state is not modified. A finished workflow returns at once.
func Run(ctx context.Context, spec *Spec, in State, env Env) (State, time.Duration, error) {
	if in.Finished() {
		return in, 0, nil
	}
	if err := matches(spec.Steps, in.Steps); err != nil {
		return in, 0, fmt.Errorf("the state does not belong to this workflow (%w): restart the workflow", err)
	}
	env = env.withDefaults()
	st := in.clone()
	r := &runner{ctx: ctx, spec: spec, st: &st, env: env, now: env.Now(), producers: producers(spec.Steps)}
	if st.Suspended {
		st.Phase = PhaseSuspending
		return st, 0, nil
	}
	r.level(spec.Steps, st.Steps, orDefault(spec.Mode, StepByStep))
	r.conclude()
	var requeue time.Duration
	if r.next != nil {
		requeue = max(r.next.Sub(r.now), time.Millisecond)
	}
	return st, requeue, ctx.Err()
}

func (env Env) withDefaults() Env {
	if env.Now == nil {
		env.Now = time.Now
	}
	o := &env.Options
	if o.DefaultTimeout == 0 {
		o.DefaultTimeout = 30 * time.Minute
	}
	if o.BaseBackoff == 0 {
		o.BaseBackoff = time.Second
	}
	if o.MaxBackoff == 0 {
		o.MaxBackoff = time.Minute
	}
	return env
}

func orDefault(m, def Mode) Mode {
	if m == "" {
		return def
	}
	return m
}

// matches checks that a persisted state has the spec's steps.
func matches(steps []Step, states []StepState) error {
	if len(steps) != len(states) {
		return fmt.Errorf("%d steps, state has %d", len(steps), len(states))
	}
	for i := range steps {
		if steps[i].Name != states[i].Name || steps[i].Type != states[i].Type {
			return fmt.Errorf("step %d is %q (%s), state has %q (%s)", i+1, steps[i].Name, steps[i].Type, states[i].Name, states[i].Type)
		}
		if err := matches(steps[i].SubSteps, states[i].SubSteps); err != nil {
			return fmt.Errorf("step group %q: %w", steps[i].Name, err)
		}
	}
	return nil
}

// producers maps output names to the steps that export them.
func producers(steps []Step) map[string]string {
	out := map[string]string{}
	for _, s := range steps {
		for _, o := range s.Outputs {
			out[o.Name] = s.Name
		}
		for k, v := range producers(s.SubSteps) {
			out[k] = v
		}
	}
	return out
}

// runner is the state of one tick.
type runner struct {
	ctx       context.Context
	spec      *Spec
	st        *State
	env       Env
	now       time.Time
	next      *time.Time
	producers map[string]string
}

// wakeAt records that the tick after this one is needed at t.
func (r *runner) wakeAt(t time.Time) {
	if r.next == nil || t.Before(*r.next) {
		r.next = &t
	}
}

// conclude sets the workflow phase from its top-level steps.
func (r *runner) conclude() {
	st := r.st
	finished, failed := true, ""
	for _, s := range st.Steps {
		if !s.Phase.finished() {
			finished = false
		}
		if s.Phase == StepFailed && failed == "" {
			failed = describeFailure(s)
		}
	}
	switch {
	case finished && failed != "":
		st.Phase, st.Message = PhaseFailed, failed
	case finished:
		st.Phase, st.Message = PhaseSucceeded, ""
	case anySuspending(st.Steps):
		st.Phase = PhaseSuspending
	default:
		st.Phase = PhaseExecuting
	}
	if finished {
		now := r.now
		st.EndTime = &now
	}
}

// describeFailure names the step (or sub-step) that failed and why.
func describeFailure(s StepState) string {
	for _, sub := range s.SubSteps {
		if sub.Phase == StepFailed {
			return fmt.Sprintf("step %q: %s", s.Name, describeFailure(sub))
		}
	}
	msg := fmt.Sprintf("step %q failed", s.Name)
	if s.Reason != "" {
		msg += " (" + s.Reason + ")"
	}
	if s.Message != "" {
		msg += ": " + s.Message
	}
	return msg
}

func anySuspending(steps []StepState) bool {
	for _, s := range steps {
		if s.Phase == StepSuspending || anySuspending(s.SubSteps) {
			return true
		}
	}
	return false
}

func (r *runner) executionID(s *Step, st *StepState) string {
	return fmt.Sprintf("%s-r%d-a%d", s.Name, r.st.Run, st.Attempts)
}

// statusVars is `status` in `if` expressions: every step's phase, reason and message.
func (r *runner) statusVars() map[string]any {
	out := map[string]any{}
	var add func([]StepState)
	add = func(steps []StepState) {
		for _, s := range steps {
			out[s.Name] = map[string]any{
				"phase": string(s.Phase), "reason": s.Reason, "message": s.Message,
				"succeeded": s.Phase == StepSucceeded, "failed": s.Phase == StepFailed,
				"skipped": s.Phase == StepSkipped, "timeout": s.Reason == ReasonTimeout,
			}
			add(s.SubSteps)
		}
	}
	add(r.st.Steps)
	return out
}

// setPath sets a dotted path in a properties map, creating maps on the way.
func setPath(m map[string]any, path string, v any) {
	parts := strings.Split(path, ".")
	for _, p := range parts[:len(parts)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[p] = next
		}
		m = next
	}
	m[parts[len(parts)-1]] = v
}
