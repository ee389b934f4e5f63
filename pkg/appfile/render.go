package appfile

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/cue"
	"github.com/ferryhq/ferry/pkg/definition"
)

// target is one cluster and namespace a step deploys to.
type target struct {
	cluster   Cluster
	namespace string
	// group is the topology policy that chose the target, groupIndex its place among the
	// step's topology policies: a rollout's decision group.
	group      string
	groupIndex int
}

// groupsPerPolicy spaces the group indexes of a step's topology policies, so that a Placement's
// decision groups keep their order within their policy's.
const groupsPerPolicy = 1000

// waiting says why a step's targets are not all known yet: a Placement not decided yet.
func (r *run) waiting(s deployStep) string {
	var out []string
	for _, pol := range s.policies {
		if pol.topology != nil && pol.topology.waiting != "" {
			out = append(out, pol.topology.waiting)
		}
	}
	return strings.Join(out, "; ")
}

// targets resolves the topology policies of a step; without one, the step deploys to the hub.
func (r *run) targets(s deployStep) []target {
	if s.to != nil {
		return []target{*s.to}
	}
	var out []target
	seen := map[string]bool{}
	topologies := 0
	for _, pol := range s.policies {
		if pol.topology == nil {
			continue
		}
		topologies++
		clusters, err := r.selectClusters(pol)
		if err != nil {
			continue // reported when the policy was resolved
		}
		ns := pol.topology.Namespace
		if ns == "" {
			ns = r.namespace
		}
		for _, c := range clusters {
			key := c.Name + "/" + ns
			if seen[key] {
				continue
			}
			seen[key] = true
			t := target{cluster: c, namespace: ns, group: pol.name, groupIndex: (topologies - 1) * groupsPerPolicy}
			if d, ok := pol.topology.decided[c.Name]; ok {
				// A Placement's decision groups are the policy's groups, in their order.
				t.groupIndex += d.GroupIndex
				switch {
				case d.Group != "":
					t.group = d.Group
				case d.GroupIndex > 0:
					t.group = fmt.Sprintf("%s-%d", pol.name, d.GroupIndex)
				}
			}
			out = append(out, t)
		}
	}
	if topologies == 0 {
		out = append(out, target{cluster: r.clusters[LocalCluster], namespace: r.namespace})
	}
	return out
}

// componentsFor applies a step's override policies that apply on the target, in order.
func (r *run) componentsFor(s deployStep, t target) []*component {
	if s.component != "" {
		for _, c := range r.components {
			if c.name == s.component {
				return []*component{c}
			}
		}
		return nil
	}
	comps := r.components
	if len(s.except) > 0 {
		comps = slices.DeleteFunc(slices.Clone(comps), func(c *component) bool { return slices.Contains(s.except, c.name) })
	}
	for _, pol := range s.policies {
		if pol.override != nil && pol.override.appliesTo(t.cluster) {
			comps = pol.override.apply(comps)
		}
	}
	for _, pol := range s.policies {
		if pol.replication != nil {
			comps = pol.replication.apply(comps)
		}
	}
	return comps
}

// baseContext is the context shared by every template of the Application.
func (r *run) baseContext(name string) cue.Context {
	app := r.app
	return cue.Context{
		Name:           name,
		AppName:        app.Name,
		Namespace:      r.namespace,
		Cluster:        LocalCluster,
		AppRevision:    r.opts.AppRevision,
		AppRevisionNum: r.opts.AppRevisionNum,
		Revision:       componentRevision(name, r.opts.AppRevisionNum),
		AppLabels:      app.Labels,
		AppAnnotations: app.Annotations,
		WorkflowName:   app.Name,
		PublishVersion: app.Annotations[v1beta1.AnnotationPublishVersion],
		Components:     r.componentsContext,
	}
}

// componentRevision is context.revision: <component>-v<n> for revision n of the Application, as
// KubeVela names component revisions; empty when the plan is not for a revision (dry-run).
func componentRevision(component string, revision int64) string {
	if component == "" || revision == 0 {
		return ""
	}
	return fmt.Sprintf("%s-v%d", component, revision)
}

