// Package testenv runs a real control plane on loopback for Ferry's tests and demo: one etcd, a
// hub kube-apiserver with the Open Cluster Management CRDs, and N managed clusters, each a
// kube-apiserver (own etcd prefix) with a real OCM work agent pulling its ManifestWorks from the
// hub. Every cluster runs kube-controller-manager's namespace and garbage-collector controllers.
//
// The binaries are built from the Go module proxy by the project itself (see EnsureBinaries and
// hack/tools), into a git-ignored cache keyed by the pinned versions, so the first build takes
// minutes and later ones nothing. Every process is tracked by PID and stopped by Stop — and, for
// an environment started by a test, killed by the kernel if the test process dies — so nothing is
// left behind. `go run ./hack/testenv up|down` drives the same code from a shell.
package testenv
