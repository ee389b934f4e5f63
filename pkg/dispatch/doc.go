// Package dispatch hands rendered manifests to targets. For a managed cluster it builds the Open
// Cluster Management ManifestWorks the cluster's work agent pulls — deterministically named,
// labelled with the Application, split to stay under the 500 KB limit, with update strategies
// and delete options from the Application's policies — and the status feedback rules that let
// the hub evaluate each definition's healthPolicy without reaching into the cluster.
//
// It decides nothing about what to deploy: that is the Plan's.
package dispatch
