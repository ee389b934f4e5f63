// Package v1beta1 holds the Go types of Ferry's API group core.oam.dev/v1beta1: the Application
// that application teams write, the four definition kinds that platform teams write
// (ComponentDefinition, TraitDefinition, PolicyDefinition, WorkflowStepDefinition), and the
// ApplicationRevision and ResourceTracker objects the controller keeps.
//
// The schema is the Open Application Model as KubeVela users already write it, so their
// Applications and definitions work on Ferry unchanged. The types hold no logic.
//
// +kubebuilder:object:generate=true
// +groupName=core.oam.dev
package v1beta1
