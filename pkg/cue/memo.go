package cue

import (
	"crypto/sha256"
	"sync"
)

// defaultMaxResults bounds the render memo when Options.MaxResults is 0.
const defaultMaxResults = 4096

// memoKey identifies one render: the template and every input it reads. Rendering is a pure
// function of these, so an unchanged Application re-rendered on every reconcile costs a hash
// instead of a CUE evaluation. ok is false when the input cannot be keyed (then no memo).
func memoKey(t *Template, params map[string]any, ctx Context) (key [32]byte, ok bool) {
	if t.engine.opts.MaxResults < 0 && t.engine.opts.Sandbox == nil {
		return key, false // memo off: do not pay for the key
	}
	return chainKey(t, params, ctx)
}

// chainKey is the key of a render's inputs, computed alike by a sandbox and its caller: the
// template's hash, then parameters and context in the wire format with map keys sorted. Values
// keep their types, so 2 and 2.0 (an int and a float to CUE) are different inputs.
func chainKey(t *Template, params map[string]any, ctx Context) (key [32]byte, ok bool) {
	e := keyBuffers.Get().(*encoder)
	defer keyBuffers.Put(e)
	e.b = append(e.b[:0], t.hash...)
	if e.object(params, 0) != nil || e.object(ctx.value(), 0) != nil {
		return key, false
	}
	return sha256.Sum256(e.b), true
}

// keyBuffers reuse the buffers keys are written into.
var keyBuffers = sync.Pool{New: func() any { return &encoder{b: make([]byte, 0, 4096), sorted: true} }}

// recall returns a copy of a remembered result.
func (e *Engine) recall(key [32]byte) (*Result, bool) {
	if e.opts.MaxResults < 0 {
		return nil, false
	}
	e.mu.Lock()
	res, ok := e.results[key]
	if ok {
		e.stats.MemoHits++
	}
	e.mu.Unlock()
	if !ok {
		return nil, false
	}
	return res.clone(), true
}

// remember stores a copy of a result; the cache is cleared when full, which only costs
// re-evaluation.
func (e *Engine) remember(key [32]byte, res *Result) {
	if e.opts.MaxResults < 0 {
		return
	}
	res = res.clone()
	e.mu.Lock()
	defer e.mu.Unlock()
	limit := e.opts.MaxResults
	if limit == 0 {
		limit = defaultMaxResults
	}
	if len(e.results) >= limit {
		e.results = map[[32]byte]*Result{}
	}
	e.results[key] = res
}

// clone deep-copies a result so callers may change what they get without touching the memo.
func (r *Result) clone() *Result {
	out := &Result{Warnings: append([]FieldError(nil), r.Warnings...)}
	if r.Output != nil {
		out.Output, _ = deepCopy(r.Output).(map[string]any)
	}
	for _, o := range r.Outputs {
		obj, _ := deepCopy(o.Object).(map[string]any)
		out.Outputs = append(out.Outputs, NamedObject{Name: o.Name, Object: obj})
	}
	if r.Patch != nil {
		out.Patch = r.Patch.clone()
	}
	for _, ref := range r.References {
		obj, _ := deepCopy(ref).(map[string]any)
		out.References = append(out.References, obj)
	}
	if r.PatchOutputs != nil {
		out.PatchOutputs = make(map[string]*Patch, len(r.PatchOutputs))
		for k, p := range r.PatchOutputs {
			out.PatchOutputs[k] = p.clone()
		}
	}
	return out
}

func (p *Patch) clone() *Patch {
	v, _ := deepCopy(p.Value).(map[string]any)
	each, _ := deepCopy(p.each).(map[string]any)
	return &Patch{Value: v, annotations: p.annotations, each: each}
}
