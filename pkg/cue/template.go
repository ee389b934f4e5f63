package cue

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	cuelang "cuelang.org/go/cue"
)

// Template is a compiled definition template. It is immutable; render it with Render.
type Template struct {
	engine *Engine
	// source is what was compiled, with its Key set: what a Sandbox compiles.
	source   Source
	name     string
	hash     string
	filename string
	// text is the source as compiled, with the declarations the engine adds.
	text string
	// packages are what the template's imports of non-standard packages resolve to.
	packages    []Package
	annotations annotations
	// patchAnnotations are the annotations under `patch`, and eachPaths the open lists there
	// (`[...{...}]`): worked out once, not on every render.
	patchAnnotations annotations
	eachPaths        []string
	// reads says which context fields the template reads; only those are filled in and
	// keyed, so render cost stays linear in components, traits that never look at the
	// workload do not pay for encoding it, and renders that differ only in fields the
	// template ignores share a memo entry.
	reads contextReads
}

// instance is a template compiled on one runtime. Use it only while holding that runtime.
type instance struct {
	*Template
	rt    *runtime
	value cuelang.Value
	// closed caches close(<parameter path>) values used to find unknown parameters.
	closed map[string]cuelang.Value
	// schema is the template's parameter schema; it does not exist when there is none.
	schema cuelang.Value
	// unknown remembers the unknown-parameter errors by the shape of the given properties:
	// which keys, nested how, but not their values. A render of an app whose values changed
	// and whose keys did not (the usual change) does not walk the schema again.
	unknown map[string][]FieldError
}

// Name identifies the template in errors.
func (t *Template) Name() string { return t.name }

// Hash is the content hash of the template source.
func (t *Template) Hash() string { return t.hash }

// Input is what a render fills into a template.
type Input struct {
	// Parameter are the properties the user wrote.
	Parameter map[string]any
	// Context is the engine's context.
	Context Context
}

// NamedObject is an object with the name it has in `outputs`.
type NamedObject struct {
	Name   string
	Object map[string]any
}

// Result is what a template rendered.
type Result struct {
	// Output is the main workload of a component; nil when the template has none.
	Output map[string]any
	// Outputs are the auxiliary objects, in template order.
	Outputs []NamedObject
	// Patch is merged into the workload (traits).
	Patch *Patch
	// PatchOutputs are merged into earlier outputs by name (traits).
	PatchOutputs map[string]*Patch
	// References are objects the template asks to read (`references: [...]`); the caller
	// reads them and renders again with them in context.references, in the same order.
	References []map[string]any
	// Warnings are unknown parameters the engine's Validation lets through (ValidateWarn).
	Warnings []FieldError
}

var (
	pathParameter    = cuelang.ParsePath("parameter")
	pathOutput       = cuelang.ParsePath("output")
	pathOutputs      = cuelang.ParsePath("outputs")
	pathPatch        = cuelang.ParsePath("patch")
	pathPatchOutputs = cuelang.ParsePath("patchOutputs")
	pathReferences   = cuelang.ParsePath("references")
)

// Render fills parameter and context into the template and extracts what it produced.
// Parameter problems are reported all at once as a *ParameterError; problems in the template
// as a *TemplateError.
func (t *Template) Render(in Input) (*Result, error) {
	params := in.Parameter
	if params == nil {
		params = map[string]any{}
	}
	ctx := t.reads.narrow(in.Context)
	key, keyed := memoKey(t, params, ctx)
	if keyed {
		if res, ok := t.engine.recall(key); ok {
			return res, nil
		}
	}
	if keyed {
		if err := t.engine.exceededBefore(key); err != nil {
			return nil, err
		}
	}
	var res *Result
	var err error
	if t.engine.opts.Sandbox != nil {
		res, err = t.renderRemote(key, keyed, params, ctx)
	} else {
		err = t.use(func(in *instance) error {
			var err error
			res, err = in.evaluate(params, ctx)
			return err
		})
	}
	if err != nil {
		if keyed {
			t.engine.rememberExceeded(key, err)
		}
		return nil, err
	}
	if keyed {
		t.engine.remember(key, res)
	}
	return res, nil
}

