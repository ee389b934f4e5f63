package definition

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	yamlv3 "go.yaml.in/yaml/v4"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/ferryhq/ferry/api/v1beta1"
	ferrycue "github.com/ferryhq/ferry/pkg/cue"
)

// ParseYAML reads definition CRs (ComponentDefinition, TraitDefinition, PolicyDefinition,
// WorkflowStepDefinition) from a YAML stream. Other kinds are an error.
func ParseYAML(filename string, data []byte) ([]*Definition, error) {
	dec := yamlv3.NewDecoder(bytes.NewReader(data))
	var out []*Definition
	for {
		var node yamlv3.Node
		err := dec.Decode(&node)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", filename, err)
		}
		if len(node.Content) == 0 {
			continue
		}
		var warnings []string
		dropDuplicateKeys(filename, &node, &warnings, 0)
		doc, err := yamlv3.Marshal(&node)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", filename, err)
		}
		d, err := parseCR(filename, doc, &node)
		if err != nil {
			return nil, err
		}
		if d != nil {
			d.LoadWarnings = warnings
			out = append(out, d)
		}
	}
	return out, nil
}

func parseCR(filename string, doc []byte, node *yamlv3.Node) (*Definition, error) {
	var head struct {
		Kind string `json:"kind"`
	}
	if err := yaml.Unmarshal(doc, &head); err != nil {
		return nil, fmt.Errorf("%s:%d: %w", filename, node.Line, err)
	}
	at := fmt.Sprintf("%s:%d", filename, node.Content[0].Line)
	var (
		d   *Definition
		err error
	)
	switch head.Kind {
	case v1beta1.ComponentDefinitionKind:
		var obj v1beta1.ComponentDefinition
		if err = yaml.UnmarshalStrict(doc, &obj); err == nil {
			d, err = FromComponentDefinition(&obj)
		}
	case v1beta1.TraitDefinitionKind:
		var obj v1beta1.TraitDefinition
		if err = yaml.UnmarshalStrict(doc, &obj); err == nil {
			d, err = FromTraitDefinition(&obj)
		}
	case v1beta1.PolicyDefinitionKind:
		var obj v1beta1.PolicyDefinition
		if err = yaml.UnmarshalStrict(doc, &obj); err == nil {
			d, err = FromPolicyDefinition(&obj)
		}
	case v1beta1.WorkflowStepDefinitionKind:
		var obj v1beta1.WorkflowStepDefinition
		if err = yaml.UnmarshalStrict(doc, &obj); err == nil {
			d, err = FromWorkflowStepDefinition(&obj)
		}
	default:
		return nil, fmt.Errorf("%s: kind %q is not a definition (want ComponentDefinition, TraitDefinition, PolicyDefinition or WorkflowStepDefinition)", at, head.Kind)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", at, err)
	}
	d.Filename = filename
	d.Line = templateLine(node)
	d.Template = padToLine(d.Template, d.Line)
	return d, nil
}

// dropDuplicateKeys keeps the last of keys written twice in a mapping, as KubeVela's loader
// (and Kubernetes' non-strict decoding) does, and says so in warnings.
func dropDuplicateKeys(filename string, n *yamlv3.Node, warnings *[]string, depth int) {
	if depth > 100 {
		return
	}
	if n.Kind == yamlv3.MappingNode {
		last := map[string]int{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			last[n.Content[i].Value] = i
		}
		if len(last)*2 < len(n.Content) {
			kept := make([]*yamlv3.Node, 0, 2*len(last))
			for i := 0; i+1 < len(n.Content); i += 2 {
				key := n.Content[i]
				if j := last[key.Value]; j != i {
					*warnings = append(*warnings, fmt.Sprintf("%s:%d:%d: duplicate key %q: the one at line %d is used", filename, key.Line, key.Column, key.Value, n.Content[j].Line))
					continue
				}
				kept = append(kept, key, n.Content[i+1])
			}
			n.Content = kept
		}
	}
	for _, c := range n.Content {
		dropDuplicateKeys(filename, c, warnings, depth+1)
	}
}

// templateLine finds the line where spec.schematic.cue.template's text starts.
func templateLine(doc *yamlv3.Node) int {
	n := doc
	if n.Kind == yamlv3.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	for _, key := range []string{"spec", "schematic", "cue", "template"} {
		next := mappingValue(n, key)
		if next == nil {
			return 0
		}
		n = next
	}
	if n.Style == yamlv3.LiteralStyle || n.Style == yamlv3.FoldedStyle {
		return n.Line + 1
	}
	return n.Line
}