// renderJob is one component rendered for one target, with what went wrong doing it.
type renderJob struct {
	c *component
	t target

	manifests []Manifest
	plan      ComponentPlan
	ok        bool
	errs      ErrorList
	sourceErr error
}

// renderAll renders the jobs, in parallel when the engine has more than one runtime. Each job
// records its problems on its own; merge adds them to the run in job order.
func (r *run) renderAll(jobs []*renderJob) {
	workers := min(r.p.opts.Engine.Runtimes(), len(jobs))
	if workers <= 1 {
		for _, j := range jobs {
			r.renderJob(j)
		}
		return
	}
	next := make(chan *renderJob)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for j := range next {
				r.renderJob(j)
			}
		})
	}
	for _, j := range jobs {
		next <- j
	}
	close(next)
	wg.Wait()
}

// renderJob renders one job on a copy of the run that keeps the job's problems apart; the
// copy shares the run's definitions, clusters and versions, which r.shared guards.
func (r *run) renderJob(j *renderJob) {
	jr := *r
	jr.errs, jr.seenErrs, jr.sourceErr = nil, map[string]bool{}, nil
	j.manifests, j.plan, j.ok = jr.render(j.c, j.t)
	j.errs, j.sourceErr = jr.errs, jr.sourceErr
}

// merge adds a rendered job's problems to the run.
func (r *run) merge(j *renderJob) {
	for _, e := range j.errs {
		r.addError(e.Where, e.Subject, e.Message)
	}
	if j.sourceErr != nil && r.sourceErr == nil {
		r.sourceErr = j.sourceErr
	}
}

// render renders one component with its traits for one target. It reports problems and
// returns false when the component could not be rendered.
func (r *run) render(c *component, t target) ([]Manifest, ComponentPlan, bool) {
	manifests, ctx, ok := r.renderObjects(c, t)
	if !ok {
		return nil, ComponentPlan{}, false
	}
	cp := ComponentPlan{Name: c.name, Type: c.typ, Definition: c.def, Parameter: c.properties, Context: ctx}
	for _, tr := range c.traits {
		def, _ := r.traitDefinition(tr)
		cp.Traits = append(cp.Traits, TraitPlan{Type: tr.typ, Definition: def, Parameter: tr.properties})
	}
	return manifests, cp, true
}

// renderObjects renders the objects of one component with its traits for one target, and
// returns them with the component's render context.
func (r *run) renderObjects(c *component, t target) ([]Manifest, cue.Context, bool) {
	subject := componentSubject(c.name, c.typ)
	if len(r.order) > 1 {
		subject += fmt.Sprintf(" on cluster %q", t.cluster.Name)
	}
	if c.def == nil {
		return nil, cue.Context{}, false
	}
	ctx := r.baseContext(c.name)
	ctx.ReplicaKey = c.replicaKey
	ctx.Cluster, ctx.Namespace = t.cluster.Name, t.namespace
	version, err := r.clusterVersion(t.cluster.Name)
	if err != nil {
		r.sourceErr = fmt.Errorf("read the Kubernetes version of cluster %q: %w", t.cluster.Name, err)
		return nil, cue.Context{}, false
	}
	ctx.ClusterVersion = version

	tmpl, err := r.p.opts.Engine.Compile(c.def.Source())
	if err != nil {
		r.reportRenderError(err, c.path+".properties", subject)
		return nil, cue.Context{}, false
	}
	r.prerender(tmpl, c, ctx)
	res, err := tmpl.Render(cue.Input{Parameter: c.properties, Context: ctx})
	if err == nil && len(res.References) > 0 {
		res, err = r.renderWithReferences(tmpl, c, ctx, res.References)
	}
	if err != nil {
		r.reportRenderError(err, c.path+".properties", subject)
		r.checkTraitParameters(c, ctx, subject)
		return nil, cue.Context{}, false
	}
	r.warnUnknownParameters(res.Warnings, c.path+".properties", subject)
	if res.Output == nil {
		r.addError(r.af.Where(c.path+".type"), subject, fmt.Sprintf("%s renders no `output`", c.def.DisplayName()))
		return nil, cue.Context{}, false
	}
	if !r.checkTraitRules(c, res.Output, subject) {
		return nil, cue.Context{}, false
	}
	rc := &rendering{workload: res.Output, byName: map[string]int{}}
	for _, o := range res.Outputs {
		rc.add(Manifest{Component: c.name, Output: o.Name, Object: o.Object})
	}
	ok := true
	for _, tr := range c.traits {
		ok = r.applyTrait(rc, c, tr, ctx, fmt.Sprintf("%s: trait %q", subject, tr.typ)) && ok
	}
	if !ok {
		return nil, cue.Context{}, false
	}
	manifests := append([]Manifest{{Component: c.name, Object: rc.workload}}, rc.outputs...)
	for i := range manifests {
		manifests[i].ComponentType = c.typ
		r.finishObject(&manifests[i], c, t)
	}
	return r.mergeSameObjects(manifests, subject), ctx, true
}

