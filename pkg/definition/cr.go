package definition

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ferryhq/ferry/api/v1beta1"
)

// CR returns the definition as the custom resource a cluster stores, without a namespace.
func (d *Definition) CR() client.Object {
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
	case KindComponent:
		return &v1beta1.ComponentDefinition{TypeMeta: tm(v1beta1.ComponentDefinitionKind), ObjectMeta: meta, Spec: v1beta1.ComponentDefinitionSpec{
			Workload:  v1beta1.WorkloadTypeDescriptor{Type: d.Workload.Type, Definition: v1beta1.WorkloadGVK{APIVersion: d.Workload.APIVersion, Kind: d.Workload.Kind}},
			Schematic: schematic, Status: status}}
	case KindTrait:
		return &v1beta1.TraitDefinition{TypeMeta: tm(v1beta1.TraitDefinitionKind), ObjectMeta: meta, Spec: v1beta1.TraitDefinitionSpec{
			AppliesToWorkloads: d.AppliesToWorkloads, ConflictsWith: d.ConflictsWith, PodDisruptive: d.PodDisruptive, Stage: d.Stage,
			Schematic: schematic, Status: status}}
	case KindPolicy:
		return &v1beta1.PolicyDefinition{TypeMeta: tm(v1beta1.PolicyDefinitionKind), ObjectMeta: meta, Spec: v1beta1.PolicyDefinitionSpec{Schematic: schematic}}
	default:
		return &v1beta1.WorkflowStepDefinition{TypeMeta: tm(v1beta1.WorkflowStepDefinitionKind), ObjectMeta: meta, Spec: v1beta1.WorkflowStepDefinitionSpec{Schematic: schematic}}
	}
}
