package cue

import (
	"errors"
	"fmt"
	"time"

	cuelang "cuelang.org/go/cue"
)

// Sandbox runs evaluations in another process, where a budget is enforced by ending that
// process. An Engine with Options.Sandbox parses templates itself (for their annotations and
// names) and sends every evaluation there: compiles, renders, step evaluations, expressions and
// status policies. pkg/cue/sandbox runs the processes; Serve answers in them.
type Sandbox interface {
	// Do performs a request. The error is the sandbox's own failure, e.g. a *BudgetError
	// with What empty, or a process that ended; what the evaluation found is in Response.Err.
	Do(req *Request) (*Response, error)
}

// Op is what a Request asks for.
type Op string

// The operations a Sandbox performs.
const (
	OpCompile  Op = "compile"
	OpRender   Op = "render"
	OpEvaluate Op = "evaluate"
	OpEval     Op = "eval"
	OpStatus   Op = "status"
	OpChain    Op = "chain"
)

// Request is one evaluation for a Sandbox. It is plain data, sent to another process with
// MarshalBinary.
type Request struct {
	Op Op
	// Validation is the sending engine's; the receiving side answers as that engine would.
	Validation Validation
	// Source is the template to compile (OpCompile), render (OpRender) or evaluate
	// (OpEvaluate). Its Key is set. A sender that sent the source before may send the Key
	// alone (Text empty): the answer has NeedSource when it is not known there.
	Source Source
	// Input is what OpRender and OpEvaluate fill in.
	Input Input
	// Fills are the results filled into an OpEvaluate so far, in order.
	Fills []Fill
	// Chain is an OpChain's templates (see Engine.Prerender); Input.Context is its context.
	Chain []WireStep
	// Expr and Vars are an OpEval's expression and variables.
	Expr string
	Vars map[string]any
	// Name, Status and StatusInput are an OpStatus's arguments to EvalStatus.
	Name        string
	Status      StatusTemplates
	StatusInput StatusInput
}

// Fill is one Evaluation.Fill: result filled into field of the action at Path.
type Fill struct {
	Path, Field string
	Value       any
}

// Response is a Sandbox's answer to a Request.
type Response struct {
	// Result is what OpRender rendered.
	Result *WireResult
	// Actions and Value are an OpEvaluate's actions and value after its fills.
	Actions []WireAction
	Value   map[string]any
	// Eval is OpEval's value.
	Eval any
	// Status is OpStatus's result.
	Status *Status
	// Chain are an OpChain's renders, each with the key of its inputs.
	Chain []Prerendered
	// Err is the evaluation's error, nil when it succeeded.
	Err *WireError
	// NeedSource says the request named its template by Source.Key alone and this side does
	// not have it (any more): send it again with its text.
	NeedSource bool
}

// WireResult is a Result as plain data; the patches' annotations come from the template.
type WireResult struct {
	Output       map[string]any
	Outputs      []NamedObject
	Patch        map[string]any
	PatchEach    map[string]any
	HasPatch     bool
	PatchOutputs map[string]map[string]any
	References   []map[string]any
	Warnings     []FieldError
}

// WireAction is an Action as plain data.
type WireAction struct {
	Path, Do   string
	Fields     map[string]any
	Incomplete string
}

// WireError is an error as plain data, keeping the types callers look for.
type WireError struct {
	Parameter *ParameterError
	Template  *TemplateError
	Message   string
}

func toWireError(err error) *WireError {
	if err == nil {
		return nil
	}
	// Only an error that is one of these types goes as that type: a wrapped one would lose its
	// wrapping's words.
	var pe *ParameterError
	if errors.As(err, &pe) && pe.Error() == err.Error() {
		return &WireError{Parameter: pe}
	}
	var te *TemplateError
	if errors.As(err, &te) && te.Error() == err.Error() {
		return &WireError{Template: te}
	}
	return &WireError{Message: err.Error()}
}

// Err returns the error the WireError carries.
func (w *WireError) Err() error {
	switch {
	case w == nil:
		return nil
	case w.Parameter != nil:
		return w.Parameter
	case w.Template != nil:
		return w.Template
	}
	return errors.New(w.Message)
}