func mappingValue(n *yamlv3.Node, key string) *yamlv3.Node {
	if n.Kind != yamlv3.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// padToLine prefixes blank lines so that the template's first line is the given file line.
func padToLine(text string, line int) string {
	if line <= 1 {
		return text
	}
	return strings.Repeat("\n", line-1) + text
}

// template returns the CUE template of a schematic, or why Ferry cannot render it.
func template(s *v1beta1.Schematic) (tmpl, unsupported string, err error) {
	switch {
	case s != nil && s.CUE != nil && strings.TrimSpace(s.CUE.Template) != "":
		return s.CUE.Template, "", nil
	case s != nil && s.Terraform != nil:
		return "", "it has a Terraform schematic (spec.schematic.terraform); Ferry renders CUE templates only", nil
	case s != nil && s.Kube != nil:
		return "", "it has a kube schematic (spec.schematic.kube); Ferry renders CUE templates only", nil
	}
	return "", "", fmt.Errorf("spec.schematic.cue.template is required")
}

// ignoreKubeVelaFields records the KubeVela fields a definition sets that Ferry ignores.
func ignoreKubeVelaFields(d *Definition, definitionRef *v1beta1.DefinitionReference, extension *runtime.RawExtension) {
	if definitionRef != nil {
		d.Ignored = append(d.Ignored, "definitionRef")
	}
	if extension != nil {
		d.Ignored = append(d.Ignored, "extension")
	}
}

func base(kind Kind, name string, annotations, labels map[string]string) *Definition {
	return &Definition{Name: name, Kind: kind, Description: annotations[v1beta1.AnnotationDefinitionDescription],
		Labels: labels, Annotations: annotations}
}

func statusOf(s *v1beta1.StatusTemplates) ferrycue.StatusTemplates {
	if s == nil {
		return ferrycue.StatusTemplates{}
	}
	return ferrycue.StatusTemplates{HealthPolicy: s.HealthPolicy, CustomStatus: s.CustomStatus, Details: s.Details}
}

// FromComponentDefinition converts a ComponentDefinition CR.
func FromComponentDefinition(obj *v1beta1.ComponentDefinition) (*Definition, error) {
	t, unsupported, err := template(obj.Spec.Schematic)
	if err != nil {
		return nil, fmt.Errorf("ComponentDefinition %q: %w", obj.Name, err)
	}
	d := base(KindComponent, obj.Name, obj.Annotations, obj.Labels)
	d.Template, d.Unsupported = t, unsupported
	ignoreKubeVelaFields(d, nil, obj.Spec.Extension)
	d.Workload = WorkloadType{APIVersion: obj.Spec.Workload.Definition.APIVersion, Kind: obj.Spec.Workload.Definition.Kind, Type: obj.Spec.Workload.Type}
	d.Status = statusOf(obj.Spec.Status)
	return d, nil
}

// FromTraitDefinition converts a TraitDefinition CR.
func FromTraitDefinition(obj *v1beta1.TraitDefinition) (*Definition, error) {
	t, unsupported, err := template(obj.Spec.Schematic)
	if err != nil {
		return nil, fmt.Errorf("TraitDefinition %q: %w", obj.Name, err)
	}
	d := base(KindTrait, obj.Name, obj.Annotations, obj.Labels)
	d.Template, d.Unsupported = t, unsupported
	ignoreKubeVelaFields(d, obj.Spec.DefinitionRef, obj.Spec.Extension)
	d.Status = statusOf(obj.Spec.Status)
	d.AppliesToWorkloads, d.ConflictsWith = obj.Spec.AppliesToWorkloads, obj.Spec.ConflictsWith
	d.PodDisruptive, d.Stage = obj.Spec.PodDisruptive, obj.Spec.Stage
	for _, f := range []struct {
		name string
		set  bool
	}{{"workloadRefPath", obj.Spec.WorkloadRefPath != ""}, {"revisionEnabled", obj.Spec.RevisionEnabled},
		{"manageWorkload", obj.Spec.ManageWorkload}, {"controlPlaneOnly", obj.Spec.ControlPlaneOnly}} {
		if f.set {
			d.Ignored = append(d.Ignored, f.name)
		}
	}
	return d, nil
}

// FromPolicyDefinition converts a PolicyDefinition CR.
func FromPolicyDefinition(obj *v1beta1.PolicyDefinition) (*Definition, error) {
	t, unsupported, err := template(obj.Spec.Schematic)
	if err != nil {
		return nil, fmt.Errorf("PolicyDefinition %q: %w", obj.Name, err)
	}
	d := base(KindPolicy, obj.Name, obj.Annotations, obj.Labels)
	d.Template, d.Unsupported = t, unsupported
	ignoreKubeVelaFields(d, obj.Spec.DefinitionRef, nil)
	if obj.Spec.ManageHealthCheck {
		d.Ignored = append(d.Ignored, "manageHealthCheck")
	}
	return d, nil
}

// FromWorkflowStepDefinition converts a WorkflowStepDefinition CR.
func FromWorkflowStepDefinition(obj *v1beta1.WorkflowStepDefinition) (*Definition, error) {
	t, unsupported, err := template(obj.Spec.Schematic)
	if err != nil {
		return nil, fmt.Errorf("WorkflowStepDefinition %q: %w", obj.Name, err)
	}
	d := base(KindWorkflowStep, obj.Name, obj.Annotations, obj.Labels)
	d.Template, d.Unsupported = t, unsupported
	ignoreKubeVelaFields(d, obj.Spec.DefinitionRef, nil)
	return d, nil
}
