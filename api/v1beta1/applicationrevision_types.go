package v1beta1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ApplicationRevision is an immutable snapshot of an Application and the definitions it used.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:shortName=apprev,categories=oam
// +kubebuilder:printcolumn:name="REVISION",type=integer,JSONPath=`.spec.revision`
// +kubebuilder:printcolumn:name="HASH",type=string,JSONPath=`.spec.revisionHash`
// +kubebuilder:printcolumn:name="AGE",type=date,JSONPath=`.metadata.creationTimestamp`
type ApplicationRevision struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec ApplicationRevisionSpec `json:"spec,omitempty"`
}

// ApplicationRevisionSpec is the content of a revision.
type ApplicationRevisionSpec struct {
	// Revision is the revision number, starting at 1.
	// +kubebuilder:validation:Minimum=1
	Revision int64 `json:"revision"`
	// RevisionHash is the content hash of the application spec and the definitions used.
	RevisionHash string `json:"revisionHash"`
	// PublishVersion is the app.oam.dev/publishVersion annotation the revision was made for.
	// +optional
	PublishVersion string `json:"publishVersion,omitempty"`
	// Application is the snapshot of the Application spec.
	Application ApplicationSpec `json:"application"`
	// Definitions lists every definition the revision used, by content hash.
	// +optional
	Definitions []DefinitionSnapshot `json:"definitions,omitempty"`
	// Rendered is what the revision delivers, as it rendered: the objects every delivery step
	// applies, per cluster, compressed. A rollout's rollback re-delivers them as they were,
	// whatever the definitions say by then.
	// +optional
	Rendered *RenderedObjects `json:"rendered,omitempty"`
}

// RenderedObjects is a compressed list of rendered objects.
type RenderedObjects struct {
	// Encoding is how Data is written: gzip+json (a gzip-compressed JSON list of
	// {step, cluster, object}).
	// +kubebuilder:validation:Enum=gzip+json
	Encoding string `json:"encoding"`
	// Objects counts the objects in Data.
	Objects int `json:"objects"`
	// Data is the compressed list.
	Data []byte `json:"data"`
}

// DefinitionSnapshot records one definition used by a revision.
type DefinitionSnapshot struct {
	// Kind is component, trait, policy or workflow-step.
	// +kubebuilder:validation:Enum=component;trait;policy;workflow-step
	Kind string `json:"kind"`
	Name string `json:"name"`
	// Hash is the content hash of the template.
	Hash string `json:"hash"`
	// Template is the CUE template the revision rendered with.
	// +optional
	Template string `json:"template,omitempty"`
}

// +kubebuilder:object:root=true

// ApplicationRevisionList is a list of ApplicationRevisions.
type ApplicationRevisionList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ApplicationRevision `json:"items"`
}

func init() {
	SchemeBuilder.Register(&ApplicationRevision{}, &ApplicationRevisionList{})
}
