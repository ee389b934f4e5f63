package addon

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/Masterminds/semver/v3"
	yaml "go.yaml.in/yaml/v4"
)

// MetadataFile is the file that names and versions an addon.
const MetadataFile = "metadata.yaml"

// Metadata is an addon's metadata.yaml: KubeVela's fields, plus Ferry's `system.ferry` and
// `artifacts`.
type Metadata struct {
	Name        string            `json:"name"`
	Version     string            `json:"version"`
	Description string            `json:"description,omitempty"`
	Icon        string            `json:"icon,omitempty"`
	URL         string            `json:"url,omitempty"`
	Tags        []string          `json:"tags,omitempty"`
	DeployTo    DeployTo          `json:"deployTo"`
	NeedNS      []string          `json:"needNamespace,omitempty"`
	Invisible   bool              `json:"invisible,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
	// Dependencies are other addons this one needs, each with a semver constraint.
	Dependencies []Dependency `json:"dependencies,omitempty"`
	// System are constraints on the hub's versions.
	System System `json:"system"`
	// Artifacts are upstream release files the addon installs, fetched and verified at enable.
	Artifacts []Artifact `json:"artifacts,omitempty"`
}

// DeployTo says where the addon's Application delivers: the hub (control plane) unless
// DisableControlPlane, and the managed clusters when RuntimeCluster.
type DeployTo struct {
	DisableControlPlane bool `json:"disableControlPlane,omitempty"`
	RuntimeCluster      bool `json:"runtimeCluster,omitempty"`
	// Namespace is where the addon's components go on each cluster (Ferry's field; by default
	// the system namespace).
	Namespace string `json:"namespace,omitempty"`
}

// Hub reports whether the addon installs on the hub.
func (d DeployTo) Hub() bool { return !d.DisableControlPlane }

// Dependency is another addon, with a semver constraint on its version ("" is any).
type Dependency struct {
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`

	constraint *semver.Constraints
}

// System are semver constraints on the hub's Kubernetes and Ferry versions. `vela` (KubeVela's
// version) is accepted and ignored.
type System struct {
	Kubernetes string `json:"kubernetes,omitempty"`
	Ferry      string `json:"ferry,omitempty"`
	Vela       string `json:"vela,omitempty"`
}

// Artifact is an upstream release file: a YAML stream, or a .zip/.tar.gz archive whose Paths
// (globs) hold YAML streams. Its objects become a component of the addon's Application.
type Artifact struct {
	Name   string   `json:"name"`
	URL    string   `json:"url"`
	SHA256 string   `json:"sha256"`
	Paths  []string `json:"paths,omitempty"`
}

var nameRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// problems collects the problems of one file, each with its line and column.
type problems struct {
	file string
	errs []error
}

func (p *problems) at(n *yaml.Node, format string, args ...any) {
	p.errs = append(p.errs, fmt.Errorf("%s:%d:%d: %s", p.file, n.Line, n.Column, fmt.Sprintf(format, args...)))
}

func (p *problems) err() error { return errors.Join(p.errs...) }

