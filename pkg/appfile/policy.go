package appfile

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/cue"
	"github.com/ferryhq/ferry/pkg/definition"
	"github.com/ferryhq/ferry/pkg/workflow"
)

// Policy types whose behaviour the planner implements.
const (
	PolicyTopology    = "topology"
	PolicyOverride    = "override"
	PolicyReplication = "replication"
	// PolicyHealth is KubeVela's health probing policy, accepted and ignored.
	PolicyHealth = "health"
)

// policy is a validated policy of the Application.
type policy struct {
	name        string
	typ         string
	path        string
	topology    *topologySpec
	override    *overrideSpec
	replication *replicationSpec
	envs        []environment
}

// replicationSpec are the properties of a replication policy: a deploy step using it renders
// each selected component once per key, named <component>-<key>, with context.replicaKey set.
type replicationSpec struct {
	Keys     []string `json:"keys"`
	Selector []string `json:"selector,omitempty"`
}

// apply replaces each selected component with one copy per key.
func (s *replicationSpec) apply(comps []*component) []*component {
	out := make([]*component, 0, len(comps)*max(1, len(s.Keys)))
	for _, c := range comps {
		if len(s.Selector) > 0 && !slices.Contains(s.Selector, c.name) {
			out = append(out, c)
			continue
		}
		for _, key := range s.Keys {
			cp := *c
			cp.name, cp.replicaKey = c.name+"-"+key, key
			out = append(out, &cp)
		}
	}
	return out
}

// topologySpec are the properties of a topology policy.
type topologySpec struct {
	Clusters             []string          `json:"clusters,omitempty"`
	ClusterLabelSelector map[string]string `json:"clusterLabelSelector,omitempty"`
	ClusterSelector      map[string]string `json:"clusterSelector,omitempty"`
	// Placement names an OCM Placement whose decisions are the targets (Ferry extension).
	Placement  *placementRef `json:"placement,omitempty"`
	Namespace  string        `json:"namespace,omitempty"`
	AllowEmpty bool          `json:"allowEmpty,omitempty"`

	// decided is what the Placement decided, by cluster; waiting says why there is nothing
	// yet. Both are filled when the policy is resolved.
	decided map[string]Decision
	order   []Decision
	waiting string
}

// placementRef names an OCM Placement; with Spec, the topology policy renders it.
type placementRef struct {
	Name      string         `json:"name"`
	Namespace string         `json:"namespace,omitempty"`
	Spec      map[string]any `json:"spec,omitempty"`
}

// overrideSpec are the properties of an override policy.
type overrideSpec struct {
	Components []overrideComponent `json:"components"`
	Selector   []string            `json:"selector,omitempty"`
	// Clusters and ClusterLabelSelector restrict the override to some targets (Ferry extension).
	Clusters             []string          `json:"clusters,omitempty"`
	ClusterLabelSelector map[string]string `json:"clusterLabelSelector,omitempty"`

	// added are the components the override adds: entries naming a component the Application
	// does not have, with a type, as KubeVela's override policy allows.
	added []*component
}

// matchesName reports whether an override entry's name selects a component: no name or "*"
// selects all, a glob such as "web-*" those it matches.
func (oc overrideComponent) matchesName(name string) bool {
	if oc.Name == "" || oc.Name == "*" {
		return true
	}
	ok, err := path.Match(oc.Name, name)
	return err == nil && ok
}

// isPattern reports whether a name selects by pattern rather than naming one component.
func isPattern(name string) bool { return name == "" || strings.ContainsAny(name, "*?[") }

type overrideComponent struct {
	Name       string          `json:"name,omitempty"`
	Type       string          `json:"type,omitempty"`
	Properties map[string]any  `json:"properties,omitempty"`
	Traits     []overrideTrait `json:"traits,omitempty"`
}

type overrideTrait struct {
	Type       string         `json:"type"`
	Properties map[string]any `json:"properties,omitempty"`
	Disable    bool           `json:"disable,omitempty"`
}