// Serve performs a Sandbox request on this process's engines, one per Validation level (the
// engines should have no time budget: the sending side enforces it).
func Serve(engines func(Validation) *Engine, req *Request) *Response {
	e := engines(req.Validation)
	resp := &Response{}
	var err error
	switch req.Op {
	case OpCompile:
		_, err = e.compileSent(req.Source)
	case OpRender:
		var t *Template
		if t, err = e.compileSent(req.Source); err == nil {
			var res *Result
			if res, err = t.Render(req.Input); err == nil {
				resp.Result = res.wire()
			}
		}
	case OpEvaluate:
		err = serveEvaluate(e, req, resp)
	case OpEval:
		resp.Eval, err = e.Eval(req.Expr, req.Vars)
	case OpStatus:
		resp.Status, err = e.EvalStatus(req.Name, req.Status, req.StatusInput)
	case OpChain:
		err = serveChain(e, req, resp)
	default:
		err = fmt.Errorf("unknown sandbox operation %q", req.Op)
	}
	if errors.Is(err, errNeedSource) {
		return &Response{NeedSource: true}
	}
	resp.Err = toWireError(err)
	return resp
}

// errNeedSource says a template sent by key alone is not compiled here (any more).
var errNeedSource = errors.New("template not known here: send its source")

// compileSent compiles a template a request sent: with its text, or by key alone when it was
// compiled here before. A key this engine no longer holds is errNeedSource, never an empty
// template under that key.
func (e *Engine) compileSent(src Source) (*Template, error) {
	if src.Text == "" && src.Key != "" {
		e.mu.Lock()
		t, ok := e.templates[src.Key]
		e.mu.Unlock()
		if !ok {
			return nil, errNeedSource
		}
		return t, nil
	}
	return e.Compile(src)
}

func serveEvaluate(e *Engine, req *Request, resp *Response) error {
	t, err := e.compileSent(req.Source)
	if err != nil {
		return err
	}
	ev, err := t.Evaluate(req.Input)
	if err != nil {
		return err
	}
	for _, f := range req.Fills {
		a := Action{Path: f.Path, path: cuelang.ParsePath(f.Path)}
		if err := ev.Fill(a, f.Field, f.Value); err != nil {
			return err
		}
	}
	for _, a := range ev.Actions() {
		w := WireAction{Path: a.Path, Do: a.Do, Fields: a.Fields}
		if a.Incomplete != nil {
			w.Incomplete = a.Incomplete.Error()
		}
		resp.Actions = append(resp.Actions, w)
	}
	resp.Value = ev.Value()
	return nil
}

// wire turns a Result into plain data.
func (r *Result) wire() *WireResult {
	w := &WireResult{Output: r.Output, Outputs: r.Outputs, References: r.References, Warnings: r.Warnings}
	if r.Patch != nil {
		w.HasPatch, w.Patch, w.PatchEach = true, r.Patch.Value, r.Patch.each
	}
	if r.PatchOutputs != nil {
		w.PatchOutputs = make(map[string]map[string]any, len(r.PatchOutputs))
		for name, p := range r.PatchOutputs {
			w.PatchOutputs[name] = p.Value
		}
	}
	return w
}

// fromWire turns a rendered WireResult back into a Result with the template's annotations.
func (t *Template) fromWire(w *WireResult) *Result {
	res := &Result{Output: w.Output, Outputs: w.Outputs, References: w.References, Warnings: w.Warnings}
	if w.HasPatch {
		res.Patch = &Patch{Value: w.Patch, annotations: t.patchAnnotations, each: w.PatchEach}
		if res.Patch.Value == nil {
			res.Patch.Value = map[string]any{}
		}
	}
	if w.PatchOutputs != nil {
		res.PatchOutputs = make(map[string]*Patch, len(w.PatchOutputs))
		for name, v := range w.PatchOutputs {
			if v == nil {
				v = map[string]any{}
			}
			res.PatchOutputs[name] = &Patch{Value: v, annotations: t.annotations.under("patchOutputs").under(name)}
		}
	}
	return res
}