// prerender has an engine that evaluates in a sandbox render the component and its traits in
// one round trip (cue.Engine.Prerender); the renders below then find their results waiting.
func (r *run) prerender(tmpl *cue.Template, c *component, ctx cue.Context) {
	engine := r.p.opts.Engine
	if !engine.Prerenders() || len(c.traits) == 0 {
		return
	}
	steps := []cue.ChainStep{{Template: tmpl, Parameter: c.properties}}
	for _, tr := range c.traits {
		def, err := r.traitDefinition(tr)
		if err != nil {
			return
		}
		t, err := engine.Compile(def.Source())
		if err != nil {
			return
		}
		steps = append(steps, cue.ChainStep{Template: t, Parameter: tr.properties})
	}
	engine.Prerender(ctx, steps)
}

// rendering is a component's objects while its traits are applied in turn.
type rendering struct {
	workload map[string]any
	outputs  []Manifest
	// byName indexes outputs by name. Names are per definition: two traits may both call an
	// output "service"; later traits and patchOutputs see the latest one, and checkDuplicates
	// catches two outputs that are the same object.
	byName map[string]int
}

func (rc *rendering) add(m Manifest) {
	rc.byName[m.Output] = len(rc.outputs)
	rc.outputs = append(rc.outputs, m)
}

// applyTrait renders one trait against the component's objects so far and applies its patch,
// patchOutputs and outputs. It reports problems and returns false on any.
func (r *run) applyTrait(rc *rendering, c *component, tr trait, ctx cue.Context, subject string) bool {
	def, err := r.traitDefinition(tr)
	if err != nil {
		r.addError(r.af.Where(tr.path+".type"), componentSubject(c.name, c.typ), err.Error())
		return false
	}
	tmpl, err := r.p.opts.Engine.Compile(def.Source())
	if err != nil {
		r.reportRenderError(err, tr.path+".properties", subject)
		return false
	}
	ctx.Output = rc.workload
	ctx.Outputs = make(map[string]any, len(rc.outputs))
	for _, o := range rc.outputs {
		ctx.Outputs[o.Output] = o.Object
	}
	res, err := tmpl.Render(cue.Input{Parameter: tr.properties, Context: ctx})
	if err != nil {
		r.reportRenderError(err, tr.path+".properties", subject)
		return false
	}
	r.warnUnknownParameters(res.Warnings, tr.path+".properties", subject)
	ok := true
	if res.Patch != nil {
		patched, err := res.Patch.Apply(rc.workload)
		if err != nil {
			r.addError(r.af.Where(tr.path), subject, "patch the workload: "+err.Error())
			ok = false
		} else {
			rc.workload = patched
		}
	}
	for name, p := range res.PatchOutputs {
		idx, found := rc.byName[name]
		if !found {
			r.addError(r.af.Where(tr.path), subject, fmt.Sprintf("patchOutputs.%s: no output named %q to patch", name, name))
			ok = false
			continue
		}
		patched, err := p.Apply(rc.outputs[idx].Object)
		if err != nil {
			r.addError(r.af.Where(tr.path), subject, fmt.Sprintf("patchOutputs.%s: %v", name, err))
			ok = false
			continue
		}
		rc.outputs[idx].Object = patched
	}
	for _, o := range res.Outputs {
		rc.add(Manifest{Component: c.name, Trait: tr.typ, Output: o.Name, Object: o.Object})
	}
	return ok
}