// resolvePolicies validates every policy's properties against its definition and decodes the
// ones the planner implements.
func (r *run) resolvePolicies() {
	for i, ap := range r.app.Spec.Policies {
		path := fmt.Sprintf("spec.policies[%d]", i)
		key := v1beta1.PolicyKey(i, ap)
		subject := fmt.Sprintf("policy %q (%s)", key, ap.Type)
		def, err := r.definition(definition.KindPolicy, ap.Type)
		if err != nil {
			r.addError(r.af.Where(path+".type"), fmt.Sprintf("policy %q", key), err.Error())
			continue
		}
		props := r.decodeProperties(ap.Properties, path+".properties", subject)
		// context.name is the policy's name, as KubeVela renders a policy's output.
		res, ok := r.validateParameters(def, props, r.baseContext(key), path+".properties", subject)
		if !ok {
			continue
		}
		pol := &policy{name: key, typ: ap.Type, path: path}
		switch ap.Type {
		case PolicyTopology:
			pol.topology = &topologySpec{}
			if err := decodeInto(props, pol.topology); err != nil {
				r.addError(r.af.Where(path+".properties"), subject, err.Error())
				continue
			}
			r.checkTopology(pol, subject, path+".properties")
			r.addPolicyObjects(key, res) // an inline Placement
		case PolicyOverride:
			pol.override = &overrideSpec{}
			if err := decodeInto(props, pol.override); err != nil {
				r.addError(r.af.Where(path+".properties"), subject, err.Error())
				continue
			}
			normalizeOverride(pol.override)
			r.checkOverride(pol.override, subject, path+".properties.components", path+".properties.selector")
		case workflow.PolicyEnvBinding:
			if !r.resolveEnvBinding(pol, props, subject) {
				continue
			}
		case PolicyReplication:
			pol.replication = &replicationSpec{}
			if err := decodeInto(props, pol.replication); err != nil {
				r.addError(r.af.Where(path+".properties"), subject, err.Error())
				continue
			}
			r.checkReplication(pol)
		default:
			if err := addResourcePolicy(&r.resourcePolicies, ap.Type, props); err != nil {
				r.addError(r.af.Where(path+".properties"), subject, err.Error())
				continue
			}
			r.addPolicyObjects(key, res)
			if ap.Type == PolicyHealth {
				r.moreWarnings[fmt.Sprintf("%s: %s: accepted and ignored: Ferry checks health whenever the Application's objects change and at every resync",
					r.af.Where(path+".type"), subject)] = true
			}
		}
		r.policies[key] = pol
	}
}

// validateParameters renders a definition that has no output (policy, step) to check the
// parameters it is given. A required parameter at or around one of fromInputs (a step's
// inputs[].parameterKey, filled when the step runs) is not missing.
func (r *run) validateParameters(def *definition.Definition, props map[string]any, ctx cue.Context, propsPath, subject string, fromInputs ...string) (*cue.Result, bool) {
	tmpl, err := r.p.opts.Engine.Compile(def.Source())
	if err != nil {
		r.reportRenderError(err, propsPath, subject)
		return nil, false
	}
	res, err := tmpl.Render(cue.Input{Parameter: props, Context: ctx})
	var perr *cue.ParameterError
	if len(fromInputs) > 0 && errors.As(err, &perr) {
		var kept []cue.FieldError
		for _, f := range perr.Errors {
			if !f.Missing || !suppliedByInput(cue.FormatPath(f.Path), fromInputs) {
				kept = append(kept, f)
			}
		}
		if len(kept) == 0 {
			return nil, true
		}
		err = &cue.ParameterError{Template: perr.Template, Errors: kept}
	}
	if err != nil {
		r.reportRenderError(err, propsPath, subject)
		return nil, false
	}
	r.warnUnknownParameters(res.Warnings, propsPath, subject)
	return res, true
}

