// Package rollout decides, check by check, which clusters of a deploy step get a new revision:
// OCM's rollout strategies (All, Progressive, ProgressivePerGroup) with their field names and
// meaning — maxConcurrency, minSuccessTime, progressDeadline, maxFailures, mandatory decision
// groups — applied to the clusters a step's topology policies chose, in decision order, each
// policy being a decision group.
//
// It is pure logic: the caller passes the step's clusters, the state kept from the last check
// and the clusters' health now, and gets the new state, which clusters to change, and whether
// the rollout is done or stopped. The controller keeps the state in the step's status, so a
// restarted controller continues at the same cluster.
package rollout