// evaluate does the CUE work of Render on the instance's runtime.
func (t *instance) evaluate(params map[string]any, ctx Context) (*Result, error) {
	t.engine.count(func(s *Stats) { s.Evaluations++ })
	params, unknown, warnings := t.screenUnknown(params)
	v, err := t.rt.fill(t.value, params, ctx)
	if err != nil {
		return nil, err
	}
	if fieldErrs := t.checkParameters(v, params, unknown); len(fieldErrs) > 0 {
		return nil, &ParameterError{Template: t.name, Errors: fieldErrs}
	}

	res := &Result{Warnings: warnings}
	if out := v.LookupPath(pathOutput); out.Exists() {
		obj, err := t.decodeObject(out, "output")
		if err != nil {
			return nil, err
		}
		res.Output = obj
	}
	if outs := v.LookupPath(pathOutputs); outs.Exists() {
		named, err := t.decodeNamed(outs, "outputs")
		if err != nil {
			return nil, err
		}
		for _, n := range named {
			obj, ok := n.value.(map[string]any)
			if !ok {
				return nil, &TemplateError{Template: t.name, Op: "evaluate outputs",
					Details: []string{fmt.Sprintf("outputs.%s: must be a Kubernetes object, got %T", n.name, n.value)}}
			}
			res.Outputs = append(res.Outputs, NamedObject{Name: n.name, Object: obj})
		}
	}
	if p := v.LookupPath(pathPatch); p.Exists() {
		obj, err := t.decodeObject(p, "patch")
		if err != nil {
			return nil, err
		}
		res.Patch = &Patch{Value: obj, annotations: t.patchAnnotations, each: t.openListElements(p)}
	}
	if refs := v.LookupPath(pathReferences); refs.Exists() {
		var list []map[string]any
		if err := decode(refs, &list); err != nil {
			return nil, t.evaluationError(refs, "references", err)
		}
		res.References = list
	}
	if po := v.LookupPath(pathPatchOutputs); po.Exists() {
		named, err := t.decodeNamed(po, "patchOutputs")
		if err != nil {
			return nil, err
		}
		res.PatchOutputs = map[string]*Patch{}
		for _, n := range named {
			obj, ok := n.value.(map[string]any)
			if !ok {
				return nil, &TemplateError{Template: t.name, Op: "evaluate patchOutputs",
					Details: []string{fmt.Sprintf("patchOutputs.%s: must be a struct, got %T", n.name, n.value)}}
			}
			res.PatchOutputs[n.name] = &Patch{Value: obj, annotations: t.annotations.under("patchOutputs").under(n.name)}
		}
	}
	return res, nil
}

// screenUnknown finds the parameters the definition does not declare. Strict, they are errors
// (unknown); otherwise they are left out of what is rendered (a closed definition in the schema
// would refuse them), and with ValidateWarn returned as warnings.
func (t *instance) screenUnknown(params map[string]any) (kept map[string]any, unknown, warnings []FieldError) {
	if !t.schema.Exists() {
		return params, nil, nil
	}
	found := t.unknownParametersByShape(params)
	switch mode := t.engine.opts.Validation; {
	case len(found) == 0:
		return params, nil, nil
	case mode == ValidateWarn || mode == ValidateIgnore:
		kept = deepCopy(params).(map[string]any)
		for _, f := range found {
			removePath(kept, f.Path)
		}
		if mode == ValidateWarn {
			warnings = found
		}
		return kept, nil, warnings
	default:
		return params, found, nil
	}
}

// removePath deletes the value at a parameter path (list indices as numbers) from data.
func removePath(data any, path []string) {
	for i, p := range path {
		last := i == len(path)-1
		switch d := data.(type) {
		case map[string]any:
			if last {
				delete(d, p)
				return
			}
			data = d[p]
		case []any:
			n, err := strconv.Atoi(p)
			if err != nil || n < 0 || n >= len(d) || last {
				return
			}
			data = d[n]
		default:
			return
		}
	}
}

