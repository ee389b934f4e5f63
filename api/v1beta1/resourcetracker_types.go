package v1beta1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ResourceTracker records every object an Application revision dispatched, before it is applied.
// Garbage collection deletes only what a tracker records and the current revision no longer wants.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,shortName=rt,categories=oam
// +kubebuilder:printcolumn:name="APP",type=string,JSONPath=`.metadata.labels.app\.oam\.dev/name`
// +kubebuilder:printcolumn:name="REVISION",type=integer,JSONPath=`.spec.applicationRevision`
// +kubebuilder:printcolumn:name="AGE",type=date,JSONPath=`.metadata.creationTimestamp`
type ResourceTracker struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec ResourceTrackerSpec `json:"spec,omitempty"`
}

// ResourceTrackerSpec lists tracked objects.
type ResourceTrackerSpec struct {
	// ApplicationRevision is the revision number this tracker belongs to.
	// +optional
	ApplicationRevision int64 `json:"applicationRevision,omitempty"`
	// ManagedResources are the objects the revision dispatched.
	// +optional
	ManagedResources []ManagedResource `json:"managedResources,omitempty"`
}

// ManagedResource is one tracked object.
type ManagedResource struct {
	// +optional
	Cluster    string `json:"cluster,omitempty"`
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	// +optional
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	// +optional
	Component string `json:"component,omitempty"`
	// +optional
	Trait string `json:"trait,omitempty"`
	// Collect is when the object is collected, from the garbage-collect policy when it was
	// recorded: onAppDelete or never; empty means onAppUpdate.
	// +optional
	Collect string `json:"collect,omitempty"`
	// Orphan leaves the object on its cluster when it is collected.
	// +optional
	Orphan bool `json:"orphan,omitempty"`
	// Shared marks an object shared with other Applications (shared-resource policy): when
	// this app lets go of it, ownership passes to the next sharer instead of deleting it.
	// +optional
	Shared bool `json:"shared,omitempty"`
}

// +kubebuilder:object:root=true

// ResourceTrackerList is a list of ResourceTrackers.
type ResourceTrackerList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ResourceTracker `json:"items"`
}

func init() {
	SchemeBuilder.Register(&ResourceTracker{}, &ResourceTrackerList{})
}
