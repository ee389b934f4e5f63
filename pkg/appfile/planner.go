package appfile

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/cue"
	"github.com/ferryhq/ferry/pkg/definition"
	"github.com/ferryhq/ferry/pkg/workflow"
)

// component is a working copy of an Application component with its resolved definitions.
type component struct {
	name       string
	typ        string
	properties map[string]any
	traits     []trait
	def        *definition.Definition
	// path is where the component is written, e.g. spec.components[0].
	path string
	// replicaKey is the key of a copy a replication policy made (context.replicaKey).
	replicaKey string
}

type trait struct {
	typ        string
	properties map[string]any
	def        *definition.Definition
	path       string
}

// run holds the state of planning one Application.
type run struct {
	p          *Planner
	ctx        context.Context
	opts       PlanOptions
	af         *Appfile
	app        *v1beta1.Application
	namespace  string
	components []*component
	policies   map[string]*policy
	errs       ErrorList
	seenErrs   map[string]bool
	// componentsContext is context.components for templates that read it.
	componentsContext map[string]any
	// used records every definition the Application resolved, for its revision.
	used map[string]DefinitionRef
	// ignoring maps the definitions used that set fields Ferry ignores to those fields.
	ignoring map[string][]string
	// moreWarnings are the warnings about unknown parameters the engine lets through and
	// about what loading a used definition's file let pass.
	moreWarnings map[string]bool
	// policyObjects are the objects custom policies render.
	policyObjects []Manifest
	// resourcePolicies collects the policies about applying and collecting objects.
	resourcePolicies ResourcePolicies
	// clusters are the known clusters by name, order their names: the hub, then the managed
	// clusters by name.
	clusters map[string]Cluster
	order    []string
	// versions memoizes each cluster's version for this plan.
	versions map[string]cue.ClusterVersion
	// workflow is the parsed workflow; nil when it has problems.
	workflow *workflow.Spec
	// sourceErr is a failure to read a source (not the Application's fault).
	sourceErr error
	// shared guards used, ignoring, moreWarnings and versions, which renders running in parallel share.
	shared *sync.Mutex
}

// definition resolves a type and records it as used.
func (r *run) definition(kind definition.Kind, name string) (*definition.Definition, error) {
	r.shared.Lock()
	defer r.shared.Unlock()
	// KubeVela names a revision of a definition as type@vN. Ferry keeps no definition
	// revisions: the type renders with the definition as it is now, as KubeVela falls back to
	// when the revision is gone.
	if base := definitionName(name); base != name {
		r.moreWarnings[fmt.Sprintf("%s type %q: Ferry keeps no definition revisions; it renders with %s %q as installed", kind, name, kind, base)] = true
		name = base
	}
	def, err := r.p.src.Definitions.Definition(r.ctx, r.namespace, kind, name)
	if err != nil {
		return nil, err
	}
	if def.Unsupported != "" {
		return nil, fmt.Errorf("%s cannot be rendered: %s", def.DisplayName(), def.Unsupported)
	}
	r.used[string(kind)+"/"+name] = DefinitionRef{Kind: string(kind), Name: name, Hash: def.Source().Key}
	if len(def.Ignored) > 0 {
		r.ignoring[def.DisplayName()] = def.Ignored
	}
	for _, w := range def.Warnings() {
		r.moreWarnings[w+" ("+def.DisplayName()+")"] = true
	}
	return def, nil
}

// definitionName is the definition a type names: the type without KubeVela's revision suffix
// (worker@v3 names worker).
func definitionName(typ string) string {
	if base, version, ok := strings.Cut(typ, "@"); ok && len(version) > 1 && version[0] == 'v' && strings.Trim(version[1:], "0123456789") == "" {
		return base
	}
	return typ
}

