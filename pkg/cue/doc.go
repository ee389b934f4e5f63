// Package cue compiles and evaluates definition templates written in CUE.
//
// A template follows the OAM conventions KubeVela users already write: `parameter` is the schema
// of the properties, `context` carries what the engine knows (component name, app name, target
// cluster and namespace, the rendered workload for traits, ...), a component template emits
// `output` and `outputs`, a trait template emits `outputs`, `patch` and `patchOutputs`.
//
// Templates are compiled once and cached by content hash in an Engine; rendering the same
// template again only fills `parameter` and `context` into the compiled value. Patches are
// merged in Go following the `// +patchKey=` and `// +patchStrategy=` comments read from the
// template's syntax tree when it is compiled. Errors keep their CUE source positions and are
// split into parameter errors (what the user wrote) and template errors (what the definition
// author wrote).
//
// Every evaluation runs within a Budget of time and memory, reported as a *BudgetError naming
// what was evaluated. CUE cannot interrupt an evaluation, so in this process a runaway one is
// abandoned on its runtime; an Engine with a Sandbox (pkg/cue/sandbox) evaluates in other
// processes instead, which are ended past the budget. Requests and responses cross to them in
// the binary format of wire.go.
//
// The package knows nothing about clusters or Applications.
package cue
