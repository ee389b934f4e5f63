package main

import (
	"fmt"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/definition"
)

type defGetOptions struct {
	definitions []string
	kind        string
	output      string
}

func newDefGetCmd(s streams) *cobra.Command {
	o := &defGetOptions{}
	cmd := &cobra.Command{
		Use:     "get NAME [-o yaml]",
		Short:   "Print a definition as the CR kubectl apply would take",
		Example: "  ferry def get webservice -o yaml | kubectl apply -f -",
		Args:    exactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			return runDefGet(s, o, args[0])
		},
	}
	cmd.Flags().StringArrayVarP(&o.definitions, "definitions", "d", nil, "folder or file of extra definitions (repeatable)")
	cmd.Flags().StringVarP(&o.kind, "type", "t", "", "kind of the definition when a name is used by several kinds")
	cmd.Flags().StringVarP(&o.output, "output", "o", "yaml", "output format: yaml")
	return cmd
}

func runDefGet(s streams, o *defGetOptions, name string) error {
	if o.output != "yaml" {
		return usageError{fmt.Errorf("unknown output format %q: use yaml", o.output)}
	}
	reg, err := loadDefinitions(o.definitions)
	if err != nil {
		return err
	}
	def, err := findDefinition(reg, o.kind, name)
	if err != nil {
		return err
	}
	data, err := yaml.Marshal(definitionCR(def))
	if err != nil {
		return err
	}
	_, err = s.out.Write(data)
	return err
}

// definitionCR builds the CR of a definition.
func definitionCR(d *definition.Definition) any {
	annotations := map[string]string{}
	for k, v := range d.Annotations {
		annotations[k] = v
	}
	if d.Description != "" {
		annotations[v1beta1.AnnotationDefinitionDescription] = d.Description
	}
	meta := metav1.ObjectMeta{Name: d.Name, Labels: d.Labels, Annotations: annotations}
	schematic := &v1beta1.Schematic{CUE: &v1beta1.CUESchematic{Template: d.TemplateBody()}}
	var status *v1beta1.StatusTemplates
	if d.Status.HealthPolicy != "" || d.Status.CustomStatus != "" || d.Status.Details != "" {
		status = &v1beta1.StatusTemplates{HealthPolicy: d.Status.HealthPolicy, CustomStatus: d.Status.CustomStatus, Details: d.Status.Details}
	}
	tm := func(kind string) metav1.TypeMeta {
		return metav1.TypeMeta{APIVersion: v1beta1.GroupVersion.String(), Kind: kind}
	}
	switch d.Kind {
	case definition.KindComponent:
		return &v1beta1.ComponentDefinition{TypeMeta: tm(v1beta1.ComponentDefinitionKind), ObjectMeta: meta, Spec: v1beta1.ComponentDefinitionSpec{
			Workload:  v1beta1.WorkloadTypeDescriptor{Type: d.Workload.Type, Definition: v1beta1.WorkloadGVK{APIVersion: d.Workload.APIVersion, Kind: d.Workload.Kind}},
			Schematic: schematic, Status: status}}
	case definition.KindTrait:
		return &v1beta1.TraitDefinition{TypeMeta: tm(v1beta1.TraitDefinitionKind), ObjectMeta: meta, Spec: v1beta1.TraitDefinitionSpec{
			AppliesToWorkloads: d.AppliesToWorkloads, ConflictsWith: d.ConflictsWith, PodDisruptive: d.PodDisruptive, Stage: d.Stage,
			Schematic: schematic, Status: status}}
	case definition.KindPolicy:
		return &v1beta1.PolicyDefinition{TypeMeta: tm(v1beta1.PolicyDefinitionKind), ObjectMeta: meta, Spec: v1beta1.PolicyDefinitionSpec{Schematic: schematic}}
	default:
		return &v1beta1.WorkflowStepDefinition{TypeMeta: tm(v1beta1.WorkflowStepDefinitionKind), ObjectMeta: meta, Spec: v1beta1.WorkflowStepDefinitionSpec{Schematic: schematic}}
	}
}