// checkParameters reports the unknown parameters found before and the values that do not fit
// the schema. CUE's own "field not allowed" for an unknown parameter (inside a closed
// definition) is not reported twice.
func (t *instance) checkParameters(v cuelang.Value, given map[string]any, unknown []FieldError) (errs []FieldError) {
	errs = unknown
	param := v.LookupPath(pathParameter)
	if len(errs) == 0 && param.Validate(cuelang.Concrete(true)) == nil {
		return nil // the common case: one walk
	}
	unknownPaths := make([]string, 0, len(unknown))
	for _, f := range unknown {
		unknownPaths = append(unknownPaths, FormatPath(f.Path))
	}
	// CUE's own complaint about an unknown parameter, at its path or at a struct (or a
	// disjunction of structs) above it, says the same less clearly.
	consequence := func(path string) bool {
		for _, u := range unknownPaths {
			if path == "" || u == path || strings.HasPrefix(u, path+".") || strings.HasPrefix(u, path+"[") {
				return true
			}
		}
		return false
	}
	add := func(found []FieldError) {
		for _, f := range found {
			// With an unknown parameter about, "field not allowed" anywhere is CUE closing a
			// struct, or choosing the other branch of a disjunction, because of it.
			if consequence(FormatPath(f.Path)) || len(unknown) > 0 && strings.Contains(f.Message, "not allowed") {
				continue
			}
			errs = append(errs, f)
		}
	}
	// Validate field by field: CUE reports a missing value only when nothing else in the same
	// value is wrong, and users must see every problem at once.
	if it, err := param.Fields(); err != nil {
		add(t.parameterErrors(err, given))
	} else {
		for it.Next() {
			if err := it.Value().Validate(cuelang.Concrete(true)); err != nil {
				add(t.parameterErrors(err, given))
			}
		}
	}
	sort.SliceStable(errs, func(i, j int) bool { return FormatPath(errs[i].Path) < FormatPath(errs[j].Path) })
	return errs
}

type namedValue struct {
	name  string
	value any
}

func (t *instance) decodeObject(v cuelang.Value, field string) (map[string]any, error) {
	var obj any
	if err := decode(v, &obj); err != nil {
		return nil, t.evaluationError(v, field, err)
	}
	m, ok := obj.(map[string]any)
	if !ok {
		// Decoding an incomplete value yields nil rather than an error.
		return nil, t.evaluationError(v, field, fmt.Errorf("%s: must be a struct, got %T", field, obj))
	}
	return m, nil
}

// decodeNamed decodes each field of a struct, keeping the template's order.
func (t *instance) decodeNamed(v cuelang.Value, field string) ([]namedValue, error) {
	it, err := v.Fields()
	if err != nil {
		return nil, t.evaluationError(v, field, err)
	}
	var out []namedValue
	for it.Next() {
		var x any
		if err := decode(it.Value(), &x); err != nil || x == nil {
			if err == nil {
				err = fmt.Errorf("%s.%s: no value", field, it.Selector())
			}
			return nil, t.evaluationError(v, field, err)
		}
		out = append(out, namedValue{name: it.Selector().Unquoted(), value: x})
	}
	return out, nil
}

// evaluationError explains why a value could not be decoded. Decoding is tried first because
// it is one walk; only when it fails does validation collect every error with its position.
func (t *instance) evaluationError(v cuelang.Value, field string, decodeErr error) error {
	if err := v.Validate(cuelang.Concrete(true)); err != nil {
		return newTemplateError(t.name, "evaluate "+field, err)
	}
	return newTemplateError(t.name, "evaluate "+field, decodeErr)
}

// openListElements decodes the element of each open list a patch writes (`[...{...}]`, marked
// when the template was compiled) that has no elements of its own. An element that is not
// concrete is left out: merging then fails as for any list of another length.
func (t *instance) openListElements(patch cuelang.Value) map[string]any {
	var out map[string]any
	for _, path := range t.eachPaths {
		var sels []cuelang.Selector
		for _, name := range strings.Split(path, ".") {
			sels = append(sels, cuelang.Str(name))
		}
		list := patch.LookupPath(cuelang.MakePath(sels...))
		if !list.Exists() || list.IncompleteKind() != cuelang.ListKind {
			continue
		}
		if it, err := list.List(); err != nil || it.Next() {
			continue // elements of its own: merged as a list
		}
		var elem any
		if err := decode(list.LookupPath(cuelang.MakePath(cuelang.AnyIndex)), &elem); err != nil || elem == nil {
			continue
		}
		if out == nil {
			out = map[string]any{}
		}
		out[path] = normalizeDecoded(elem)
	}
	return out
}