// ParseMetadata reads metadata.yaml strictly: every unknown field, wrong type, bad name, bad
// semver version or constraint is reported with its file:line:column, all at once.
func ParseMetadata(file string, data []byte) (*Metadata, error) {
	p := &problems{file: file}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: empty; it needs at least name and version", file)
		}
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s:%d:%d: want a mapping with name and version", file, root.Line, root.Column)
	}
	m := &Metadata{}
	fields := map[string]func(*yaml.Node){
		"name":          func(n *yaml.Node) { m.Name = p.str(n, "name") },
		"version":       func(n *yaml.Node) { m.Version = p.str(n, "version") },
		"description":   func(n *yaml.Node) { m.Description = p.str(n, "description") },
		"icon":          func(n *yaml.Node) { m.Icon = p.str(n, "icon") },
		"url":           func(n *yaml.Node) { m.URL = p.str(n, "url") },
		"tags":          func(n *yaml.Node) { m.Tags = p.strings(n, "tags") },
		"needNamespace": func(n *yaml.Node) { m.NeedNS = p.strings(n, "needNamespace") },
		"invisible":     func(n *yaml.Node) { m.Invisible = p.boolean(n, "invisible") },
		"annotations":   func(n *yaml.Node) { m.Annotations = p.stringMap(n, "annotations") },
		"uxPlugins":     func(*yaml.Node) {}, // VelaUX plugins: nothing for Ferry to do
		"deployTo": func(n *yaml.Node) {
			p.mapping(n, "deployTo", map[string]func(*yaml.Node){
				"disableControlPlane": func(v *yaml.Node) { m.DeployTo.DisableControlPlane = p.boolean(v, "deployTo.disableControlPlane") },
				"runtimeCluster": func(v *yaml.Node) {
					m.DeployTo.RuntimeCluster = m.DeployTo.RuntimeCluster || p.boolean(v, "deployTo.runtimeCluster")
				},
				"runtime_cluster": func(v *yaml.Node) {
					m.DeployTo.RuntimeCluster = m.DeployTo.RuntimeCluster || p.boolean(v, "deployTo.runtime_cluster")
				},
				"control_plane": func(v *yaml.Node) { m.DeployTo.DisableControlPlane = !p.boolean(v, "deployTo.control_plane") },
				"namespace": func(v *yaml.Node) {
					m.DeployTo.Namespace = p.str(v, "deployTo.namespace")
					if m.DeployTo.Namespace != "" && !nameRE.MatchString(m.DeployTo.Namespace) {
						p.at(v, "deployTo.namespace %q is not a namespace name", m.DeployTo.Namespace)
					}
				},
			})
		},
		"system": func(n *yaml.Node) {
			p.mapping(n, "system", map[string]func(*yaml.Node){
				"kubernetes": func(v *yaml.Node) { m.System.Kubernetes = p.constraint(v, "system.kubernetes") },
				"ferry":      func(v *yaml.Node) { m.System.Ferry = p.constraint(v, "system.ferry") },
				"vela":       func(v *yaml.Node) { m.System.Vela = p.str(v, "system.vela") },
			})
		},
		"dependencies": func(n *yaml.Node) { m.Dependencies = p.dependencies(n) },
		"artifacts":    func(n *yaml.Node) { m.Artifacts = p.artifacts(n) },
	}
	p.mapping(root, "", fields)
	if m.Name == "" {
		p.at(root, "name is required")
	} else if !nameRE.MatchString(m.Name) || len(m.Name) > 57 {
		p.at(valueNode(root, "name"), "name %q must be lowercase letters, digits and '-', at most 57 characters (it names the addon-%s Application)", m.Name, m.Name)
	}
	if m.Version == "" {
		p.at(root, "version is required (semver, e.g. 1.0.0)")
	} else if _, err := semver.StrictNewVersion(strings.TrimPrefix(m.Version, "v")); err != nil {
		p.at(valueNode(root, "version"), "version %q is not semver (e.g. 1.2.0): %v", m.Version, err)
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	return m, nil
}

// valueNode returns the value of key in mapping n, or n itself.
func valueNode(n *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return n
}

func (p *problems) mapping(n *yaml.Node, where string, fields map[string]func(*yaml.Node)) {
	if n.Kind != yaml.MappingNode {
		p.at(n, "%s must be a mapping", where)
		return
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		full := k.Value
		if where != "" {
			full = where + "." + k.Value
		}
		if seen[k.Value] {
			p.at(k, "%s is given twice", full)
			continue
		}
		seen[k.Value] = true
		f, ok := fields[k.Value]
		if !ok {
			p.at(k, "unknown field %s (known: %s)", full, strings.Join(sortedKeys(fields), ", "))
			continue
		}
		if v.Tag == "!!null" {
			continue
		}
		f(v)
	}
}

func (p *problems) str(n *yaml.Node, field string) string {
	if n.Kind != yaml.ScalarNode {
		p.at(n, "%s must be a string", field)
		return ""
	}
	return n.Value
}

