// Package health turns the live state of a component's objects — read from the cluster, or
// rebuilt from ManifestWork feedback — into the component's status: its definition's
// healthPolicy, customStatus and details, and those of each of its traits.
package health
