package addon

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"sort"
	"strings"

	"cuelang.org/go/cue"
	cueerrors "cuelang.org/go/cue/errors"
	"cuelang.org/go/cue/format"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/appfile"
	"github.com/ferryhq/ferry/pkg/dispatch"
)

// Labels and annotations Ferry puts on what an addon installs.
const (
	LabelAddonName        = "addons.ferry.dev/name"
	LabelAddonVersion     = "addons.ferry.dev/version"
	AnnotationAddonSource = "addons.ferry.dev/source"
	// ClustersPolicy is the topology policy Ferry adds to an addon's Application when the
	// addon's own template names none.
	ClustersPolicy = "ferry-addon-clusters"
)

// AppName is the name of the Application that installs addon name: addon-NAME, as in KubeVela.
func AppName(name string) string { return "addon-" + name }

// RenderOptions are what an enable fills into the addon.
type RenderOptions struct {
	// Namespace holds the addon's Application and definitions (the system namespace).
	Namespace string
	// Parameters are the user's values for parameter.cue.
	Parameters map[string]any
	// Clusters are the managed clusters the addon deploys to when it deploys to runtime
	// clusters; nil with ClusterSelector nil means every managed cluster.
	Clusters []string
	// ClusterSelector selects the managed clusters by label instead.
	ClusterSelector map[string]string
	// Artifacts are the objects of each fetched artifact, by artifact name.
	Artifacts map[string][]map[string]any
}

// Rendered is what enabling an addon applies on the hub.
type Rendered struct {
	Addon *Addon
	// Application delivers the addon's objects; nil when the addon has only definitions.
	Application *v1beta1.Application
	// Definitions are the addon's definitions as CRs in the system namespace.
	Definitions []*unstructured.Unstructured
	// Parameters are the user's values with parameter.cue's defaults filled in.
	Parameters map[string]any
}

// ParameterError lists every problem with an enable's parameters, each with its path.
type ParameterError struct {
	Addon    string
	Problems []string
}

func (e *ParameterError) Error() string {
	return fmt.Sprintf("addon %s: invalid parameters:\n  %s", e.Addon, strings.Join(e.Problems, "\n  "))
}

// Render fills parameters and context into the addon and returns its Application and
// definitions. Parameter problems come back as one *ParameterError.
func (a *Addon) Render(o RenderOptions) (*Rendered, error) {
	if o.Namespace == "" {
		return nil, errors.New("render addon: no namespace")
	}
	v, err := a.compile(newCUEContext())
	if err != nil {
		return nil, fmt.Errorf("addon %s: %w", a.Ref(), err)
	}
	params, err := a.checkParameters(v, withClusters(v, o.Parameters, o.Clusters))
	if err != nil {
		return nil, err
	}
	v = v.FillPath(cue.ParsePath("parameter"), params.given)
	v = v.FillPath(cue.ParsePath("context"), a.context(o))
	r := &Rendered{Addon: a, Parameters: params.filled}
	app, err := a.application(v)
	if err != nil {
		return nil, fmt.Errorf("addon %s: %w", a.Ref(), err)
	}
	if err := a.addResources(app, o); err != nil {
		return nil, fmt.Errorf("addon %s: %w", a.Ref(), err)
	}
	if len(app.Spec.Components) > 0 || len(app.Spec.Policies) > 0 || app.Spec.Workflow != nil {
		a.place(app, o)
		r.Application = app
	}
	for _, d := range a.Definitions {
		u, err := dispatch.ToUnstructured(d.CR())
		if err != nil {
			return nil, fmt.Errorf("addon %s: %s: %w", a.Ref(), d.DisplayName(), err)
		}
		u.SetNamespace(o.Namespace)
		u.SetLabels(mergeLabels(u.GetLabels(), a.labels()))
		r.Definitions = append(r.Definitions, u)
	}
	return r, nil
}

func (a *Addon) labels() map[string]string {
	return map[string]string{LabelAddonName: a.Name(), LabelAddonVersion: a.Version()}
}

func mergeLabels(in, add map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range in {
		out[k] = v
	}
	for k, v := range add {
		out[k] = v
	}
	return out
}

// context is what the addon's CUE sees as `context`.
func (a *Addon) context(o RenderOptions) map[string]any {
	var md map[string]any
	data, _ := json.Marshal(a.Metadata)
	_ = json.Unmarshal(data, &md)
	clusters := []any{}
	for _, c := range o.Clusters {
		clusters = append(clusters, c)
	}
	return map[string]any{
		"metadata": md, "name": a.Name(), "version": a.Version(), "namespace": o.Namespace,
		"appName": AppName(a.Name()), "clusters": clusters,
	}
}