// Plan validates the Application, renders it and evaluates its policies. It returns an
// ErrorList with every problem of the Application (or of a definition it uses); any other
// error is a failure to read a source, worth retrying.
func (p *Planner) Plan(ctx context.Context, af *Appfile, opts PlanOptions) (*Plan, error) {
	if af == nil || af.App == nil {
		return nil, errors.New("no Application given")
	}
	r := &run{p: p, ctx: ctx, opts: opts, af: af, app: af.App, policies: map[string]*policy{}, seenErrs: map[string]bool{},
		used: map[string]DefinitionRef{}, ignoring: map[string][]string{}, moreWarnings: map[string]bool{}, versions: map[string]cue.ClusterVersion{}, shared: &sync.Mutex{}}
	r.namespace = r.app.Namespace
	if r.namespace == "" {
		r.namespace = "default"
	}
	if err := r.loadClusters(); err != nil {
		return nil, err
	}
	r.validateStructure()
	r.resolveComponents()
	r.componentsContext = make(map[string]any, len(r.components))
	for _, c := range r.components {
		r.componentsContext[c.name] = map[string]any{"name": c.name, "type": c.typ, "properties": c.properties}
	}
	r.resolvePolicies()
	steps := r.deploySteps()
	if err := r.errs.errOrNil(); err != nil {
		// Still check the parameters of everything that resolved, so that one run shows
		// every problem.
		r.checkParameters()
		return nil, r.errs
	}

	plan := &Plan{App: r.app.Name, Namespace: r.namespace, Policies: r.resourcePolicies, Workflow: r.workflow}
	for _, name := range r.order {
		plan.Clusters = append(plan.Clusters, r.clusters[name])
	}
	plan.Topologies = r.topologies()
	plan.PolicyObjects = r.policyObjects
	// Renders find definitions (and their warnings) and unknown parameters on the way.
	defer func() { plan.Definitions, plan.Warnings = sortedRefs(r.used), r.warnings() }()
	// Every component of every target renders independently, in parallel; the results are
	// put together in order, so a plan and its errors do not depend on which finished first.
	type stepTargets struct {
		step    deployStep
		targets []target
		jobs    [][]*renderJob
	}
	var layout []stepTargets
	var jobs []*renderJob
	for _, s := range steps {
		st := stepTargets{step: s, targets: r.targets(s)}
		for _, t := range st.targets {
			var tj []*renderJob
			for _, c := range r.componentsFor(s, t) {
				tj = append(tj, &renderJob{c: c, t: t})
			}
			st.jobs = append(st.jobs, tj)
			jobs = append(jobs, tj...)
		}
		layout = append(layout, st)
	}
	rendered := len(jobs) > 0
	if !rendered {
		// No deploy step: still check every component renders on the hub.
		for _, c := range r.components {
			jobs = append(jobs, &renderJob{c: c, t: target{cluster: r.clusters[LocalCluster], namespace: r.namespace}})
		}
	}
	r.renderAll(jobs)
	for _, st := range layout {
		sp := StepPlan{Name: st.step.name, Auto: st.step.auto, Waiting: r.waiting(st.step)}
		for i, t := range st.targets {
			tp := TargetPlan{Cluster: t.cluster.Name, Namespace: t.namespace, Group: t.group, GroupIndex: t.groupIndex}
			for _, j := range st.jobs[i] {
				r.merge(j)
				if j.ok {
					tp.Manifests = append(tp.Manifests, j.manifests...)
					tp.Components = append(tp.Components, j.plan)
				}
			}
			r.checkDuplicates(st.step.name, tp)
			sp.Targets = append(sp.Targets, tp)
		}
		plan.Steps = append(plan.Steps, sp)
	}
	if !rendered {
		for _, j := range jobs {
			r.merge(j)
		}
	}
	if r.sourceErr != nil {
		return nil, r.sourceErr
	}
	if err := r.errs.errOrNil(); err != nil {
		return nil, err
	}
	return plan, nil
}

// warnings name what the Application and the definitions it uses set that Ferry ignores.
func (r *run) warnings() []string {
	out := slices.Clone(r.af.Warnings)
	for i, c := range r.app.Spec.Components {
		if c.ExternalRevision != "" {
			out = append(out, fmt.Sprintf("%s: component %q: externalRevision is accepted and ignored: Ferry keeps no component revisions",
				r.af.Where(fmt.Sprintf("spec.components[%d].externalRevision", i)), c.Name))
		}
	}
	names := make([]string, 0, len(r.ignoring))
	for name := range r.ignoring {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		out = append(out, fmt.Sprintf("%s sets %s, which Ferry accepts and ignores", name, strings.Join(r.ignoring[name], ", ")))
	}
	unknown := make([]string, 0, len(r.moreWarnings))
	for w := range r.moreWarnings {
		unknown = append(unknown, w)
	}
	sort.Strings(unknown)
	return append(out, unknown...)
}

// warnUnknownParameters records the unknown parameters a render let through (--validate=warn).
func (r *run) warnUnknownParameters(warnings []cue.FieldError, propsPath, subject string) {
	if len(warnings) == 0 {
		return
	}
	r.shared.Lock()
	defer r.shared.Unlock()
	for _, f := range warnings {
		e := &Error{Where: r.paramWhere(propsPath, f.Path), Subject: subject,
			Message: fmt.Sprintf("parameter %s: %s, ignored", f.PathString(), f.Message)}
		r.moreWarnings[e.Error()] = true
	}
}

