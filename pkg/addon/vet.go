package addon

import (
	"context"
	"errors"
	"fmt"

	"github.com/ferryhq/ferry/pkg/appfile"
	"github.com/ferryhq/ferry/pkg/cue"
	"github.com/ferryhq/ferry/pkg/definition"
)

// VetOptions say how to check an addon offline.
type VetOptions struct {
	// Engine compiles the definitions and plans the addon's Application.
	Engine *cue.Engine
	// Namespace is where the addon would be enabled (the system namespace).
	Namespace string
}

// VetResult is what vet found besides errors.
type VetResult struct {
	Warnings []string
	// Components is how many components the addon's Application has with default parameters.
	Components int
}

// Vet checks an addon without a cluster: its definitions compile, its template renders with
// the default parameters (artifacts stand in as empty), and the resulting Application plans
// with the built-in definitions plus the addon's own. Types that only a dependency provides
// are warnings, since the dependency is not at hand offline.
func Vet(ctx context.Context, a *Addon, o VetOptions) (*VetResult, error) {
	res := &VetResult{Warnings: append([]string(nil), a.Warnings...)}
	var errs []error
	reg, err := definition.Builtin()
	if err != nil {
		return nil, err
	}
	for _, d := range a.Definitions {
		if d.Unsupported != "" {
			errs = append(errs, fmt.Errorf("%s: %s: %s", d.Filename, d.DisplayName(), d.Unsupported))
			continue
		}
		if _, err := o.Engine.Compile(d.Source()); err != nil {
			errs = append(errs, err) // it names the definition and its file:line
			continue
		}
		reg.Add(d)
	}
	arts := map[string][]map[string]any{}
	for _, art := range a.Metadata.Artifacts {
		// Offline, an artifact is not fetched: one stand-in object takes its place.
		arts[art.Name] = []map[string]any{{"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": art.Name + "-stand-in"}}}
	}
	r, err := a.Render(RenderOptions{Namespace: o.Namespace, Artifacts: arts})
	if err != nil {
		errs = append(errs, fmt.Errorf("render with the default parameters: %w", err))
		return res, errors.Join(errs...)
	}
	if len(errs) > 0 {
		return res, errors.Join(errs...)
	}
	if r.Application == nil {
		return res, nil
	}
	res.Components = len(r.Application.Spec.Components)
	planner := appfile.NewPlanner(appfile.Offline(appfile.OfflineOptions{Definitions: reg}), appfile.Options{Engine: o.Engine})
	if _, err := planner.Plan(ctx, appfile.FromApplication(r.Application), appfile.PlanOptions{}); err != nil {
		msg := appfile.DescribeProblems(r.Application.Name, err)
		if len(a.Metadata.Dependencies) > 0 {
			res.Warnings = append(res.Warnings, "the Application does not plan with the built-in and own definitions alone (a dependency may provide what is missing): "+msg)
			return res, nil
		}
		return res, fmt.Errorf("the addon's Application does not plan: %s", msg)
	}
	return res, nil
}