// renderWithReferences reads the objects a template asked for and renders it again with them
// in context.references. As in KubeVela, objects are read from the hub, whatever cluster the
// component goes to, unless a reference names a cluster.
func (r *run) renderWithReferences(tmpl *cue.Template, c *component, ctx cue.Context, refs []map[string]any) (*cue.Result, error) {
	for _, ref := range refs {
		if url, ok := ref["url"].(string); ok {
			return nil, fmt.Errorf("urls: Ferry does not fetch objects from URLs (%s): a controller that fetches what apps name is a request-forgery channel; put the objects in a k8s-objects component, or create them on the hub and name them in objects", url)
		}
	}
	if r.p.src.Objects == nil {
		return nil, fmt.Errorf("%s reads existing objects, and no cluster or objects file is given (ferry dry-run --objects FILE)", c.def.DisplayName())
	}
	objects := make([]any, 0, len(refs))
	for _, ref := range refs {
		cluster, _ := ref["cluster"].(string)
		if cluster == "" {
			cluster = LocalCluster
		}
		ref = withoutKey(ref, "cluster")
		if selector, ok := ref["labelSelector"].(map[string]any); ok {
			labels := make(map[string]string, len(selector))
			for k, v := range selector {
				labels[k] = fmt.Sprint(v)
			}
			found, err := r.p.src.Objects.List(r.ctx, cluster, withoutKey(ref, "labelSelector"), labels)
			if err != nil {
				return nil, err
			}
			if len(found) == 0 {
				meta, _ := ref["metadata"].(map[string]any)
				return nil, fmt.Errorf("no %v in %v has the labels %s", ref["kind"], meta["namespace"], formatLabels(labels))
			}
			for _, obj := range found {
				objects = append(objects, referencedObject(obj))
			}
			continue
		}
		obj, err := r.p.src.Objects.Read(r.ctx, cluster, ref)
		if err != nil {
			return nil, err
		}
		objects = append(objects, referencedObject(obj))
	}
	ctx.Extra = map[string]any{"references": objects}
	return tmpl.Render(cue.Input{Parameter: c.properties, Context: ctx})
}

// checkParameters reports the parameter errors of every component and trait whose definition
// resolved, without rendering anything else.
func (r *run) checkParameters() {
	for _, c := range r.components {
		ctx := r.baseContext(c.name)
		ctx.ReplicaKey = c.replicaKey
		subject := componentSubject(c.name, c.typ)
		if c.def != nil {
			if tmpl, err := r.p.opts.Engine.Compile(c.def.Source()); err == nil {
				_, err := tmpl.Render(cue.Input{Parameter: c.properties, Context: ctx})
				var perr *cue.ParameterError
				if errors.As(err, &perr) {
					r.reportRenderError(err, c.path+".properties", subject)
				}
			}
		}
		r.checkTraitParameters(c, ctx, subject)
	}
}

// checkTraitParameters reports parameter errors of the traits of a component that could not
// be rendered, so the user sees every parameter problem at once.
func (r *run) checkTraitParameters(c *component, ctx cue.Context, subject string) {
	ctx.Output, ctx.Outputs = map[string]any{}, map[string]any{}
	for _, tr := range c.traits {
		if tr.def == nil {
			continue // unknown type, already reported
		}
		tmpl, err := r.p.opts.Engine.Compile(tr.def.Source())
		if err != nil {
			continue
		}
		_, err = tmpl.Render(cue.Input{Parameter: tr.properties, Context: ctx})
		var perr *cue.ParameterError
		if errors.As(err, &perr) {
			r.reportRenderError(err, tr.path+".properties", fmt.Sprintf("%s: trait %q", subject, tr.typ))
		}
	}
}

// traitDefinition resolves a trait, including one an override policy added.
func (r *run) traitDefinition(tr trait) (*definition.Definition, error) {
	if tr.def != nil {
		return tr.def, nil
	}
	return r.definition(definition.KindTrait, tr.typ)
}