type checkedParams struct {
	given, filled map[string]any
}

// checkParameters reports every unknown, mistyped or missing parameter at once.
func (a *Addon) checkParameters(v cue.Value, given map[string]any) (checkedParams, error) {
	if given == nil {
		given = map[string]any{}
	}
	given, _ = wholeNumbers(given).(map[string]any)
	schema := v.LookupPath(cue.ParsePath("parameter"))
	var problems []string
	if a.Files[ParameterFile] == nil {
		schema = cue.Value{}
	}
	if !schema.Exists() {
		for _, k := range sortedKeys(given) {
			problems = append(problems, fmt.Sprintf("parameter.%s: unknown: the addon has no parameters (no %s)", k, ParameterFile))
		}
	} else {
		problems = unknownParameters(schema, "parameter", given, problems)
	}
	filled := schema
	if schema.Exists() {
		filled = schema.FillPath(cue.Path{}, given)
		problems = append(problems, fieldProblems(schema, filled, nil, given)...)
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return checkedParams{}, &ParameterError{Addon: a.Ref(), Problems: problems}
	}
	out := map[string]any{}
	if filled.Exists() {
		if err := filled.Decode(&out); err != nil {
			return checkedParams{}, fmt.Errorf("addon %s: parameters: %s", a.Ref(), formatCUE(err))
		}
	}
	return checkedParams{given: given, filled: out}, nil
}

// withClusters gives a KubeVela addon that declares a `clusters` parameter the clusters chosen
// with --clusters, as KubeVela does, unless the user set it.
func withClusters(v cue.Value, params map[string]any, clusters []string) map[string]any {
	if len(clusters) == 0 || params["clusters"] != nil {
		return params
	}
	if f := v.LookupPath(cue.MakePath(cue.Str("parameter"), cue.Str("clusters").Optional())); !f.Exists() {
		if f = v.LookupPath(cue.ParsePath("parameter.clusters")); !f.Exists() {
			return params
		}
	}
	out := map[string]any{}
	for k, val := range params {
		out[k] = val
	}
	list := make([]any, len(clusters))
	for i, c := range clusters {
		list[i] = c
	}
	out["clusters"] = list
	return out
}

// wholeNumbers turns floats without a fraction into ints: values that came through JSON or YAML
// (key=value arguments, -f files, the stored record) are float64, and CUE tells 2.0 from int.
func wholeNumbers(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = wholeNumbers(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = wholeNumbers(e)
		}
		return out
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return int64(x)
		}
	}
	return v
}

// unknownParameters walks what was given against the schema's structs.
func unknownParameters(schema cue.Value, path string, given map[string]any, problems []string) []string {
	for _, k := range sortedKeys(given) {
		field := schema.LookupPath(cue.MakePath(cue.Str(k)))
		if !field.Exists() {
			field = schema.LookupPath(cue.MakePath(cue.Str(k).Optional()))
		}
		if !field.Exists() {
			if schema.Allows(cue.Str(k)) && schema.LookupPath(cue.MakePath(cue.AnyString)).Exists() {
				continue // a pattern such as [string]: string allows it
			}
			problems = append(problems, fmt.Sprintf("%s.%s: unknown parameter (known: %s)", path, k, strings.Join(fieldNames(schema), ", ")))
			continue
		}
		if sub, ok := given[k].(map[string]any); ok && field.IncompleteKind() == cue.StructKind {
			problems = unknownParameters(field, path+"."+k, sub, problems)
		}
	}
	return problems
}

func fieldNames(v cue.Value) []string {
	var out []string
	it, err := v.Fields(cue.Optional(true))
	if err != nil {
		return nil
	}
	for it.Next() {
		out = append(out, it.Selector().Unquoted())
	}
	return out
}

// fieldProblems validates each parameter field on its own, so that every problem is reported,
// not only the first CUE meets, with the schema it wants and the value given.
func fieldProblems(schema, filled cue.Value, path []string, root map[string]any) []string {
	var out []string
	it, err := schema.Fields(cue.Optional(true))
	if err != nil {
		return []string{fmt.Sprintf("parameter: %s", formatCUE(err))}
	}
	for it.Next() {
		name := it.Selector().Unquoted()
		p := append(append([]string(nil), path...), name)
		f := filled.LookupPath(cue.MakePath(cue.Str(name)))
		g, isGiven := lookup(root, p)
		if it.Value().IncompleteKind() == cue.StructKind {
			if _, ok := g.(map[string]any); ok || !isGiven {
				out = append(out, fieldProblems(it.Value(), f, p, root)...)
				continue
			}
		}
		if !isGiven && it.Selector().ConstraintType() == cue.OptionalConstraint {
			continue
		}
		err := f.Validate(cue.Concrete(true))
		if err == nil {
			continue
		}
		where := "parameter." + strings.Join(p, ".")
		if !isGiven {
			out = append(out, fmt.Sprintf("%s: required, not given (want %s)", where, schemaText(it.Value())))
			continue
		}
		msg := bestMessage(err)
		if strings.Contains(msg, "conflicting values") && !strings.Contains(msg, "mismatched types") || strings.Contains(msg, "empty disjunction") {
			out = append(out, fmt.Sprintf("%s: given %s, want %s", where, givenText(g), schemaText(it.Value())))
			continue
		}
		out = append(out, fmt.Sprintf("%s: %s (want %s, given %s)", where, msg, schemaText(it.Value()), givenText(g)))
	}
	return out
}

