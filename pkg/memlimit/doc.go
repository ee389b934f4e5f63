// Package memlimit sets the Go memory limit of a process from the memory limit of its cgroup
// (what a container's resources.limits.memory becomes), so that the garbage collector works
// harder before the kernel kills the process, without anyone setting GOMEMLIMIT by hand.
package memlimit