func (p *problems) boolean(n *yaml.Node, field string) bool {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
		p.at(n, "%s must be true or false, not %q", field, n.Value)
		return false
	}
	return n.Value == "true"
}

func (p *problems) strings(n *yaml.Node, field string) []string {
	if n.Kind != yaml.SequenceNode {
		p.at(n, "%s must be a list of strings", field)
		return nil
	}
	var out []string
	for i, e := range n.Content {
		out = append(out, p.str(e, fmt.Sprintf("%s[%d]", field, i)))
	}
	return out
}

func (p *problems) stringMap(n *yaml.Node, field string) map[string]string {
	if n.Kind != yaml.MappingNode {
		p.at(n, "%s must be a mapping of strings", field)
		return nil
	}
	out := map[string]string{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		out[n.Content[i].Value] = p.str(n.Content[i+1], field+"."+n.Content[i].Value)
	}
	return out
}

func (p *problems) constraint(n *yaml.Node, field string) string {
	s := p.str(n, field)
	if s == "" {
		return s
	}
	if _, err := semver.NewConstraint(s); err != nil {
		p.at(n, "%s %q is not a semver constraint (e.g. \">=1.2.0 <2\"): %v", field, s, err)
	}
	return s
}

func (p *problems) dependencies(n *yaml.Node) []Dependency {
	if n.Kind != yaml.SequenceNode {
		p.at(n, "dependencies must be a list of {name, version}")
		return nil
	}
	var out []Dependency
	names := map[string]bool{}
	for i, e := range n.Content {
		where := fmt.Sprintf("dependencies[%d]", i)
		var d Dependency
		p.mapping(e, where, map[string]func(*yaml.Node){
			"name":    func(v *yaml.Node) { d.Name = p.str(v, where+".name") },
			"version": func(v *yaml.Node) { d.Version = p.constraint(v, where+".version") },
		})
		if e.Kind != yaml.MappingNode {
			continue
		}
		switch {
		case d.Name == "":
			p.at(e, "%s.name is required", where)
		case names[d.Name]:
			p.at(e, "%s: %s is listed twice", where, d.Name)
		}
		names[d.Name] = true
		if d.Version != "" {
			d.constraint, _ = semver.NewConstraint(d.Version)
		}
		out = append(out, d)
	}
	return out
}

var sha256RE = regexp.MustCompile(`^[0-9a-f]{64}$`)

func (p *problems) artifacts(n *yaml.Node) []Artifact {
	if n.Kind != yaml.SequenceNode {
		p.at(n, "artifacts must be a list of {name, url, sha256, paths}")
		return nil
	}
	var out []Artifact
	names := map[string]bool{}
	for i, e := range n.Content {
		where := fmt.Sprintf("artifacts[%d]", i)
		var a Artifact
		p.mapping(e, where, map[string]func(*yaml.Node){
			"name":   func(v *yaml.Node) { a.Name = p.str(v, where+".name") },
			"url":    func(v *yaml.Node) { a.URL = p.str(v, where+".url") },
			"sha256": func(v *yaml.Node) { a.SHA256 = p.str(v, where+".sha256") },
			"paths":  func(v *yaml.Node) { a.Paths = p.strings(v, where+".paths") },
		})
		if e.Kind != yaml.MappingNode {
			continue
		}
		switch {
		case !nameRE.MatchString(a.Name):
			p.at(e, "%s.name %q must be lowercase letters, digits and '-'", where, a.Name)
		case names[a.Name]:
			p.at(e, "%s: name %s is used twice", where, a.Name)
		}
		names[a.Name] = true
		if !strings.HasPrefix(a.URL, "https://") && !strings.HasPrefix(a.URL, "http://") {
			p.at(e, "%s.url %q must be an http(s) URL", where, a.URL)
		}
		if !sha256RE.MatchString(a.SHA256) {
			p.at(e, "%s.sha256 must be the artifact's sha256 digest (64 lowercase hex digits)", where)
		}
		out = append(out, a)
	}
	return out
}