// bestMessage picks the CUE message that says most about a bad value.
func bestMessage(err error) string {
	var msgs []string
	for _, e := range cueerrors.Errors(err) {
		format, args := e.Msg()
		msgs = append(msgs, fmt.Sprintf(format, args...))
	}
	for _, prefer := range []string{"out of bound", "does not match", "invalid value", "mismatched types"} {
		for _, m := range msgs {
			if strings.Contains(m, prefer) {
				return m
			}
		}
	}
	for _, m := range msgs {
		if !strings.Contains(m, "errors in empty disjunction") {
			return m
		}
	}
	if len(msgs) > 0 {
		return msgs[0]
	}
	return err.Error()
}

func schemaText(v cue.Value) string {
	data, err := format.Node(v.Syntax(cue.Raw()))
	if err != nil {
		return fmt.Sprint(v)
	}
	return strings.Join(strings.Fields(string(data)), " ")
}

func givenText(g any) string {
	data, err := json.Marshal(g)
	if err != nil {
		return fmt.Sprint(g)
	}
	return string(data)
}

func lookup(m map[string]any, path []string) (any, bool) {
	var cur any = m
	for _, p := range path {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = mm[p]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// application is the addon's own Application: template.cue's `output` (with `outputs` as
// k8s-objects components), template.yaml, or an empty one.
func (a *Addon) application(v cue.Value) (*v1beta1.Application, error) {
	app := &v1beta1.Application{}
	switch {
	case a.Files[TemplateYAMLFile] != nil:
		if err := yaml.UnmarshalStrict(a.Files[TemplateYAMLFile], app); err != nil {
			return nil, fmt.Errorf("%s: %w", a.at(TemplateYAMLFile), err)
		}
	case v.LookupPath(cue.ParsePath("output")).Exists():
		out := v.LookupPath(cue.ParsePath("output"))
		if err := out.Validate(cue.Concrete(true)); err != nil {
			return nil, fmt.Errorf("template output: %s", formatCUE(err))
		}
		data, err := out.MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("template output: %s", formatCUE(err))
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(app); err != nil {
			return nil, fmt.Errorf("%s: output is not an Application: %w", a.at(TemplateCUEFile), err)
		}
	}
	if app.Kind != "" && app.Kind != "Application" {
		return nil, fmt.Errorf("template: kind is %q; an addon's template is an Application", app.Kind)
	}
	outputs := v.LookupPath(cue.ParsePath("outputs"))
	if outputs.Exists() {
		it, err := outputs.Fields()
		if err != nil {
			return nil, fmt.Errorf("template outputs: %s", formatCUE(err))
		}
		for it.Next() {
			var obj map[string]any
			if err := it.Value().Validate(cue.Concrete(true)); err != nil {
				return nil, fmt.Errorf("template outputs.%s: %s", it.Selector(), formatCUE(err))
			}
			if err := it.Value().Decode(&obj); err != nil {
				return nil, fmt.Errorf("template outputs.%s: %s", it.Selector(), formatCUE(err))
			}
			if err := addObjects(app, componentName(it.Selector().Unquoted()), []map[string]any{obj}); err != nil {
				return nil, err
			}
		}
	}
	return app, nil
}

var badNameChars = regexp.MustCompile(`[^a-z0-9-]+`)

// componentName turns a file or output name into a component name.
func componentName(s string) string {
	s = strings.Trim(badNameChars.ReplaceAllString(strings.ToLower(s), "-"), "-")
	if len(s) > 63 {
		s = strings.TrimRight(s[:63], "-")
	}
	return s
}

// addObjects appends a k8s-objects component holding objs.
func addObjects(app *v1beta1.Application, name string, objs []map[string]any) error {
	for _, c := range app.Spec.Components {
		if c.Name == name {
			return fmt.Errorf("component %s is defined twice (template and resources?)", name)
		}
	}
	props, err := json.Marshal(map[string]any{"objects": objs})
	if err != nil {
		return err
	}
	app.Spec.Components = append(app.Spec.Components, v1beta1.ApplicationComponent{Name: name, Type: "k8s-objects",
		Properties: rawJSON(props)})
	return nil
}

// addResources adds needNamespace, the artifacts and resources/*.yaml as k8s-objects components,
// before the template's own components (CRDs and namespaces first).
func (a *Addon) addResources(app *v1beta1.Application, o RenderOptions) error {
	own := app.Spec.Components
	app.Spec.Components = nil
	if len(a.Metadata.NeedNS) > 0 {
		var nss []map[string]any
		for _, ns := range a.Metadata.NeedNS {
			nss = append(nss, map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns}})
		}
		if err := addObjects(app, "namespaces", nss); err != nil {
			return err
		}
	}
	for _, art := range a.Metadata.Artifacts {
		objs, ok := o.Artifacts[art.Name]
		if !ok {
			return fmt.Errorf("artifact %s was not fetched", art.Name)
		}
		if len(objs) == 0 {
			return fmt.Errorf("artifact %s (%s) holds no objects", art.Name, art.URL)
		}
		if err := addObjects(app, componentName(art.Name), objs); err != nil {
			return err
		}
	}
	for _, p := range sortedKeys(a.Files) {
		if !strings.HasPrefix(p, ResourcesDir+"/") || !isYAML(p) {
			continue
		}
		objs, err := ReadObjects(a.at(p), a.Files[p])
		if err != nil {
			return err
		}
		if len(objs) == 0 {
			continue
		}
		if err := addObjects(app, componentName(base(p)), objs); err != nil {
			return fmt.Errorf("%s: %w", a.at(p), err)
		}
	}
	for _, c := range own {
		for _, have := range app.Spec.Components {
			if have.Name == c.Name {
				return fmt.Errorf("component %s is defined twice (template and resources?)", c.Name)
			}
		}
		app.Spec.Components = append(app.Spec.Components, c)
	}
	return nil
}

