// Package definition loads OAM definitions — component, trait, policy and workflow-step types —
// and resolves a type name to its definition.
//
// Definitions come from the embedded built-in library (the repository's definitions/ folder),
// from extra directories holding CUE definition files or definition CR YAML, and (with the
// controller) from the cluster. A definition added later overrides one of the same kind and
// name, so a platform team's own webservice replaces the built-in one.
//
// A CUE definition file has the form KubeVela users write:
//
//	webservice: {
//		type: "component"
//		description: "..."
//		attributes: {workload: definition: {apiVersion: "apps/v1", kind: "Deployment"}}
//	}
//	template: {
//		output: {...}
//		parameter: {...}
//	}
//
// The template keeps its line and column positions from the file, so CUE errors point into it.
// The package does not render; pkg/cue does.
package definition
