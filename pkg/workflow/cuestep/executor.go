package cuestep

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ferryhq/ferry/pkg/cue"
	"github.com/ferryhq/ferry/pkg/definition"
	"github.com/ferryhq/ferry/pkg/workflow"
)

// Options are the providers actions use; a nil provider makes its actions fail with a clear
// message.
type Options struct {
	Engine     *cue.Engine
	Kube       Kube
	Components Components
	// Topology says where the Application's topology policies place it.
	Topology Topology
	// Deployer delivers what the planner made of a step's deploy action (vela/multicluster
	// #Deploy).
	Deployer workflow.Deployer
	// Restarter schedules the workflow to run again (the restart-workflow step).
	Restarter Restarter
	HTTP      HTTP
	Mailer    Mailer
	// Ledger guards sending actions; an in-memory one when nil.
	Ledger Ledger
	// MaxActions bounds the actions of one execution; 100 when zero.
	MaxActions int
}

// Executor runs one WorkflowStepDefinition written in CUE.
type Executor struct {
	def  *definition.Definition
	opts Options
	src  cue.Source
}

// New prepares a step definition: the `vela/op` import is resolved and the template compiled,
// so a broken definition is reported before any workflow uses it.
func New(def *definition.Definition, opts Options) (*Executor, error) {
	if opts.Engine == nil {
		opts.Engine = cue.NewEngine(cue.Options{})
	}
	if opts.Ledger == nil {
		opts.Ledger = &MemoryLedger{}
	}
	if opts.MaxActions == 0 {
		opts.MaxActions = 100
	}
	src := def.Source()
	if _, err := opts.Engine.Compile(src); err != nil {
		return nil, err
	}
	return &Executor{def: def, opts: opts, src: src}, nil
}

// Executors returns an executor for every workflow-step definition except the ones the engine
// runs itself (suspend, step-group) and those in skip (step types the caller implements in Go,
// such as deploy).
func Executors(defs []*definition.Definition, opts Options, skip ...string) (map[string]workflow.Executor, error) {
	out := map[string]workflow.Executor{}
	skipped := map[string]bool{workflow.TypeSuspend: true, workflow.TypeStepGroup: true}
	for _, s := range skip {
		skipped[s] = true
	}
	for _, d := range defs {
		if d.Kind != definition.KindWorkflowStep || skipped[d.Name] {
			continue
		}
		e, err := New(d, opts)
		if err != nil {
			return nil, err
		}
		out[d.Name] = e
	}
	return out, nil
}

// Execute evaluates the template and runs its actions in order.
func (e *Executor) Execute(ctx context.Context, in workflow.StepInput) (workflow.Result, error) {
	tmpl, err := e.opts.Engine.Compile(e.src)
	if err != nil {
		return workflow.Result{}, err
	}
	ev, err := tmpl.Evaluate(cue.Input{Parameter: in.Step.Properties, Context: stepContext(in)})
	if err != nil {
		return workflow.Result{}, err
	}
	r := &run{e: e, ev: ev, in: in, done: map[string]bool{}, returns: map[string]bool{}}
	res := r.actions(ctx)
	if r.progress != nil {
		res.Progress = r.progress
	}
	return res, nil
}

// actions runs the template's actions in order.
func (r *run) actions(ctx context.Context) workflow.Result {
	e := r.e
	for i := 0; i < e.opts.MaxActions; i++ {
		next := r.next()
		switch {
		case next == nil:
			return r.result(workflow.OutcomeSucceeded)
		case next.Incomplete != nil && next.Do == "wait":
			// A condition over something that is not there yet, e.g. a status: wait for it.
			return workflow.Result{Outcome: workflow.OutcomeWait, Message: fmt.Sprintf("waiting for %s: %v", next.Path, next.Incomplete)}
		case next.Incomplete != nil:
			return workflow.Result{Outcome: workflow.OutcomeFail, Reason: "ActionIncomplete",
				Message: fmt.Sprintf("action %s (%s) cannot run: %v", next.Path, next.Do, next.Incomplete)}
		}
		r.done[next.Path] = true
		act := *next
		if params, ok := act.Fields[paramsField].(map[string]any); ok {
			// A provider package's action (vela/kube, vela/http...): its fields are in $params
			// and its results go to $returns.
			act.Fields = params
			r.returns[act.Path] = true
		}
		if res, stop := r.run(ctx, act); stop {
			return res
		}
	}
	return workflow.Result{Outcome: workflow.OutcomeFail, Message: fmt.Sprintf("more than %d actions", e.opts.MaxActions)}
}

// stepContext is `context` for a step: the Application's identity and the step's.
func stepContext(in workflow.StepInput) cue.Context {
	str := func(k string) string { s, _ := in.Context[k].(string); return s }
	extra := map[string]any{"stepName": in.Step.Name, "stepSessionID": in.ExecutionID}
	for k, v := range in.Context {
		extra[k] = v
	}
	return cue.Context{Name: str("appName"), AppName: str("appName"), Namespace: str("namespace"),
		WorkflowName: str("appName"), Extra: extra}
}