// addPolicyObjects keeps the objects a policy's template renders (output and outputs), as
// KubeVela applies them: to the hub, in the Application's namespace unless they name another,
// with the Application, before its workflow.
func (r *run) addPolicyObjects(policy string, res *cue.Result) {
	if res == nil {
		return
	}
	add := func(output string, obj map[string]any) {
		meta, _ := obj["metadata"].(map[string]any)
		if meta == nil {
			meta = map[string]any{}
			obj["metadata"] = meta
		}
		if name, _ := meta["name"].(string); name == "" {
			meta["name"] = policy // as unnamed objects of components are named after them
		}
		r.ownObject(obj, meta, r.namespace)
		r.policyObjects = append(r.policyObjects, Manifest{Policy: policy, Output: output, Object: obj})
	}
	if res.Output != nil {
		add("", res.Output)
	}
	for _, o := range res.Outputs {
		add(o.Name, o.Object)
	}
}

// checkTopology reports clusters that do not exist, and selections that are empty.
func (r *run) checkTopology(pol *policy, subject, where string) {
	if _, err := r.selectClusters(pol); err != nil {
		r.addError(r.af.Where(where), subject, err.Error())
	}
}

// selectClusters resolves a topology policy to clusters, in a stable order.
func (r *run) selectClusters(pol *policy) ([]Cluster, error) {
	spec := pol.topology
	var out []Cluster
	selector := spec.ClusterLabelSelector
	if selector == nil {
		selector = spec.ClusterSelector
	}
	switch {
	case spec.Placement != nil:
		return r.placed(pol)
	case len(spec.Clusters) > 0:
		var missing []string
		for _, name := range spec.Clusters {
			c, ok := r.clusters[name]
			if !ok {
				missing = append(missing, name)
				continue
			}
			out = append(out, c)
		}
		if len(missing) > 0 && !spec.AllowEmpty {
			return nil, fmt.Errorf("cluster %s does not exist (known clusters: %s); add it with --clusters, or set allowEmpty: true",
				quoteList(missing), strings.Join(r.order, ", "))
		}
	case selector != nil:
		for _, name := range r.order {
			c := r.clusters[name]
			if matchLabels(selector, c.Labels) {
				out = append(out, c)
			}
		}
	default:
		out = append(out, r.clusters[LocalCluster])
	}
	if len(out) == 0 && !spec.AllowEmpty {
		return nil, fmt.Errorf("no cluster matches clusterLabelSelector %s; set allowEmpty: true to allow that", formatLabels(selector))
	}
	return out, nil
}

// placed is what a topology policy's OCM Placement decided, in decision group order. No
// decision yet is no target (the deploy steps using the policy wait, see StepPlan.Waiting),
// not an error: the placement controller decides within moments of the Placement's creation.
func (r *run) placed(pol *policy) ([]Cluster, error) {
	spec := pol.topology
	ref := spec.Placement
	switch {
	case len(spec.Clusters) > 0 || spec.ClusterLabelSelector != nil || spec.ClusterSelector != nil:
		return nil, errors.New("placement chooses the clusters: leave out clusters and clusterLabelSelector")
	case ref.Name == "":
		return nil, errors.New("placement.name: the Placement's name is required")
	case r.p.src.Placements == nil:
		return nil, fmt.Errorf("placement %q: its decisions are read from the hub; offline, preview with clusters or clusterLabelSelector instead", ref.Name)
	}
	ns := ref.Namespace
	if ns == "" {
		ns = r.namespace
	}
	if spec.decided != nil || spec.waiting != "" {
		return r.decidedClusters(spec), nil // resolved once per plan
	}
	decisions, decided, err := r.p.src.Placements.Decisions(r.ctx, ns, ref.Name)
	if err != nil {
		if r.sourceErr == nil {
			r.sourceErr = fmt.Errorf("read the decisions of placement %s/%s: %w", ns, ref.Name, err)
		}
		return nil, nil
	}
	spec.decided = map[string]Decision{}
	if !decided {
		spec.waiting = fmt.Sprintf("waiting for OCM to decide placement %s/%s", ns, ref.Name)
		return nil, nil
	}
	for _, d := range decisions {
		if _, ok := r.clusters[d.Cluster]; ok {
			spec.decided[d.Cluster] = d
		}
	}
	spec.order = decisions
	if len(spec.decided) == 0 && !spec.AllowEmpty {
		spec.waiting = fmt.Sprintf("placement %s/%s decided no cluster", ns, ref.Name)
	}
	return r.decidedClusters(spec), nil
}

