// Package e2e holds Ferry's end-to-end tests. They run against real kube-apiservers and real
// Open Cluster Management work agents started by pkg/testenv; fixtures are YAML in testdata/.
package e2e