// run is one execution of a step template.
type run struct {
	e        *Executor
	ev       *cue.Evaluation
	in       workflow.StepInput
	done     map[string]bool
	messages []string
	// returns marks the actions written in the provider packages' form ($params/$returns).
	returns map[string]bool
	// progress, when an action set it, is what the step keeps (a metric check's reading).
	progress *workflow.Progress
}

// The fields of an action in the provider packages' form.
const (
	paramsField  = "$params"
	returnsField = "$returns"
)

// next returns the first action not run yet. Actions run strictly in the order they are
// written: one that is not concrete blocks the ones after it.
func (r *run) next() *cue.Action {
	for _, a := range r.ev.Actions() {
		if !r.done[a.Path] {
			return &a
		}
	}
	return nil
}

func (r *run) result(o workflow.Outcome) workflow.Result {
	return workflow.Result{Outcome: o, Value: r.ev.Value(), Message: strings.Join(r.messages, "; ")}
}

func fail(format string, args ...any) (workflow.Result, bool) {
	return workflow.Result{Outcome: workflow.OutcomeFail, Message: fmt.Sprintf(format, args...)}, true
}

// run runs one action; stop ends the execution with res.
func (r *run) run(ctx context.Context, a cue.Action) (res workflow.Result, stop bool) {
	f := a.Fields
	msg, _ := f["message"].(string)
	switch a.Do {
	case "wait":
		if c, _ := f["continue"].(bool); !c {
			if msg == "" {
				msg = "waiting for " + a.Path
			}
			return workflow.Result{Outcome: workflow.OutcomeWait, Message: msg}, true
		}
	case "suspend":
		if r.in.Resumed {
			return workflow.Result{}, false
		}
		out := workflow.Result{Outcome: workflow.OutcomeSuspend, Message: msg}
		if d, _ := f["duration"].(string); d != "" {
			dur, err := time.ParseDuration(d)
			if err != nil {
				return fail("%s: duration %q: %v", a.Path, d, err)
			}
			out.SuspendFor = dur
		}
		return out, true
	case "fail":
		if msg == "" {
			msg = "failed by " + a.Path
		}
		return workflow.Result{Outcome: workflow.OutcomeFail, Message: msg}, true
	case "break":
		if msg != "" {
			r.messages = append(r.messages, msg)
		}
		return r.result(workflow.OutcomeSucceeded), true
	case "message":
		r.messages = append(r.messages, msg)
	case "log":
	case "apply", "apply-in-parallel", "read", "list", "delete":
		return r.kube(ctx, a)
	case "apply-component":
		return r.applyComponent(ctx, a)
	case "http":
		return r.http(ctx, a)
	case "send-email":
		return r.email(ctx, a)
	case "create-config", "read-config", "list-config", "delete-config":
		return r.config(ctx, a)
	case "placements", "list-clusters":
		return r.topology(a)
	case "deploy", workflow.TypeApplyApplication, workflow.TypeApplyRemaining, workflow.ActionApplyEnvBindApp:
		return r.deploy(ctx, a)
	case "prom-check":
		return r.promCheck(ctx, a)
	case "collect-service-endpoints":
		return r.collectServiceEndpoints(ctx, a)
	case "schedule-restart":
		return r.scheduleRestart(ctx, a)
	default:
		if what, ok := strings.CutPrefix(a.Do, "unsupported: "); ok {
			return fail("%s: %s is not supported by Ferry", a.Path, what)
		}
		return fail("%s: unknown action %q", a.Path, a.Do)
	}
	return workflow.Result{}, false
}

// pendingEntry is recorded just before a send: finding it means an earlier execution sent (or
// was sending) and stopped before recording the answer.
const pendingEntry = `{"ferry.pending":true}`

// ErrMaybeSent is returned for a send an earlier execution may have made without recording its
// answer (the controller stopped in between): sending again could notify twice.
var ErrMaybeSent = errors.New("an earlier execution of this step was sending this and stopped before recording the answer; " +
	"it is not sent twice (retry the step or restart the workflow to send it again)")

// guarded runs send at most once per execution: a repeated execution gets the recorded result.
// The intent is recorded before sending, so a crash between sending and recording does not
// lead to a second send.
func (r *run) guarded(ctx context.Context, a cue.Action, send func() (any, error)) (any, error) {
	key := r.in.ExecutionID + "/" + a.Path
	ledger := r.e.opts.Ledger
	v, ok, err := ledger.Get(ctx, key)
	switch {
	case err != nil:
		return nil, fmt.Errorf("read ledger: %w", err)
	case ok && v == pendingEntry:
		return nil, ErrMaybeSent
	case ok && v != "":
		dec := json.NewDecoder(strings.NewReader(v))
		dec.UseNumber()
		var out any
		if err := dec.Decode(&out); err != nil {
			return nil, fmt.Errorf("read ledger entry %s: %w", key, err)
		}
		return cue.NormalizeJSON(out), nil
	}
	if err := ledger.Put(ctx, key, pendingEntry); err != nil {
		return nil, fmt.Errorf("record the send before making it: %w", err)
	}
	out, err := send()
	if err != nil {
		// Not sent (or not accepted): a repeated execution may try again.
		_ = ledger.Put(ctx, key, "")
		return nil, err
	}
	data, err := json.Marshal(out)
	if err != nil {
		return nil, err
	}
	return out, ledger.Put(ctx, key, string(data))
}
