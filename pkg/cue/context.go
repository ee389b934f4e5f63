package cue

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Context is the `context` value a template sees. Field names follow the OAM convention.
type Context struct {
	// Name is the component name.
	Name string
	// AppName is the Application name.
	AppName string
	// Namespace is the target namespace.
	Namespace string
	// Cluster is the target cluster; "local" is the hub.
	Cluster string
	// AppRevision is the ApplicationRevision name, e.g. web-v3.
	AppRevision string
	// AppRevisionNum is the revision number.
	AppRevisionNum int64
	// Revision is the component revision.
	Revision string
	// Output is the rendered workload; set for traits.
	Output map[string]any
	// Outputs are the auxiliary objects rendered so far, by name; set for traits.
	Outputs map[string]any
	// Components are the Application's components (name → type and properties); set for traits.
	Components map[string]any
	// AppLabels are the Application's labels.
	AppLabels map[string]string
	// AppAnnotations are the Application's annotations.
	AppAnnotations map[string]string
	// WorkflowName is the name of the workflow run.
	WorkflowName string
	// PublishVersion is the app.oam.dev/publishVersion annotation.
	PublishVersion string
	// ClusterVersion is the target cluster's Kubernetes version.
	ClusterVersion ClusterVersion
	// ReplicaKey is set by the replication policy.
	ReplicaKey string
	// Extra are further context fields, e.g. stepName for workflow steps.
	Extra map[string]any
}

// ClusterVersion is a Kubernetes version as templates see it.
type ClusterVersion struct {
	Major      string
	Minor      int64
	GitVersion string
	Platform   string
}

// DefaultClusterVersion is what offline renders assume: a current Kubernetes.
var DefaultClusterVersion = ClusterVersion{Major: "1", Minor: 34, GitVersion: "v1.34.2", Platform: "linux/amd64"}

// ParseClusterVersion reads a Kubernetes git version such as v1.31.4 or v1.30.2-eks-1234, as
// the API server's /version or a ManagedCluster's status.version.kubernetes gives it.
func ParseClusterVersion(gitVersion, platform string) (ClusterVersion, error) {
	v := strings.TrimPrefix(gitVersion, "v")
	major, rest, ok := strings.Cut(v, ".")
	if !ok || major == "" {
		return ClusterVersion{}, fmt.Errorf("version %q: want vMAJOR.MINOR.PATCH", gitVersion)
	}
	minorText := rest
	if i := strings.IndexFunc(rest, func(r rune) bool { return r < '0' || r > '9' }); i >= 0 {
		minorText = rest[:i]
	}
	minor, err := strconv.ParseInt(minorText, 10, 64)
	if err != nil {
		return ClusterVersion{}, fmt.Errorf("version %q: want vMAJOR.MINOR.PATCH", gitVersion)
	}
	return ClusterVersion{Major: major, Minor: minor, GitVersion: gitVersion, Platform: platform}, nil
}

// contextReads records which context fields a template reads.
type contextReads struct {
	output, outputs, components bool
	// whole is set when the template uses context other than as context.<field>; fields
	// are the names it reads as context.<field> otherwise.
	whole  bool
	fields map[string]bool
}

// wholeContext matches `context` used other than as context.<field>, e.g. `_ctx: context`.
var wholeContext = regexp.MustCompile(`\bcontext\b\s*([^.\s:]|$)`)

// contextField matches a read of one context field, e.g. context.appName.
var contextField = regexp.MustCompile(`\bcontext\.([A-Za-z_$][A-Za-z0-9_$]*)`)

// scanContextReads looks at a template's text once, at compile time. A textual check errs on
// the safe side: a template that mentions a field, or uses context as a whole, gets it.
func scanContextReads(text string) contextReads {
	if wholeContext.MatchString(text) {
		return contextReads{output: true, outputs: true, components: true, whole: true}
	}
	r := contextReads{fields: map[string]bool{}}
	for _, m := range contextField.FindAllStringSubmatch(text, -1) {
		r.fields[m[1]] = true
	}
	r.output, r.outputs, r.components = r.fields["output"], r.fields["outputs"], r.fields["components"]
	return r
}

// trim drops the large context values the template does not read.
func (r contextReads) trim(c Context) Context {
	if !r.output {
		c.Output = nil
	}
	if !r.outputs {
		c.Outputs = nil
	}
	if !r.components {
		c.Components = nil
	}
	return c
}

// narrow keeps only the context fields the template reads; the others are left empty. A
// render's result depends on nothing else, so its memo key does not either: a trait that
// never looks at the component's name (scaler, sidecar) renders once for every component
// with the same properties, and a template is filled with less.
func (r contextReads) narrow(c Context) Context {
	c = r.trim(c)
	if r.whole {
		return c
	}
	keep := func(field string, clear func()) {
		if !r.fields[field] {
			clear()
		}
	}
	keep("name", func() { c.Name = "" })
	keep("appName", func() { c.AppName = "" })
	keep("namespace", func() { c.Namespace = "" })
	keep("cluster", func() { c.Cluster = "" })
	keep("appRevision", func() { c.AppRevision = "" })
	keep("appRevisionNum", func() { c.AppRevisionNum = 0 })
	keep("revision", func() { c.Revision = "" })
	keep("appLabels", func() { c.AppLabels = nil })
	keep("appAnnotations", func() { c.AppAnnotations = nil })
	keep("workflowName", func() { c.WorkflowName = "" })
	keep("publishVersion", func() { c.PublishVersion = "" })
	keep("clusterVersion", func() { c.ClusterVersion = ClusterVersion{} })
	keep("replicaKey", func() { c.ReplicaKey = "" })
	if len(c.Extra) > 0 {
		extra := make(map[string]any, len(c.Extra))
		for k, v := range c.Extra {
			if r.fields[k] {
				extra[k] = v
			}
		}
		c.Extra = extra
	}
	return c
}

// value returns the context as the map filled into the template.
func (c Context) value() map[string]any {
	cv := c.ClusterVersion
	if cv.Major == "" {
		cv = DefaultClusterVersion
	}
	m := map[string]any{
		"name":           c.Name,
		"appName":        c.AppName,
		"namespace":      c.Namespace,
		"cluster":        c.Cluster,
		"appRevision":    c.AppRevision,
		"appRevisionNum": c.AppRevisionNum,
		"revision":       c.Revision,
		"appLabels":      stringMap(c.AppLabels),
		"appAnnotations": stringMap(c.AppAnnotations),
		"workflowName":   c.WorkflowName,
		"publishVersion": c.PublishVersion,
		"replicaKey":     c.ReplicaKey,
		"clusterVersion": map[string]any{
			"major": cv.Major, "minor": cv.Minor, "gitVersion": cv.GitVersion, "platform": cv.Platform,
		},
	}
	if c.Output != nil {
		m["output"] = c.Output
	}
	if c.Outputs != nil {
		m["outputs"] = c.Outputs
	}
	if c.Components != nil {
		m["components"] = c.Components
	}
	for k, v := range c.Extra {
		if _, set := m[k]; !set {
			m[k] = v
		}
	}
	return m
}

func stringMap(in map[string]string) map[string]any {
	out := make(map[string]any, len(in))
	for k, v := range in {
		out[k] = v
	}
	return out
}
