package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/appfile"
	"github.com/ferryhq/ferry/pkg/cue"
	"github.com/ferryhq/ferry/pkg/definition"
)

// sampleComponent is what a trait is rendered on when nothing else is said.
var sampleComponent = componentSpec{Type: "webservice", Properties: map[string]any{"image": "nginx:1.27"}}

// componentSpec is a component to render a trait on.
type componentSpec struct {
	Type       string         `json:"type" yaml:"type"`
	Properties map[string]any `json:"properties,omitempty" yaml:"properties,omitempty"`
}

// traitSpec is an extra trait of a render.
type traitSpec struct {
	Type       string         `json:"type" yaml:"type"`
	Properties map[string]any `json:"properties,omitempty" yaml:"properties,omitempty"`
}

// renderCase is one render of a definition: what `ferry def render` takes from flags and what
// a case of a `ferry def test` file holds.
type renderCase struct {
	Name string `json:"name" yaml:"name"`
	// Properties are the parameters of the definition under test.
	Properties map[string]any `json:"properties,omitempty" yaml:"properties,omitempty"`
	// Component is what a trait is applied to; a webservice running nginx when empty.
	Component *componentSpec `json:"component,omitempty" yaml:"component,omitempty"`
	// Traits are further traits of the component, after the one under test.
	Traits []traitSpec `json:"traits,omitempty" yaml:"traits,omitempty"`
	// Expected are the objects the render must produce, in order.
	Expected []map[string]any `json:"expected" yaml:"expected"`
}

// renderDefinition renders a definition the way an Application using it is rendered: it builds
// a one-component Application around it and runs the planner on it, so what a platform team
// tests is what Ferry deploys.
func renderDefinition(reg *definition.Registry, def *definition.Definition, c renderCase) ([]map[string]any, error) {
	app := &v1beta1.Application{
		TypeMeta:   metav1.TypeMeta{APIVersion: v1beta1.GroupVersion.String(), Kind: v1beta1.ApplicationKind},
		ObjectMeta: metav1.ObjectMeta{Name: "sample", Namespace: "default"},
	}
	comp := sampleComponent
	if c.Component != nil {
		comp = *c.Component
	}
	var traits []traitSpec
	switch def.Kind {
	case definition.KindComponent:
		comp = componentSpec{Type: def.Name, Properties: c.Properties}
	case definition.KindTrait:
		traits = append(traits, traitSpec{Type: def.Name, Properties: c.Properties})
	case definition.KindPolicy:
		app.Spec.Policies = []v1beta1.AppPolicy{{Name: "sample", Type: def.Name, Properties: raw(c.Properties)}}
	case definition.KindWorkflowStep:
		app.Spec.Workflow = &v1beta1.Workflow{Steps: []v1beta1.WorkflowStep{{WorkflowStepBase: v1beta1.WorkflowStepBase{
			Name: "sample", Type: def.Name, Properties: raw(c.Properties)}}}}
	}
	traits = append(traits, c.Traits...)
	component := v1beta1.ApplicationComponent{Name: "sample", Type: comp.Type, Properties: raw(comp.Properties)}
	for _, t := range traits {
		component.Traits = append(component.Traits, v1beta1.ApplicationTrait{Type: t.Type, Properties: raw(t.Properties)})
	}
	app.Spec.Components = []v1beta1.ApplicationComponent{component}

	planner := appfile.NewPlanner(appfile.Offline(appfile.OfflineOptions{Definitions: reg}), appfile.Options{})
	plan, err := planner.Plan(context.Background(), appfile.FromApplication(app), appfile.PlanOptions{})
	if err != nil {
		return nil, err
	}
	objects := []map[string]any{}
	for _, it := range plan.Items() {
		objects = append(objects, it.Object)
	}
	return objects, nil
}

func raw(props map[string]any) *runtime.RawExtension {
	if props == nil {
		return nil
	}
	data, err := json.Marshal(props)
	if err != nil {
		return nil
	}
	return &runtime.RawExtension{Raw: data}
}

// parseProperties turns k=v flags into properties: dotted keys nest, values are YAML (3 is a
// number, true a bool, [a, b] a list).
func parseProperties(pairs []string) (map[string]any, error) {
	out := map[string]any{}
	for _, p := range pairs {
		key, value, ok := strings.Cut(p, "=")
		if !ok || key == "" {
			return nil, fmt.Errorf("--properties %q: want key=value", p)
		}
		v, err := decodeYAML([]byte(value))
		if err != nil || (v == nil && value != "null" && value != "~") {
			v = value
		}
		parts := strings.Split(key, ".")
		m := out
		for _, part := range parts[:len(parts)-1] {
			next, ok := m[part].(map[string]any)
			if !ok {
				next = map[string]any{}
				m[part] = next
			}
			m = next
		}
		m[parts[len(parts)-1]] = v
	}
	return out, nil
}

// decodeYAML decodes YAML into plain data with int64 integers, as templates expect.
func decodeYAML(data []byte) (any, error) {
	js, err := sigsyaml.YAMLToJSON(data)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return cue.NormalizeJSON(v), nil
}
