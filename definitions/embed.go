// Package definitions embeds Ferry's built-in definition library: one CUE definition file per
// component, trait, policy and workflow-step type, in a folder per kind.
package definitions

import "embed"

// FS holds the built-in definition files.
//
//go:embed components/*.cue traits/*.cue policies/*.cue workflowsteps/*.cue
var FS embed.FS