// ReadObjects reads a YAML stream of Kubernetes objects; each needs apiVersion and kind.
func ReadObjects(file string, data []byte) ([]map[string]any, error) {
	r := utilyaml.NewYAMLReader(bufioReader(data))
	var out []map[string]any
	for i := 0; ; i++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		var obj map[string]any
		if err := yaml.Unmarshal(doc, &obj); err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", file, i+1, err)
		}
		if len(obj) == 0 {
			continue
		}
		u := unstructured.Unstructured{Object: obj}
		if u.GetAPIVersion() == "" || u.GetKind() == "" {
			return nil, fmt.Errorf("%s: document %d: an object needs apiVersion and kind", file, i+1)
		}
		out = append(out, obj)
	}
}

// place names the Application, labels it, and adds a topology policy for the clusters the
// addon goes to, unless its template has its own topology.
func (a *Addon) place(app *v1beta1.Application, o RenderOptions) {
	app.APIVersion, app.Kind = v1beta1.GroupVersion.String(), "Application"
	app.Name, app.Namespace = AppName(a.Name()), o.Namespace
	app.Labels = mergeLabels(app.Labels, a.labels())
	if app.Annotations == nil {
		app.Annotations = map[string]string{}
	}
	app.Annotations[AnnotationAddonSource] = a.Origin
	to := a.Metadata.DeployTo
	if !to.RuntimeCluster && to.Namespace == "" {
		return
	}
	for _, p := range app.Spec.Policies {
		if p.Type == "topology" {
			return
		}
	}
	props := map[string]any{"allowEmpty": true}
	if to.Namespace != "" {
		props["namespace"] = to.Namespace
	}
	switch {
	case !to.RuntimeCluster:
		props["clusters"] = []string{appfile.LocalCluster}
	case len(o.Clusters) > 0:
		clusters := append([]string(nil), o.Clusters...)
		if to.Hub() {
			clusters = append([]string{appfile.LocalCluster}, clusters...)
		}
		props["clusters"] = clusters
	case o.ClusterSelector != nil:
		props["clusterLabelSelector"] = o.ClusterSelector
	default:
		props["clusterLabelSelector"] = map[string]string{}
	}
	data, _ := json.Marshal(props)
	app.Spec.Policies = append(app.Spec.Policies, v1beta1.AppPolicy{Name: ClustersPolicy, Type: "topology", Properties: rawJSON(data)})
}

func rawJSON(data []byte) *runtime.RawExtension { return &runtime.RawExtension{Raw: data} }

func bufioReader(data []byte) *bufio.Reader { return bufio.NewReader(bytes.NewReader(data)) }
