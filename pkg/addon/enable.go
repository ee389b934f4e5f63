package addon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/definition"
	"github.com/ferryhq/ferry/pkg/dispatch"
)

// EnableRequest is what `ferry addon enable` and `ferry addon upgrade` ask for.
type EnableRequest struct {
	Name string
	// Version is an exact version or a semver constraint; "" is the newest (or, for an enabled
	// addon without Upgrade, the enabled one).
	Version string
	// Parameters are the user's values; with Upgrade they are merged over the recorded ones.
	Parameters map[string]any
	// Clusters or ClusterSelector say where a runtime-cluster addon deploys; with Upgrade,
	// empty keeps the recorded ones.
	Clusters        []string
	ClusterSelector map[string]string
	// Upgrade keeps the recorded parameters and clusters and moves to the newest version (or
	// Version).
	Upgrade bool
}

// Step actions.
const (
	ActionInstall   = "install"
	ActionUpgrade   = "upgrade"
	ActionUpdate    = "update"
	ActionUnchanged = "unchanged"
)

// Step is one addon of an enable plan.
type Step struct {
	Action   string
	Addon    *Addon
	Rendered *Rendered
	Record   *Record
	// Previous is the record before this enable, nil for an install.
	Previous *Record
}

// EnablePlan is everything an enable applies, in order: dependencies first.
type EnablePlan struct {
	Steps    []Step
	Warnings []string
}

// PlanEnable resolves dependencies, fetches and renders every addon involved and checks each
// Application against the hub. Nothing is written: a failure leaves the hub as it was.
func (m *Manager) PlanEnable(ctx context.Context, req EnableRequest) (*EnablePlan, error) {
	records, err := Records(ctx, m.o.Client, m.o.Namespace)
	if err != nil {
		return nil, err
	}
	prev := records[req.Name]
	if req.Upgrade && prev == nil {
		return nil, fmt.Errorf("addon %s is not enabled; enable it with ferry addon enable %s", req.Name, req.Name)
	}
	enabled := map[string]string{}
	for name, r := range records {
		enabled[name] = r.Version
	}
	if req.Upgrade {
		delete(enabled, req.Name)
	}
	res, err := Resolve(ctx, m.o.Registries, Request{Name: req.Name, Version: req.Version}, ResolveOptions{Enabled: enabled})
	if err != nil {
		return nil, err
	}
	where := m.placements(req, prev, res, records)
	plan := &EnablePlan{}
	var defs []*definition.Definition
	for _, c := range res.Order {
		if err := m.checkSystem(c); err != nil {
			return nil, err
		}
		a, err := m.o.Registries.Fetch(ctx, c)
		if err != nil {
			return nil, err
		}
		plan.Warnings = append(plan.Warnings, a.Warnings...)
		if err := m.compileDefinitions(a); err != nil {
			return nil, err
		}
		rec := records[c.Name]
		params := map[string]any{}
		if rec != nil {
			params = rec.Parameters
		}
		if c.Name == req.Name {
			if req.Upgrade || prev == nil {
				params = MergeParameters(params, req.Parameters)
			} else {
				params = req.Parameters // enable again: the parameters given now
			}
		}
		p := where[c.Name]
		if !a.Metadata.DeployTo.RuntimeCluster {
			p = placement{} // it installs on the hub only, wherever its users go
		}
		if p.clusters == nil && p.selector == nil && a.Metadata.DeployTo.RuntimeCluster && !a.Metadata.DeployTo.Hub() && m.o.ManagedClusters != nil {
			if p.clusters, err = m.o.ManagedClusters(ctx); err != nil {
				return nil, err
			}
		}
		arts, err := FetchArtifacts(ctx, a, m.o.Artifacts)
		if err != nil {
			return nil, err
		}
		r, err := a.Render(RenderOptions{Namespace: m.o.Namespace, Parameters: params, Clusters: p.clusters, ClusterSelector: p.selector, Artifacts: arts})
		if err != nil {
			return nil, err
		}
		defs = append(defs, a.Definitions...)
		if r.Application != nil && m.o.Check != nil {
			warnings, err := m.o.Check(ctx, r.Application, defs)
			if err != nil {
				return nil, fmt.Errorf("addon %s: its Application (from %s) does not plan on this hub: %w", a.Ref(), a.templateFile(), err)
			}
			for _, w := range warnings {
				plan.Warnings = append(plan.Warnings, fmt.Sprintf("addon %s: %s", a.Ref(), w))
			}
		}
		next := &Record{Name: a.Name(), Version: a.Version(), Registry: c.Registry, Source: a.Origin, Parameters: params,
			Clusters: p.clusters, ClusterSelector: p.selector, AsDependency: c.Name != req.Name && (rec == nil || rec.AsDependency)}
		for _, d := range c.Dependencies {
			next.Dependencies = append(next.Dependencies, d.Name)
		}
		for _, d := range a.Definitions {
			next.Definitions = append(next.Definitions, defKey(d.Kind, d.Name))
		}
		if r.Application != nil {
			next.Application = r.Application.Name
		}
		plan.Steps = append(plan.Steps, Step{Action: action(rec, next), Addon: a, Rendered: r, Record: next, Previous: rec})
	}
	return plan, nil
}

