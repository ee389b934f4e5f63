package cue

import (
	cuelang "cuelang.org/go/cue"
)

// StatusTemplates are the CUE snippets of a definition's `status` block.
type StatusTemplates struct {
	// HealthPolicy sets `isHealth: bool`.
	HealthPolicy string
	// CustomStatus sets `message: string`.
	CustomStatus string
	// Details sets display key/value pairs, one per top-level field.
	Details string
}

// StatusInput is what the snippets see: the live objects as `context.output` and
// `context.outputs.<name>`, and the parameters the component was rendered with.
type StatusInput struct {
	// Output is the live workload.
	Output map[string]any
	// Outputs are the live auxiliary objects by output name.
	Outputs map[string]any
	// Parameter are the properties used to render.
	Parameter map[string]any
	// Context is the render context; Output and Outputs above replace its own.
	Context Context
}

// Status is the evaluated health of one component or trait.
type Status struct {
	Healthy bool
	Message string
	Details map[string]string
}

// EvalStatus evaluates a definition's status snippets against live objects. Without a health
// policy an object is healthy. A policy that cannot be decided because a field it reads is not
// there yet (e.g. no `status` on a fresh Deployment) reports unhealthy, not an error.
func (e *Engine) EvalStatus(name string, st StatusTemplates, in StatusInput) (*Status, error) {
	ctx := in.Context
	ctx.Output, ctx.Outputs = in.Output, in.Outputs
	if ctx.Output == nil {
		ctx.Output = map[string]any{}
	}
	if ctx.Outputs == nil {
		ctx.Outputs = map[string]any{}
	}
	fill := Input{Parameter: in.Parameter, Context: ctx}
	out := &Status{Healthy: true}

	if st.HealthPolicy != "" {
		v, err := e.evalSnippet(name+" healthPolicy", st.HealthPolicy, fill)
		if err != nil {
			return nil, err
		}
		e.mu.Lock()
		isHealth := v.LookupPath(cuelang.ParsePath("isHealth"))
		healthy, berr := isHealth.Bool()
		e.mu.Unlock()
		if !isHealth.Exists() {
			return nil, &TemplateError{Template: name, Op: "evaluate healthPolicy", Details: []string{"healthPolicy must set isHealth: bool"}}
		}
		out.Healthy = berr == nil && healthy
	}
	if st.CustomStatus != "" {
		v, err := e.evalSnippet(name+" customStatus", st.CustomStatus, fill)
		if err != nil {
			return nil, err
		}
		e.mu.Lock()
		msg, merr := v.LookupPath(cuelang.ParsePath("message")).String()
		e.mu.Unlock()
		if merr == nil {
			out.Message = msg
		}
	}
	if st.Details != "" {
		v, err := e.evalSnippet(name+" details", st.Details, fill)
		if err != nil {
			return nil, err
		}
		e.mu.Lock()
		defer e.mu.Unlock()
		it, ferr := v.Fields()
		if ferr != nil {
			return nil, newTemplateError(name, "evaluate details", ferr)
		}
		out.Details = map[string]string{}
		for it.Next() {
			key := it.Selector().Unquoted()
			if key == "context" || key == "parameter" {
				continue
			}
			if s, err := it.Value().String(); err == nil {
				out.Details[key] = s
				continue
			}
			if b, err := it.Value().MarshalJSON(); err == nil {
				out.Details[key] = string(b)
			}
		}
	}
	return out, nil
}

// evalSnippet compiles (cached) and fills one status snippet.
func (e *Engine) evalSnippet(name, text string, in Input) (cuelang.Value, error) {
	t, err := e.CompileExpr(name, text)
	if err != nil {
		return cuelang.Value{}, err
	}
	params := in.Parameter
	if params == nil {
		params = map[string]any{}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	v, err := e.fill(t.value, params, in.Context)
	if err != nil {
		return cuelang.Value{}, err
	}
	if err := v.Err(); err != nil {
		return cuelang.Value{}, newTemplateError(name, "evaluate", err)
	}
	return v, nil
}
