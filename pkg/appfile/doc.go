// Package appfile turns an Application into a Plan: which objects go to which cluster and
// namespace at which deploy step.
//
// Parse reads Application YAML and remembers where every field was written, so that errors can
// point at file:line:column. A Planner validates the Application against its definitions —
// reporting every problem at once, each naming the component, trait, policy or step and the
// field — renders each component with its traits through pkg/cue, and evaluates the topology
// and override policies of each deploy step into per-target manifests.
//
// Overrides can vary per cluster: an override policy may name `clusters` or a
// `clusterLabelSelector`, and then applies only on matching targets of a deploy step (see
// docs/overrides.md). The same code serves the controller and the offline `ferry dry-run`.
// Nothing here applies anything to a cluster.
package appfile
