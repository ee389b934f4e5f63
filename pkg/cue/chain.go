package cue

import "errors"

// A component renders in a chain: its template, then each trait's with the workload and
// outputs so far in context.output and context.outputs. Sent to a Sandbox one render at a time,
// a chain costs a round trip per template and sends the workload back and forth for every
// trait. Prerender sends the whole chain at once: the sandbox renders it as the caller will,
// and the results wait here, keyed by their inputs, for the caller's own Render calls. A
// render the sandbox did not foresee (the caller's context differs) is simply sent on its own,
// so Prerender is an optimisation only: what Render returns does not depend on it.

// ChainStep is one template of a chain and the parameters it is rendered with.
type ChainStep struct {
	Template  *Template
	Parameter map[string]any
}

// WireStep is a ChainStep as plain data.
type WireStep struct {
	Source    Source
	Parameter map[string]any
}

// Prerendered is a render done ahead, with the key of its inputs.
type Prerendered struct {
	Key    [32]byte
	Result *WireResult
}

// maxPrerendered bounds the results waiting to be used.
const maxPrerendered = 4096

// Prerenders reports whether Prerender does anything: the engine evaluates in a Sandbox with
// Options.Prerender.
func (e *Engine) Prerenders() bool { return e.opts.Sandbox != nil && e.opts.Prerender }

// Prerender renders a chain in the sandbox ahead of the caller's Render calls: the component's
// template with ctx, then each trait's with context.output and context.outputs as the
// component's objects after the traits before it. Without a sandbox it does nothing.
func (e *Engine) Prerender(ctx Context, steps []ChainStep) {
	if !e.Prerenders() || len(steps) < 2 {
		return
	}
	first := steps[0].Template
	key, keyed := chainKey(first, steps[0].Parameter, first.reads.narrow(ctx))
	if keyed && e.chainExceeded(key) {
		return // this chain exceeded its budget before: its renders go one by one
	}
	req := &Request{Op: OpChain, Input: Input{Context: ctx}}
	for _, s := range steps {
		req.Chain = append(req.Chain, WireStep{Source: s.Template.source, Parameter: s.Parameter})
	}
	resp, err := e.remote(first.name, req)
	if err != nil {
		// The renders themselves report it. A chain past its budget is not sent again (its
		// component's inputs mark it); the render that exceeds it alone is found that way.
		var be *BudgetError
		if keyed && errors.As(err, &be) {
			e.mu.Lock()
			if len(e.exceededChains) >= maxExceeded {
				e.exceededChains = map[[32]byte]bool{}
			}
			e.exceededChains[key] = true
			e.mu.Unlock()
		}
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.prerendered)+len(resp.Chain) > maxPrerendered {
		e.prerendered = map[[32]byte]*WireResult{}
	}
	for _, p := range resp.Chain {
		e.prerendered[p.Key] = p.Result
	}
}

// chainExceeded reports whether a chain starting with these inputs exceeded its budget.
func (e *Engine) chainExceeded(key [32]byte) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.exceededChains[key]
}

// takePrerendered returns and forgets a result rendered ahead with these inputs.
func (e *Engine) takePrerendered(key [32]byte) (*WireResult, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	w, ok := e.prerendered[key]
	if ok {
		delete(e.prerendered, key)
	}
	return w, ok
}

// serveChain renders a chain as Prerender describes. A step that fails is left out (the caller
// renders it itself and reports the error), and the chain goes on without its changes, as the
// caller does; a component that reads references ends it.
func serveChain(e *Engine, req *Request, resp *Response) error {
	var (
		workload map[string]any
		outputs  []NamedObject
		byName   = map[string]int{}
	)
	for i, step := range req.Chain {
		t, err := e.compileSent(step.Source)
		if errors.Is(err, errNeedSource) {
			return err
		}
		if err != nil {
			if i == 0 {
				return nil
			}
			continue
		}
		params := step.Parameter
		if params == nil {
			params = map[string]any{}
		}
		ctx := req.Input.Context
		if i > 0 {
			ctx.Output = workload
			ctx.Outputs = make(map[string]any, len(outputs))
			for _, o := range outputs {
				ctx.Outputs[o.Name] = o.Object
			}
		}
		key, keyed := chainKey(t, params, t.reads.narrow(ctx))
		res, err := t.Render(Input{Parameter: params, Context: ctx})
		if err != nil || !keyed {
			if i == 0 {
				return nil
			}
			continue
		}
		resp.Chain = append(resp.Chain, Prerendered{Key: key, Result: res.wire()})
		if i == 0 {
			if res.Output == nil || len(res.References) > 0 {
				return nil
			}
			workload = res.Output
			for _, o := range res.Outputs {
				byName[o.Name] = len(outputs)
				outputs = append(outputs, o)
			}
			continue
		}
		if res.Patch != nil {
			if patched, err := res.Patch.Apply(workload); err == nil {
				workload = patched
			}
		}
		for name, p := range res.PatchOutputs {
			if idx, ok := byName[name]; ok {
				if patched, err := p.Apply(outputs[idx].Object); err == nil {
					outputs[idx].Object = patched
				}
			}
		}
		for _, o := range res.Outputs {
			byName[o.Name] = len(outputs)
			outputs = append(outputs, o)
		}
	}
	return nil
}