func defKey(kind definition.Kind, name string) string { return string(kind) + "/" + name }

func action(prev, next *Record) string {
	switch {
	case prev == nil:
		return ActionInstall
	case prev.Version != next.Version:
		return ActionUpgrade
	case reflect.DeepEqual(normalize(prev.Parameters), normalize(next.Parameters)) &&
		reflect.DeepEqual(prev.Clusters, next.Clusters) && reflect.DeepEqual(prev.ClusterSelector, next.ClusterSelector) && prev.Source == next.Source:
		return ActionUnchanged
	}
	return ActionUpdate
}

// normalize round-trips through JSON so numbers compare alike.
func normalize(m map[string]any) map[string]any {
	if len(m) == 0 {
		return nil
	}
	data, _ := json.Marshal(m)
	var out map[string]any
	_ = json.Unmarshal(data, &out)
	return out
}

// MergeParameters returns base with over merged in: nested maps key by key, anything else
// replaced. Neither argument is changed.
func MergeParameters(base, over map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		if bm, ok := out[k].(map[string]any); ok {
			if om, ok := v.(map[string]any); ok {
				out[k] = MergeParameters(bm, om)
				continue
			}
		}
		out[k] = v
	}
	return out
}

type placement struct {
	clusters []string
	selector map[string]string
}

// placements decides where each resolved addon deploys: the requested one where asked (or as
// recorded), and every dependency at least wherever the addons that need it deploy.
func (m *Manager) placements(req EnableRequest, prev *Record, res *Resolution, records map[string]*Record) map[string]placement {
	out := map[string]placement{}
	root := placement{clusters: req.Clusters, selector: req.ClusterSelector}
	if prev != nil && req.Upgrade && root.clusters == nil && root.selector == nil {
		root = placement{clusters: prev.Clusters, selector: prev.ClusterSelector}
	}
	out[req.Name] = root
	// Order is dependencies first: walk it backwards so dependents are placed first.
	for i := len(res.Order) - 2; i >= 0; i-- {
		name := res.Order[i].Name
		p := placement{}
		all := false
		if rec := records[name]; rec != nil {
			p = placement{clusters: rec.Clusters, selector: rec.ClusterSelector}
			all = rec.Clusters == nil && rec.ClusterSelector == nil
		}
		for _, by := range res.RequiredBy[name] {
			d := out[by]
			switch {
			case d.clusters == nil && d.selector == nil:
				all = true
			case d.selector != nil:
				if p.clusters == nil && (p.selector == nil || reflect.DeepEqual(p.selector, d.selector)) {
					p.selector = d.selector
				} else {
					all = true // no one selector or list covers both: everywhere is at least both
				}
			case p.selector != nil:
				all = true
			default:
				p.clusters = unionStrings(p.clusters, d.clusters)
			}
		}
		if all {
			p = placement{}
		}
		out[name] = p
	}
	return out
}

// Objects are what the plan applies, in order, as `--dry-run -o yaml` prints them: for each
// addon its definitions, its Application and its record.
func (p *EnablePlan) Objects(namespace string) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	for _, s := range p.Steps {
		objs, err := s.objects(namespace)
		if err != nil {
			return nil, err
		}
		out = append(out, objs...)
	}
	return out, nil
}

func (s Step) objects(namespace string) ([]*unstructured.Unstructured, error) {
	out := append([]*unstructured.Unstructured(nil), s.Rendered.Definitions...)
	if s.Rendered.Application != nil {
		u, err := dispatch.ToUnstructured(s.Rendered.Application)
		if err != nil {
			return nil, err
		}
		unstructured.RemoveNestedField(u.Object, "status")
		unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
		out = append(out, u)
	}
	sec, err := s.Record.Secret(namespace)
	if err != nil {
		return nil, err
	}
	u, err := dispatch.ToUnstructured(sec)
	if err != nil {
		return nil, err
	}
	unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
	out = append(out, u)
	return out, nil
}

