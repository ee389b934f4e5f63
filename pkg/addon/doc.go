// Package addon is Ferry's addon system: the format (KubeVela's addon layout: metadata.yaml,
// parameter.cue, template.cue or template.yaml, resources/, definitions/, README.md, plus
// Ferry's artifacts for upstream files referenced by URL and sha256), registries (a directory,
// the built-in addons/ folder, a Git repository, an HTTP index of packages), dependency
// resolution with semver constraints, and enabling, upgrading, disabling and reporting addons
// on a hub.
//
// Enabling is declarative: Manager.PlanEnable resolves, fetches, verifies, renders and checks
// everything first and writes nothing; Manager.Apply then writes, dependencies first, each
// addon's definitions, its Application addon-NAME and a record Secret addon-NAME-record in the
// system namespace. The controller delivers the Application like any other, so what an addon
// installs is tracked, health-checked and garbage-collected exactly; an addon's state is read
// from that Application, never assumed.
package addon
