package definition

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	ferrycue "github.com/ferryhq/ferry/pkg/cue"
)

// Kind is the kind of a definition, as written in a CUE definition file's `type`.
type Kind string

// Definition kinds.
const (
	KindComponent    Kind = "component"
	KindTrait        Kind = "trait"
	KindPolicy       Kind = "policy"
	KindWorkflowStep Kind = "workflow-step"
)

// Kinds lists every kind in display order.
var Kinds = []Kind{KindComponent, KindTrait, KindPolicy, KindWorkflowStep}

// ParseKind checks a kind name.
func ParseKind(s string) (Kind, error) {
	for _, k := range Kinds {
		if string(k) == s {
			return k, nil
		}
	}
	return "", fmt.Errorf("unknown definition type %q: use one of component, trait, policy, workflow-step", s)
}

// Definition is one loaded definition.
type Definition struct {
	// Name is the type name users write, e.g. webservice.
	Name string
	// Kind is component, trait, policy or workflow-step.
	Kind Kind
	// Description is a one-line summary.
	Description string
	// Labels and Annotations are copied to the definition CR.
	Labels      map[string]string
	Annotations map[string]string
	// Template is the CUE template source. Its positions match Filename.
	Template string
	// Filename is where the definition came from, and Line where its template starts there.
	Filename string
	Line     int
	// Builtin is true for definitions of Ferry's embedded library.
	Builtin bool
	// Workload is the apiVersion/kind of a component's main object and its resource type.
	Workload WorkloadType
	Status   ferrycue.StatusTemplates
	// Trait metadata.
	AppliesToWorkloads []string
	ConflictsWith      []string
	PodDisruptive      bool
	Stage              string
	// Ignored names the fields of the definition's CR that KubeVela defines and Ferry accepts
	// without acting on them (e.g. workloadRefPath); planning warns when they are set.
	Ignored []string
	// Unsupported says why Ferry cannot render the definition (a KubeVela Terraform or kube
	// schematic instead of CUE); empty for every definition Ferry renders. Such a definition
	// loads, so a KubeVela definition file loads whole, and an Application that uses it is
	// refused with this reason.
	Unsupported string
	// LoadWarnings are what loading its file let pass, e.g. a duplicate YAML key whose last
	// value was kept, as KubeVela's loader does.
	LoadWarnings []string

	sourceOnce sync.Once
	source     ferrycue.Source
	// legacy are warnings about legacy CUE the template uses and Ferry reads anyway.
	legacy []string
}

// WorkloadType names the kind of object a component renders.
type WorkloadType struct {
	APIVersion string `json:"apiVersion,omitempty"`
	Kind       string `json:"kind,omitempty"`
	// Type is the resource type, e.g. deployments.apps.
	Type string `json:"type,omitempty"`
}

// DisplayName names the definition in errors, e.g. `component "webservice"`.
func (d *Definition) DisplayName() string {
	return fmt.Sprintf("%s %q", d.Kind, d.Name)
}

// Source is the template as pkg/cue compiles it, with the packages of its `vela/...` imports
// (the action library and KubeVela's provider packages). A template whose imports cannot be
// read is returned without them: compiling it reports the error with its position.
// It is worked out once per definition: renders call it on their hot path.
func (d *Definition) Source() ferrycue.Source {
	d.sourceOnce.Do(func() {
		text, legacy := rewriteListAddition(d.Filename, d.Template)
		d.source = ferrycue.Source{Name: d.DisplayName(), Filename: d.Filename, Text: text}
		d.legacy = legacy
		if pkgs, err := libraryPackages(d.Filename, text); err == nil {
			d.source.Packages = pkgs
		}
		d.source.Key = d.source.Hash()
	})
	return d.source
}

// Warnings are what loading the definition let pass (LoadWarnings) and the legacy CUE its
// template uses that Ferry reads anyway, e.g. list addition.
func (d *Definition) Warnings() []string {
	d.Source()
	return append(slices.Clone(d.LoadWarnings), d.legacy...)
}

// TemplateBody is the template as a CR's spec.schematic.cue.template holds it: without the
// padding that keeps file positions, and dedented.
func (d *Definition) TemplateBody() string {
	lines := strings.Split(d.Template, "\n")
	for len(lines) > 0 && strings.TrimSpace(lines[0]) == "" {
		lines = lines[1:]
	}
	for len(lines) > 0 && strings.TrimSpace(lines[len(lines)-1]) == "" {
		lines = lines[:len(lines)-1]
	}
	indent := -1
	for i, l := range lines {
		if strings.TrimSpace(l) == "" {
			lines[i] = ""
			continue
		}
		// The padding before an import or the first body line is spaces; the body is indented
		// with tabs.
		trimmed := strings.TrimLeft(l, " ")
		if strings.HasPrefix(trimmed, "import") || i == 0 {
			lines[i] = trimmed
			continue
		}
		n := len(l) - len(strings.TrimLeft(l, "\t"))
		if indent < 0 || n < indent {
			indent = n
		}
	}
	for i, l := range lines {
		if indent > 0 && strings.HasPrefix(l, strings.Repeat("\t", indent)) {
			lines[i] = l[indent:]
		}
	}
	return strings.Join(lines, "\n") + "\n"
}
