// Package addons embeds Ferry's built-in addons, the registry named "ferry" that every hub
// has: one directory per addon in KubeVela's addon layout (metadata.yaml, parameter.cue,
// template.cue, resources/, definitions/, README.md).
package addons

import "embed"

// FS holds the built-in addons.
//
//go:embed fluxcd kpack uptime uptime-crds
var FS embed.FS
