package v1beta1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// Schematic holds the template of a definition.
type Schematic struct {
	// CUE is a CUE template.
	// +optional
	CUE *CUESchematic `json:"cue,omitempty"`
	// Terraform is KubeVela's Terraform schematic. Accepted so that KubeVela definition files
	// load; Ferry renders only CUE, so an Application using such a definition is refused with
	// that reason.
	// +optional
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Schemaless
	Terraform *runtime.RawExtension `json:"terraform,omitempty"`
	// Kube is KubeVela's older Kubernetes-template schematic; accepted and refused on use as
	// Terraform is.
	// +optional
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Schemaless
	Kube *runtime.RawExtension `json:"kube,omitempty"`
}

// DefinitionReference names the CRD a KubeVela definition stands for. Accepted for KubeVela
// compatibility and ignored; planning warns when set.
type DefinitionReference struct {
	Name string `json:"name"`
	// +optional
	Version string `json:"version,omitempty"`
}

// CUESchematic is a CUE template using the parameter/output/outputs/patch conventions.
type CUESchematic struct {
	// Template is the CUE source.
	// +kubebuilder:validation:MinLength=1
	Template string `json:"template"`
}

// StatusTemplates are CUE snippets evaluated against live objects.
type StatusTemplates struct {
	// CustomStatus sets `message` for display.
	// +optional
	CustomStatus string `json:"customStatus,omitempty"`
	// HealthPolicy sets `isHealth: bool`.
	// +optional
	HealthPolicy string `json:"healthPolicy,omitempty"`
	// Details sets key/value pairs for display.
	// +optional
	Details string `json:"details,omitempty"`
}

// WorkloadTypeDescriptor names the kind of object a component renders.
type WorkloadTypeDescriptor struct {
	// Type is the workload resource, e.g. deployments.apps, or "autodetects.core.oam.dev".
	// +optional
	Type string `json:"type,omitempty"`
	// Definition is the workload's apiVersion and kind.
	// +optional
	Definition WorkloadGVK `json:"definition,omitempty"`
}

// WorkloadGVK is an apiVersion and kind.
type WorkloadGVK struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
}

// DefinitionStatus is what the controller observed about a definition.
type DefinitionStatus struct {
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// ComponentDefinition renders a component type.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=comp;compdef,categories=oam
// +kubebuilder:printcolumn:name="WORKLOAD-KIND",type=string,JSONPath=`.spec.workload.definition.kind`
// +kubebuilder:printcolumn:name="DESCRIPTION",type=string,JSONPath=`.metadata.annotations.definition\.oam\.dev/description`
// +kubebuilder:printcolumn:name="AGE",type=date,JSONPath=`.metadata.creationTimestamp`
type ComponentDefinition struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   ComponentDefinitionSpec `json:"spec,omitempty"`
	Status DefinitionStatus        `json:"status,omitempty"`
}

// ComponentDefinitionSpec is the template of a component type.
type ComponentDefinitionSpec struct {
	// Workload is the kind of the main object.
	// +optional
	Workload WorkloadTypeDescriptor `json:"workload,omitempty"`
	// Schematic holds the template.
	Schematic *Schematic `json:"schematic"`
	// Status evaluates health and a message on the live objects.
	// +optional
	Status *StatusTemplates `json:"status,omitempty"`
	// Extension is free-form data of KubeVela definitions. Accepted and ignored; planning
	// warns when set.
	// +optional
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Schemaless
	Extension *runtime.RawExtension `json:"extension,omitempty"`
}

// +kubebuilder:object:root=true

// ComponentDefinitionList is a list of ComponentDefinitions.
type ComponentDefinitionList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ComponentDefinition `json:"items"`
}

// TraitDefinition renders a trait type.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=trait;traitdef,categories=oam
// +kubebuilder:printcolumn:name="APPLIES-TO",type=string,JSONPath=`.spec.appliesToWorkloads`
// +kubebuilder:printcolumn:name="DESCRIPTION",type=string,JSONPath=`.metadata.annotations.definition\.oam\.dev/description`
// +kubebuilder:printcolumn:name="AGE",type=date,JSONPath=`.metadata.creationTimestamp`
type TraitDefinition struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   TraitDefinitionSpec `json:"spec,omitempty"`
	Status DefinitionStatus    `json:"status,omitempty"`
}