// loadClusters reads the managed clusters once per plan.
func (r *run) loadClusters() error {
	managed, err := r.p.src.Clusters.ManagedClusters(r.ctx)
	if err != nil {
		return err // the source says what it could not read
	}
	r.clusters = map[string]Cluster{LocalCluster: {Name: LocalCluster}}
	for _, c := range managed {
		if _, seen := r.clusters[c.Name]; !seen {
			r.order = append(r.order, c.Name)
		}
		r.clusters[c.Name] = c
	}
	// By name, as the API server lists them: a cluster file's order does not change a plan.
	sort.Strings(r.order)
	r.order = append([]string{LocalCluster}, r.order...)
	return nil
}

// clusterVersion is what templates rendered for cluster see as context.clusterVersion.
func (r *run) clusterVersion(cluster string) (cue.ClusterVersion, error) {
	r.shared.Lock()
	defer r.shared.Unlock()
	if v, ok := r.versions[cluster]; ok {
		return v, nil
	}
	v, err := r.p.src.Versions.ClusterVersion(r.ctx, cluster)
	if err != nil {
		return v, err
	}
	r.versions[cluster] = v
	return v, nil
}

// checkDuplicates reports two manifests of one target that are the same object: applying both
// would make them overwrite each other.
func (r *run) checkDuplicates(step string, tp TargetPlan) {
	seen := map[string]Manifest{}
	for _, m := range tp.Manifests {
		key := objectKey(m.Object)
		first, dup := seen[key]
		if !dup {
			seen[key] = m
			continue
		}
		r.addError(r.af.Where("spec.components"), fmt.Sprintf("step %q, cluster %q", step, tp.Cluster),
			fmt.Sprintf("%s is rendered twice: by %s and by %s; rename one of them", key, describeSource(first), describeSource(m)))
	}
}

func objectKey(obj map[string]any) string {
	apiVersion, _ := obj["apiVersion"].(string)
	kind, _ := obj["kind"].(string)
	meta, _ := obj["metadata"].(map[string]any)
	ns, _ := meta["namespace"].(string)
	name, _ := meta["name"].(string)
	group := ""
	if i := strings.LastIndex(apiVersion, "/"); i >= 0 {
		group = apiVersion[:i]
	}
	if ns != "" {
		return fmt.Sprintf("%s %s/%s", qualifiedKind(group, kind), ns, name)
	}
	return fmt.Sprintf("%s %s", qualifiedKind(group, kind), name)
}

func qualifiedKind(group, kind string) string {
	if group == "" {
		return kind
	}
	return kind + "." + group
}

func describeSource(m Manifest) string {
	if m.Trait != "" {
		return fmt.Sprintf("component %q trait %q (outputs.%s)", m.Component, m.Trait, m.Output)
	}
	if m.Output != "" {
		return fmt.Sprintf("component %q (outputs.%s)", m.Component, m.Output)
	}
	return fmt.Sprintf("component %q (output)", m.Component)
}

// addError records an error once; the same problem on several targets is reported once.
func (r *run) addError(where, subject, message string) {
	e := &Error{Where: where, Subject: subject, Message: message}
	key := e.Error()
	if r.seenErrs[key] {
		return
	}
	r.seenErrs[key] = true
	r.errs = append(r.errs, e)
}

