package cue

import (
	"fmt"

	cuelang "cuelang.org/go/cue"
)

// Evaluation is a template filled with parameter and context that a caller keeps working with:
// the workflow's step runner finds actions in it and fills their results back.
type Evaluation struct {
	t     *instance
	value cuelang.Value
	// remote is set instead when a Sandbox evaluates.
	remote *remoteEvaluation
}

// Action is a field of an evaluation that declares `#do`, e.g. `apply: op.#Apply & {...}`.
type Action struct {
	// Path is where the action is, e.g. "apply" or "steps.read".
	Path string
	// Do is the value of #do, e.g. "apply".
	Do string
	// Fields are the action's regular fields, decoded; nil when Incomplete.
	Fields map[string]any
	// Incomplete says why the fields are not concrete yet (they may wait for an earlier
	// action's result).
	Incomplete error

	path cuelang.Path
}

var doSelector = cuelang.Def("#do")

// Evaluate fills parameter and context into the template for step-by-step work. Parameter
// problems are a *ParameterError, as with Render.
// The evaluation stays on the runtime it was made on; its methods wait while that runtime
// renders something else.
func (t *Template) Evaluate(in Input) (*Evaluation, error) {
	params := in.Parameter
	if params == nil {
		params = map[string]any{}
	}
	if t.engine.opts.Sandbox != nil {
		return t.evaluateRemote(Input{Parameter: params, Context: t.reads.trim(in.Context)})
	}
	var ev *Evaluation
	err := t.use(func(inst *instance) error {
		// A step's unknown parameters were reported when the app was planned; here only
		// errors stop it.
		params, unknown, _ := inst.screenUnknown(params)
		v, err := inst.rt.fill(inst.value, params, t.reads.trim(in.Context))
		if err != nil {
			return err
		}
		if fieldErrs := inst.checkParameters(v, params, unknown); len(fieldErrs) > 0 {
			return &ParameterError{Template: t.name, Errors: fieldErrs}
		}
		ev = &Evaluation{t: inst, value: v}
		return nil
	})
	return ev, err
}

// Actions lists the actions in the order they are written, not descending into actions, nor
// into parameter and context.
func (ev *Evaluation) Actions() []Action {
	if ev.remote != nil {
		return append([]Action(nil), ev.remote.actions...)
	}
	ev.t.rt.mu.Lock()
	defer ev.t.rt.mu.Unlock()
	var out []Action
	ev.collect(ev.value, nil, &out, 0)
	return out
}

func (ev *Evaluation) collect(v cuelang.Value, path []cuelang.Selector, out *[]Action, depth int) {
	if depth > 20 || v.IncompleteKind() != cuelang.StructKind {
		return
	}
	if do := v.LookupPath(cuelang.MakePath(doSelector)); do.Exists() {
		if name, err := do.String(); err == nil {
			a := Action{Path: cuelang.MakePath(path...).String(), Do: name, path: cuelang.MakePath(path...)}
			var fields map[string]any
			if err := v.Validate(cuelang.Concrete(true)); err != nil {
				a.Incomplete = fmt.Errorf("%s", FormatError(err))
			} else if err := decode(v, &fields); err != nil {
				a.Incomplete = err
			} else {
				a.Fields, _ = normalizeDecoded(fields).(map[string]any)
			}
			*out = append(*out, a)
			return
		}
	}
	it, err := v.Fields()
	if err != nil {
		return
	}
	for it.Next() {
		sel := it.Selector()
		if depth == 0 && (sel.String() == "parameter" || sel.String() == "context") {
			continue
		}
		ev.collect(it.Value(), append(append([]cuelang.Selector(nil), path...), sel), out, depth+1)
	}
}

// Fill unifies a result into a field of an action, e.g. the live object into apply.value. It
// returns an error, and changes nothing, when the result conflicts with what is there.
func (ev *Evaluation) Fill(a Action, field string, result any) error {
	if ev.remote != nil {
		return ev.remote.fill(a, field, result)
	}
	ev.t.rt.mu.Lock()
	defer ev.t.rt.mu.Unlock()
	expr, err := toExpr(result, 0)
	if err != nil {
		return err
	}
	p := cuelang.MakePath(append(a.path.Selectors(), cuelang.Str(field))...)
	next := ev.value.FillPath(p, ev.t.rt.ctx.BuildExpr(expr))
	if err := next.LookupPath(a.path).Err(); err != nil {
		return fmt.Errorf("%s.%s: %s", a.Path, field, FormatError(err))
	}
	ev.value = next
	return nil
}

// Value decodes the evaluation's concrete regular fields other than parameter and context: a
// step's result, where outputs' valueFrom expressions look.
func (ev *Evaluation) Value() map[string]any {
	if ev.remote != nil {
		return ev.remote.value
	}
	ev.t.rt.mu.Lock()
	defer ev.t.rt.mu.Unlock()
	out := map[string]any{}
	it, err := ev.value.Fields()
	if err != nil {
		return out
	}
	for it.Next() {
		name := it.Selector().String()
		if name == "parameter" || name == "context" {
			continue
		}
		var x any
		if decode(it.Value(), &x) == nil && x != nil {
			out[it.Selector().Unquoted()] = normalizeDecoded(x)
		}
	}
	return out
}