// withoutKey returns a shallow copy of m without key.
func withoutKey(m map[string]any, key string) map[string]any {
	if _, ok := m[key]; !ok {
		return m
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		if k != key {
			out[k] = v
		}
	}
	return out
}

// referencedObject is an existing object as a template gets it: what it is and holds, without
// what the API server keeps about it (uid, resourceVersion, managedFields, owners, status), so
// that delivering it elsewhere creates it anew.
func referencedObject(obj map[string]any) map[string]any {
	out := make(map[string]any, len(obj))
	for k, v := range obj {
		if k != "status" {
			out[k] = v
		}
	}
	meta, ok := obj["metadata"].(map[string]any)
	if !ok {
		return out
	}
	kept := map[string]any{}
	for _, k := range []string{"name", "namespace", "labels", "annotations"} {
		if v, ok := meta[k]; ok {
			kept[k] = v
		}
	}
	if annotations, ok := kept["annotations"].(map[string]any); ok {
		if _, last := annotations["kubectl.kubernetes.io/last-applied-configuration"]; last {
			annotations = withoutKey(annotations, "kubectl.kubernetes.io/last-applied-configuration")
			kept["annotations"] = annotations
		}
	}
	out["metadata"] = kept
	return out
}

// mergeSameObjects merges the objects of one component that are the same object, as KubeVela
// applies them one after another: a webservice's Service and a gateway trait's, both named
// after the component. The component's object comes first, traits in order; a later scalar
// wins, structs merge, lists of structs merge by name (else port, else they are replaced). The
// merged object keeps the first's ownership labels. Each merge is a warning.
func (r *run) mergeSameObjects(manifests []Manifest, subject string) []Manifest {
	first := map[string]int{}
	out := manifests[:0:0]
	for _, m := range manifests {
		key := objectKey(m.Object)
		i, dup := first[key]
		if !dup {
			first[key] = len(out)
			out = append(out, m)
			continue
		}
		kept := out[i]
		merged, _ := mergeObjects(deepCopyMap(kept.Object), m.Object).(map[string]any)
		if meta, ok := merged["metadata"].(map[string]any); ok {
			if labels, ok := meta["labels"].(map[string]any); ok && kept.Trait == "" {
				delete(labels, v1beta1.LabelTraitType)
				delete(labels, v1beta1.LabelTraitResource)
				labels[v1beta1.LabelWorkloadType] = kept.ComponentType
			}
		}
		out[i].Object = merged
		r.shared.Lock()
		r.moreWarnings[fmt.Sprintf("%s: %s is rendered by %s and by %s; merged, the later winning where they differ",
			subject, key, describeSource(kept), describeSource(m))] = true
		r.shared.Unlock()
	}
	return out
}

func mergeObjects(base, over any) any {
	switch o := over.(type) {
	case map[string]any:
		b, ok := base.(map[string]any)
		if !ok {
			return over
		}
		for k, v := range o {
			b[k] = mergeObjects(b[k], v)
		}
		return b
	case []any:
		b, ok := base.([]any)
		if !ok {
			return over
		}
		for _, key := range []string{"name", "port", "containerPort"} {
			if allHave(b, key) && allHave(o, key) {
				return mergeListsBy(b, o, key)
			}
		}
		return over
	default:
		return over
	}
}

func allHave(list []any, key string) bool {
	for _, el := range list {
		m, ok := el.(map[string]any)
		if !ok || m[key] == nil {
			return false
		}
	}
	return len(list) > 0
}

func mergeListsBy(base, over []any, key string) []any {
	for _, el := range over {
		om := el.(map[string]any)
		found := false
		for i, bel := range base {
			if bm := bel.(map[string]any); fmt.Sprint(bm[key]) == fmt.Sprint(om[key]) {
				base[i] = mergeObjects(bm, om)
				found = true
				break
			}
		}
		if !found {
			base = append(base, om)
		}
	}
	return base
}

func deepCopyMap(m map[string]any) map[string]any {
	out, _ := cue.DeepCopy(m).(map[string]any)
	return out
}