// decidedClusters are the clusters a placement decided, in decision order.
func (r *run) decidedClusters(spec *topologySpec) []Cluster {
	var out []Cluster
	for _, d := range spec.order {
		if _, ok := spec.decided[d.Cluster]; ok {
			out = append(out, r.clusters[d.Cluster])
		}
	}
	return out
}

// topologies resolves each topology policy to its placements, in the order written.
func (r *run) topologies() []Topology {
	var out []Topology
	for i, ap := range r.app.Spec.Policies {
		pol := r.policies[v1beta1.PolicyKey(i, ap)]
		if pol == nil || pol.topology == nil {
			continue
		}
		clusters, err := r.selectClusters(pol)
		if err != nil {
			continue // reported when the policy was resolved
		}
		t := Topology{Policy: pol.name}
		for _, c := range clusters {
			t.Placements = append(t.Placements, Placement{Cluster: c.Name, Namespace: pol.topology.Namespace})
		}
		out = append(out, t)
	}
	return out
}

// checkOverride reports override entries that name components the Application does not have,
// and decodes the ones that add a component. The entries are at componentsPath, the selector at
// selectorPath.
func (r *run) checkOverride(o *overrideSpec, subject, componentsPath, selectorPath string) {
	known := map[string]bool{}
	for _, c := range r.app.Spec.Components {
		known[c.Name] = true
	}
	for i, oc := range o.Components {
		where := fmt.Sprintf("%s[%d]", componentsPath, i)
		if _, err := path.Match(oc.Name, ""); err != nil {
			r.addError(r.af.Where(where+".name"), subject, fmt.Sprintf("name %q is not a valid pattern: %v", oc.Name, err))
			continue
		}
		if isPattern(oc.Name) || known[oc.Name] {
			continue
		}
		// A component the Application does not have: the override adds it.
		if oc.Type == "" {
			r.addError(r.af.Where(where+".name"), subject,
				fmt.Sprintf("component %q does not exist in the Application; give its type to add it", oc.Name))
			continue
		}
		if len(validation.IsDNS1123Label(oc.Name)) > 0 {
			r.addError(r.af.Where(where+".name"), subject, "name must be a DNS label: lower-case letters, digits and '-', at most 63 characters")
			continue
		}
		def, err := r.definition(definition.KindComponent, oc.Type)
		if err != nil {
			r.addError(r.af.Where(where+".type"), fmt.Sprintf("%s: component %q", subject, oc.Name), err.Error())
			continue
		}
		added := &component{name: oc.Name, typ: oc.Type, def: def, path: where, properties: mergeProperties(nil, oc.Properties)}
		for j, ot := range oc.Traits {
			if ot.Disable {
				continue
			}
			tdef, err := r.definition(definition.KindTrait, ot.Type)
			if err != nil {
				r.addError(r.af.Where(fmt.Sprintf("%s.traits[%d].type", where, j)), fmt.Sprintf("%s: component %q", subject, oc.Name), err.Error())
				continue
			}
			added.traits = append(added.traits, trait{typ: ot.Type, def: tdef, path: fmt.Sprintf("%s.traits[%d]", where, j),
				properties: mergeProperties(nil, ot.Properties)})
		}
		known[oc.Name] = true
		o.added = append(o.added, added)
	}
	for i, name := range o.Selector {
		if !known[name] {
			r.addError(r.af.Where(fmt.Sprintf("%s[%d]", selectorPath, i)), subject, fmt.Sprintf("selector names unknown component %q", name))
		}
	}
}

