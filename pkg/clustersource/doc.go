// Package clustersource is the cluster-backed half of the planner's sources
// (appfile.Sources): definitions from definition CRs, managed clusters from OCM
// ManagedClusters with their availability, each cluster's Kubernetes version, and the existing
// objects ref-objects components read. The controller, the admission webhook, `ferry up` and
// `ferry live-diff` all plan through New; the offline half is appfile.Offline.
package clustersource
