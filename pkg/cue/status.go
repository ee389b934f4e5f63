package cue

import (
	"fmt"

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
	if e.opts.Sandbox != nil {
		resp, err := e.remote(name+" status", &Request{Op: OpStatus, Name: name, Status: st, StatusInput: in})
		if err != nil {
			return nil, err
		}
		if resp.Status == nil {
			return nil, fmt.Errorf("%s status: the sandbox returned no status", name)
		}
		return resp.Status, nil
	}
	ctx := in.Context
	ctx.Output, ctx.Outputs = in.Output, in.Outputs
	if ctx.Output == nil {
		ctx.Output = map[string]any{}
	}
	if ctx.Outputs == nil {
		ctx.Outputs = map[string]any{}
	}
	params := in.Parameter
	if params == nil {
		params = map[string]any{}
	}
	// Compile first: compiling takes a runtime of its own.
	var health, custom, details *Template
	for _, s := range []struct {
		text, field string
		into        **Template
	}{{st.HealthPolicy, "healthPolicy", &health}, {st.CustomStatus, "customStatus", &custom}, {st.Details, "details", &details}} {
		if s.text == "" {
			continue
		}
		t, err := e.CompileExpr(name+" "+s.field, s.text)
		if err != nil {
			return nil, err
		}
		*s.into = t
	}

	var out *Status
	err := e.bounded(name+" status", func(rt *runtime) error {
		var err error
		out, err = evalStatusOn(rt, name, health, custom, details, params, ctx)
		return err
	})
	return out, err
}

// evalStatusOn evaluates compiled status snippets on a runtime the caller holds.
func evalStatusOn(rt *runtime, name string, health, custom, details *Template, params map[string]any, ctx Context) (*Status, error) {
	eval := func(t *Template, field string) (cuelang.Value, error) {
		inst, err := t.on(rt)
		if err != nil {
			return cuelang.Value{}, err
		}
		v, err := rt.fill(inst.value, params, ctx)
		if err != nil {
			return cuelang.Value{}, err
		}
		if err := v.Err(); err != nil {
			return cuelang.Value{}, newTemplateError(name+" "+field, "evaluate", err)
		}
		return v, nil
	}

	out := &Status{Healthy: true}
	if health != nil {
		v, err := eval(health, "healthPolicy")
		if err != nil {
			return nil, err
		}
		isHealth := v.LookupPath(cuelang.ParsePath("isHealth"))
		if !isHealth.Exists() {
			return nil, &TemplateError{Template: name, Op: "evaluate healthPolicy", Details: []string{"healthPolicy must set isHealth: bool"}}
		}
		healthy, berr := isHealth.Bool()
		out.Healthy = berr == nil && healthy
	}
	if custom != nil {
		v, err := eval(custom, "customStatus")
		if err != nil {
			return nil, err
		}
		if msg, merr := v.LookupPath(cuelang.ParsePath("message")).String(); merr == nil {
			out.Message = msg
		}
	}
	if details != nil {
		v, err := eval(details, "details")
		if err != nil {
			return nil, err
		}
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