// Apply writes the plan to the hub, addon by addon (dependencies first): definitions, then the
// Application (retried briefly while the admission webhook's view of the new definitions
// catches up), then the record; finally definitions the previous version had and this one
// does not are removed. report is told each addon as it is done.
func (m *Manager) Apply(ctx context.Context, plan *EnablePlan, report func(Step)) error {
	for _, s := range plan.Steps {
		if s.Action == ActionUnchanged {
			if report != nil {
				report(s)
			}
			continue
		}
		s.Record.EnabledAt = time.Now().UTC().Truncate(time.Second)
		objs, err := s.objects(m.o.Namespace)
		if err != nil {
			return err
		}
		for _, obj := range objs {
			if err := m.apply(ctx, obj); err != nil {
				return fmt.Errorf("addon %s: %w", s.Addon.Ref(), err)
			}
		}
		if s.Previous != nil {
			if err := m.removeDefinitions(ctx, s.Addon.Name(), without(s.Previous.Definitions, s.Record.Definitions)); err != nil {
				return fmt.Errorf("addon %s: %w", s.Addon.Ref(), err)
			}
			if s.Previous.Application != "" && s.Record.Application == "" {
				if err := m.deleteApp(ctx, s.Previous.Application); err != nil {
					return err
				}
			}
		}
		if report != nil {
			report(s)
		}
	}
	return nil
}

func without(a, b []string) []string {
	drop := map[string]bool{}
	for _, s := range b {
		drop[s] = true
	}
	var out []string
	for _, s := range a {
		if !drop[s] {
			out = append(out, s)
		}
	}
	return out
}

// apply server-side-applies one object, retrying an Application the webhook refuses for a
// type it cannot see yet.
func (m *Manager) apply(ctx context.Context, obj *unstructured.Unstructured) error {
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := m.o.Client.Patch(ctx, obj.DeepCopy(), client.Apply, client.FieldOwner(FieldManager), client.ForceOwnership)
		if err == nil {
			return nil
		}
		retry := obj.GetKind() == "Application" && (apierrors.IsInvalid(err) || apierrors.IsForbidden(err) || apierrors.IsBadRequest(err)) &&
			strings.Contains(err.Error(), "unknown") && time.Now().Before(deadline)
		if !retry {
			if meta.IsNoMatchError(err) && obj.GetAPIVersion() == v1beta1.GroupVersion.String() {
				return fmt.Errorf("apply %s %s: %w (is Ferry installed? run: ferry install)", obj.GetKind(), obj.GetName(), err)
			}
			return fmt.Errorf("apply %s %s: %w", obj.GetKind(), obj.GetName(), err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// removeDefinitions deletes an addon's definitions by KIND/NAME, only those that carry the
// addon's label (a definition someone else has since taken over stays).
func (m *Manager) removeDefinitions(ctx context.Context, addon string, keys []string) error {
	sort.Strings(keys)
	var errs []error
	for _, k := range keys {
		kind, name, _ := strings.Cut(k, "/")
		dk, err := definition.ParseKind(kind)
		if err != nil {
			continue
		}
		obj := definition.NewObject(dk)
		err = m.o.Client.Get(ctx, client.ObjectKey{Namespace: m.o.Namespace, Name: name}, obj)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if obj.GetLabels()[LabelAddonName] != addon {
			continue
		}
		if err := m.o.Client.Delete(ctx, obj); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("delete %s: %w", k, err))
		}
	}
	return errors.Join(errs...)
}

func (m *Manager) deleteApp(ctx context.Context, name string) error {
	app := &v1beta1.Application{}
	app.Name, app.Namespace = name, m.o.Namespace
	if err := m.o.Client.Delete(ctx, app); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete application %s: %w", name, err)
	}
	return nil
}

// compileDefinitions compiles every definition of a, as `ferry def apply` does: one that does not
// compile is never installed.
func (m *Manager) compileDefinitions(a *Addon) error {
	var errs []error
	for _, d := range a.Definitions {
		if d.Unsupported != "" {
			errs = append(errs, fmt.Errorf("%s: %s: %s", d.Filename, d.DisplayName(), d.Unsupported))
			continue
		}
		if _, err := m.o.Engine.Compile(d.Source()); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("addon %s: %w", a.Ref(), errors.Join(errs...))
	}
	return nil
}