// remote sends a request to the engine's sandbox and names what was evaluated in a budget
// error.
func (e *Engine) remote(what string, req *Request) (*Response, error) {
	req.Validation = e.opts.Validation
	resp, err := e.opts.Sandbox.Do(req)
	if err != nil {
		var be *BudgetError
		if errors.As(err, &be) && be.What == "" {
			copied := *be
			copied.What = what
			return nil, &copied
		}
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return resp, resp.Err.Err()
}

// renderRemote renders in the sandbox, unless Prerender did already.
func (t *Template) renderRemote(key [32]byte, keyed bool, params map[string]any, ctx Context) (*Result, error) {
	if keyed {
		if w, ok := t.engine.takePrerendered(key); ok {
			return t.fromWire(w), nil
		}
	}
	t.engine.count(func(s *Stats) { s.Evaluations++ })
	resp, err := t.engine.remote(t.name, &Request{Op: OpRender, Source: t.source,
		Input: Input{Parameter: params, Context: ctx}})
	if err != nil {
		return nil, err
	}
	if resp.Result == nil {
		return nil, fmt.Errorf("%s: the sandbox returned no result", t.name)
	}
	return t.fromWire(resp.Result), nil
}

// maxExceeded bounds the memory of renders that exceeded their budget.
const maxExceeded = 1024

// exceededFor is how long a render that exceeded its budget fails at once when asked again. A
// template that does not finish would again; a machine too busy for a render that usually
// finishes (the budget is wall-clock time) is not, and the render is tried again after this.
const exceededFor = 5 * time.Minute

// exceededRender is a render's budget error and when it happened.
type exceededRender struct {
	err error
	at  time.Time
}

// exceededBefore returns the budget error of a recent render with the same key.
func (e *Engine) exceededBefore(key [32]byte) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	x, ok := e.exceeded[key]
	if !ok || time.Since(x.at) > exceededFor {
		return nil
	}
	return x.err
}

// rememberExceeded keeps a render's budget error: the same inputs exceed it again, and trying
// costs the whole budget each time.
func (e *Engine) rememberExceeded(key [32]byte, err error) {
	var be *BudgetError
	if !errors.As(err, &be) {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.exceeded) >= maxExceeded {
		e.exceeded = map[[32]byte]exceededRender{}
	}
	e.exceeded[key] = exceededRender{err: err, at: time.Now()}
}

// remoteEvaluation is an Evaluation kept by a sandbox: each change replays the fills so far on
// a fresh evaluation there, which is cheap for the few actions a step has.
type remoteEvaluation struct {
	t       *Template
	req     Request
	actions []Action
	value   map[string]any
}

// evaluateRemote starts an Evaluation in the sandbox.
func (t *Template) evaluateRemote(in Input) (*Evaluation, error) {
	r := &remoteEvaluation{t: t, req: Request{Op: OpEvaluate, Source: t.source, Input: in}}
	if err := r.refresh(); err != nil {
		return nil, err
	}
	return &Evaluation{remote: r}, nil
}

// refresh evaluates the request and keeps its actions and value.
func (r *remoteEvaluation) refresh() error {
	req := r.req
	req.Fills = append([]Fill(nil), r.req.Fills...)
	resp, err := r.t.engine.remote(r.t.name, &req)
	if err != nil {
		return err
	}
	r.actions = r.actions[:0]
	for _, w := range resp.Actions {
		a := Action{Path: w.Path, Do: w.Do, Fields: w.Fields, path: cuelang.ParsePath(w.Path)}
		if w.Incomplete != "" {
			a.Incomplete = errors.New(w.Incomplete)
		}
		r.actions = append(r.actions, a)
	}
	r.value = resp.Value
	if r.value == nil {
		r.value = map[string]any{}
	}
	return nil
}

// fill adds a fill and evaluates again; on error the fill is dropped.
func (r *remoteEvaluation) fill(a Action, field string, result any) error {
	r.req.Fills = append(r.req.Fills, Fill{Path: a.Path, Field: field, Value: result})
	if err := r.refresh(); err != nil {
		r.req.Fills = r.req.Fills[:len(r.req.Fills)-1]
		return err
	}
	return nil
}
