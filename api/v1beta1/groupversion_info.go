package v1beta1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

// Group is the API group of every Ferry type.
const Group = "core.oam.dev"

// Version is the API version of this package.
const Version = "v1beta1"

var (
	// GroupVersion is the group version used to register these objects.
	GroupVersion = schema.GroupVersion{Group: Group, Version: Version}

	// SchemeBuilder registers the types of this package with a runtime.Scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds the types of this package to a runtime.Scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

// Kind names of the API, as they appear in YAML.
const (
	ApplicationKind            = "Application"
	ComponentDefinitionKind    = "ComponentDefinition"
	TraitDefinitionKind        = "TraitDefinition"
	PolicyDefinitionKind       = "PolicyDefinition"
	WorkflowStepDefinitionKind = "WorkflowStepDefinition"
	ApplicationRevisionKind    = "ApplicationRevision"
	ResourceTrackerKind        = "ResourceTracker"
)