// validateStructure checks what the API schema would reject and what it cannot express.
func (r *run) validateStructure() {
	app := r.app
	switch {
	case app.Name == "":
		r.addError(r.af.Where("metadata"), "", "metadata.name is required")
	case len(app.Name) > validation.LabelValueMaxLength:
		r.addError(r.af.Where("metadata.name"), "", fmt.Sprintf("metadata.name has %d characters, at most %d are allowed: it becomes the %s label of everything the app deploys",
			len(app.Name), validation.LabelValueMaxLength, v1beta1.LabelAppName))
	}
	names := map[string]bool{}
	for i, c := range app.Spec.Components {
		path := fmt.Sprintf("spec.components[%d]", i)
		switch {
		case c.Name == "":
			r.addError(r.af.Where(path), "", fmt.Sprintf("%s.name is required", path))
		case len(validation.IsDNS1123Label(c.Name)) > 0:
			r.addError(r.af.Where(path+".name"), fmt.Sprintf("component %q", c.Name),
				"name must be a DNS label: lower-case letters, digits and '-', at most 63 characters")
		case names[c.Name]:
			r.addError(r.af.Where(path+".name"), fmt.Sprintf("component %q", c.Name), "duplicate component name")
		}
		names[c.Name] = true
		if c.Type == "" {
			r.addError(r.af.Where(path), fmt.Sprintf("component %q", c.Name), "type is required")
		}
	}
	for i, c := range app.Spec.Components {
		for j, dep := range c.DependsOn {
			if !names[dep] {
				r.addError(r.af.Where(fmt.Sprintf("spec.components[%d].dependsOn[%d]", i, j)), fmt.Sprintf("component %q", c.Name),
					fmt.Sprintf("dependsOn names unknown component %q", dep))
			}
		}
	}
	policyNames := map[string]bool{}
	for i, p := range app.Spec.Policies {
		path := fmt.Sprintf("spec.policies[%d]", i)
		if p.Name != "" && policyNames[p.Name] {
			r.addError(r.af.Where(path+".name"), fmt.Sprintf("policy %q", p.Name), "duplicate policy name")
		}
		policyNames[p.Name] = true
	}
	r.validateWorkflow()
}

// resolveComponents finds the definition of every component and trait and decodes properties.
func (r *run) resolveComponents() {
	for i, c := range r.app.Spec.Components {
		path := fmt.Sprintf("spec.components[%d]", i)
		comp := &component{name: c.Name, typ: c.Type, path: path}
		comp.properties = r.decodeProperties(c.Properties, path+".properties", componentSubject(c.Name, c.Type))
		if c.Type != "" {
			def, err := r.definition(definition.KindComponent, c.Type)
			if err != nil {
				r.addError(r.af.Where(path+".type"), fmt.Sprintf("component %q", c.Name), err.Error())
			}
			comp.def = def
		}
		for j, t := range c.Traits {
			tpath := fmt.Sprintf("%s.traits[%d]", path, j)
			tr := trait{typ: t.Type, path: tpath}
			tr.properties = r.decodeProperties(t.Properties, tpath+".properties", componentSubject(c.Name, c.Type)+fmt.Sprintf(": trait %q", t.Type))
			def, err := r.definition(definition.KindTrait, t.Type)
			if err != nil {
				r.addError(r.af.Where(tpath+".type"), componentSubject(c.Name, c.Type), err.Error())
			}
			tr.def = def
			comp.traits = append(comp.traits, tr)
		}
		r.components = append(r.components, comp)
	}
}

// decodeProperties turns raw properties into plain data with int64 integers.
func (r *run) decodeProperties(raw *runtime.RawExtension, path, subject string) map[string]any {
	if raw == nil || len(raw.Raw) == 0 || string(raw.Raw) == "null" {
		return map[string]any{}
	}
	m, err := cue.DecodeJSONObject(raw.Raw)
	if err != nil {
		r.addError(r.af.Where(path), subject, "properties must be an object: "+err.Error())
		return map[string]any{}
	}
	return m
}

// decodeInto decodes plain data into a Go struct, e.g. policy properties after validation.
// Numbers inside free-form fields stay json.Number; see normalizeOverride.
func decodeInto(in map[string]any, out any) error {
	data, err := json.Marshal(in)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	return dec.Decode(out)
}

// paramWhere locates a parameter error inside properties written at propsPath.
func (r *run) paramWhere(propsPath string, field []string) string {
	if len(field) == 0 {
		return r.af.Where(propsPath)
	}
	p := cue.FormatPath(field)
	if _, err := strconv.Atoi(field[0]); err == nil {
		return r.af.Where(propsPath + p)
	}
	return r.af.Where(propsPath + "." + p)
}

// reportRenderError turns a render error into positioned errors.
func (r *run) reportRenderError(err error, propsPath, subject string) {
	var perr *cue.ParameterError
	if errors.As(err, &perr) {
		for _, f := range perr.Errors {
			r.addError(r.paramWhere(propsPath, f.Path), subject, fmt.Sprintf("parameter %s: %s", f.PathString(), f.Message))
		}
		return
	}
	var terr *cue.TemplateError
	if errors.As(err, &terr) {
		for _, d := range terr.Details {
			r.addError(r.af.Where(propsPath), subject, fmt.Sprintf("template error in %s: %s: %s", terr.Template, terr.Op, d))
		}
		return
	}
	r.addError(r.af.Where(propsPath), subject, err.Error())
}