// TraitDefinitionSpec is the template of a trait type.
type TraitDefinitionSpec struct {
	// AppliesToWorkloads lists the workload types or component types the trait fits; "*" for all.
	// +optional
	AppliesToWorkloads []string `json:"appliesToWorkloads,omitempty"`
	// ConflictsWith lists trait types that cannot be attached together with this one.
	// +optional
	ConflictsWith []string `json:"conflictsWith,omitempty"`
	// PodDisruptive says changing the trait restarts pods.
	// +optional
	PodDisruptive bool `json:"podDisruptive,omitempty"`
	// WorkloadRefPath is where the trait object references its workload. Accepted for
	// KubeVela compatibility and ignored: Ferry patches workloads through `patch`; planning
	// warns when it is set.
	// +optional
	WorkloadRefPath string `json:"workloadRefPath,omitempty"`
	// RevisionEnabled makes the trait see component revisions. Accepted for KubeVela
	// compatibility and ignored (Ferry keeps no component revisions); planning warns when set.
	// +optional
	RevisionEnabled bool `json:"revisionEnabled,omitempty"`
	// ManageWorkload says the trait manages the workload itself. Accepted for KubeVela
	// compatibility and ignored; planning warns when set.
	// +optional
	ManageWorkload bool `json:"manageWorkload,omitempty"`
	// ControlPlaneOnly keeps the trait's objects on the hub. Accepted for KubeVela
	// compatibility and ignored: a trait's objects go where its component goes; planning warns
	// when set.
	// +optional
	ControlPlaneOnly bool `json:"controlPlaneOnly,omitempty"`
	// Stage orders the trait's objects relative to the workload.
	// +optional
	// +kubebuilder:validation:Enum=PreDispatch;DefaultDispatch;PostDispatch
	Stage string `json:"stage,omitempty"`
	// Schematic holds the template.
	Schematic *Schematic `json:"schematic"`
	// Status evaluates health and a message on the live objects.
	// +optional
	Status *StatusTemplates `json:"status,omitempty"`
	// DefinitionRef names the CRD the definition stands for (KubeVela). Accepted and ignored;
	// planning warns when set.
	// +optional
	DefinitionRef *DefinitionReference `json:"definitionRef,omitempty"`
	// Extension is free-form data of KubeVela definitions. Accepted and ignored; planning
	// warns when set.
	// +optional
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Schemaless
	Extension *runtime.RawExtension `json:"extension,omitempty"`
}

// +kubebuilder:object:root=true

// TraitDefinitionList is a list of TraitDefinitions.
type TraitDefinitionList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []TraitDefinition `json:"items"`
}

// PolicyDefinition declares a policy type and its parameters.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=def-policy,categories=oam
// +kubebuilder:printcolumn:name="DESCRIPTION",type=string,JSONPath=`.metadata.annotations.definition\.oam\.dev/description`
// +kubebuilder:printcolumn:name="AGE",type=date,JSONPath=`.metadata.creationTimestamp`
type PolicyDefinition struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   PolicyDefinitionSpec `json:"spec,omitempty"`
	Status DefinitionStatus     `json:"status,omitempty"`
}

// PolicyDefinitionSpec is the template of a policy type.
type PolicyDefinitionSpec struct {
	// Schematic holds the template.
	Schematic *Schematic `json:"schematic"`
	// ManageHealthCheck says the policy reports health itself. Accepted for KubeVela
	// compatibility and ignored; planning warns when set.
	// +optional
	ManageHealthCheck bool `json:"manageHealthCheck,omitempty"`
	// DefinitionRef names the CRD the definition stands for (KubeVela). Accepted and ignored;
	// planning warns when set.
	// +optional
	DefinitionRef *DefinitionReference `json:"definitionRef,omitempty"`
}

// +kubebuilder:object:root=true

// PolicyDefinitionList is a list of PolicyDefinitions.
type PolicyDefinitionList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []PolicyDefinition `json:"items"`
}

// WorkflowStepDefinition declares a workflow step type.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=workflowstep,categories=oam
// +kubebuilder:printcolumn:name="DESCRIPTION",type=string,JSONPath=`.metadata.annotations.definition\.oam\.dev/description`
// +kubebuilder:printcolumn:name="AGE",type=date,JSONPath=`.metadata.creationTimestamp`
type WorkflowStepDefinition struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   WorkflowStepDefinitionSpec `json:"spec,omitempty"`
	Status DefinitionStatus           `json:"status,omitempty"`
}

// WorkflowStepDefinitionSpec is the template of a step type.
type WorkflowStepDefinitionSpec struct {
	// Schematic holds the template.
	Schematic *Schematic `json:"schematic"`
	// DefinitionRef names the CRD the definition stands for (KubeVela). Accepted and ignored;
	// planning warns when set.
	// +optional
	DefinitionRef *DefinitionReference `json:"definitionRef,omitempty"`
}

// +kubebuilder:object:root=true

// WorkflowStepDefinitionList is a list of WorkflowStepDefinitions.
type WorkflowStepDefinitionList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []WorkflowStepDefinition `json:"items"`
}

// AnnotationDefinitionDescription is the annotation holding a definition's description.
const AnnotationDefinitionDescription = "definition.oam.dev/description"

func init() {
	SchemeBuilder.Register(
		&ComponentDefinition{}, &ComponentDefinitionList{},
		&TraitDefinition{}, &TraitDefinitionList{},
		&PolicyDefinition{}, &PolicyDefinitionList{},
		&WorkflowStepDefinition{}, &WorkflowStepDefinitionList{},
	)
}