// normalizeOverride turns the json.Number values of free-form properties into int64 or float64,
// as templates expect.
func normalizeOverride(o *overrideSpec) {
	for i := range o.Components {
		c := &o.Components[i]
		if c.Properties != nil {
			cue.NormalizeJSON(c.Properties)
		}
		for j := range c.Traits {
			if c.Traits[j].Properties != nil {
				cue.NormalizeJSON(c.Traits[j].Properties)
			}
		}
	}
}

// appliesTo reports whether an override applies on a cluster.
func (o *overrideSpec) appliesTo(c Cluster) bool {
	if len(o.Clusters) > 0 {
		if !slices.Contains(o.Clusters, c.Name) {
			return false
		}
	}
	if o.ClusterLabelSelector != nil && !matchLabels(o.ClusterLabelSelector, c.Labels) {
		return false
	}
	return true
}

// apply changes components as the override says and returns the new list.
func (o *overrideSpec) apply(comps []*component) []*component {
	out := make([]*component, 0, len(comps))
	for _, c := range comps {
		if len(o.Selector) > 0 && !slices.Contains(o.Selector, c.name) {
			continue
		}
		for _, oc := range o.Components {
			if !oc.matchesName(c.name) || (oc.Type != "" && oc.Type != c.typ) {
				continue
			}
			c = overrideComponentWith(c, oc)
		}
		out = append(out, c)
	}
	for _, c := range o.added {
		if !slices.ContainsFunc(out, func(have *component) bool { return have.name == c.name }) {
			out = append(out, c)
		}
	}
	return out
}

// overrideComponentWith returns a copy of c with properties merged and traits changed.
func overrideComponentWith(c *component, oc overrideComponent) *component {
	next := *c
	if oc.Properties != nil {
		next.properties = mergeProperties(c.properties, oc.Properties)
	}
	next.traits = append([]trait(nil), c.traits...)
	for _, ot := range oc.Traits {
		idx := -1
		for i, t := range next.traits {
			if t.typ == ot.Type {
				idx = i
				break
			}
		}
		switch {
		case ot.Disable && idx >= 0:
			next.traits = append(next.traits[:idx:idx], next.traits[idx+1:]...)
		case ot.Disable:
		case idx >= 0:
			next.traits[idx].properties = mergeProperties(next.traits[idx].properties, ot.Properties)
		default:
			next.traits = append(next.traits, trait{typ: ot.Type, properties: mergeProperties(nil, ot.Properties), path: c.path + ".traits"})
		}
	}
	return &next
}

// mergeProperties deep-merges override into base: objects merge, everything else is replaced.
func mergeProperties(base, override map[string]any) map[string]any {
	out := make(map[string]any, len(base)+len(override))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range override {
		if om, ok := v.(map[string]any); ok {
			if bm, ok := out[k].(map[string]any); ok {
				out[k] = mergeProperties(bm, om)
				continue
			}
			out[k] = mergeProperties(nil, om)
			continue
		}
		out[k] = v
	}
	return out
}

func matchLabels(selector, labels map[string]string) bool {
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func formatLabels(l map[string]string) string {
	keys := make([]string, 0, len(l))
	for k := range l {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + l[k]
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}

// checkReplication reports keys that would name two copies alike and selected components that
// do not exist.
func (r *run) checkReplication(pol *policy) {
	subject := fmt.Sprintf("policy %q (%s)", pol.name, pol.typ)
	seen := map[string]bool{}
	for i, key := range pol.replication.Keys {
		if key == "" || seen[key] {
			r.addError(r.af.Where(fmt.Sprintf("%s.properties.keys[%d]", pol.path, i)), subject, fmt.Sprintf("key %q is empty or given twice", key))
		}
		seen[key] = true
	}
	for i, name := range pol.replication.Selector {
		if !slices.ContainsFunc(r.app.Spec.Components, func(c v1beta1.ApplicationComponent) bool { return c.Name == name }) {
			r.addError(r.af.Where(fmt.Sprintf("%s.properties.selector[%d]", pol.path, i)), subject, fmt.Sprintf("component %q does not exist", name))
		}
	}
}
