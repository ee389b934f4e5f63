// Package shard splits Applications among several controller replicas.
//
// Each replica holds one of N shard slots, a Lease named ferry-shard-<i> in the system
// namespace, renewed like a leader-election lease: a replica that cannot renew within the
// renew deadline stops (its process exits), and its slot is free once the lease duration has
// passed. An Application belongs to the shard its label controller.core.oam.dev/shard-id
// names (KubeVela's label), e.g. shard-1; a replica caches and reconciles only its own.
//
// The scheduler, run by one replica at a time (leader-elected), labels Applications that have
// no shard or whose shard's lease has expired, choosing among the live shards by rendezvous
// hashing of the Application's namespace and name, so choices are spread evenly and stable.
// Because it moves an Application only after its old shard's lease expired, and the old
// replica stopped working at its renew deadline, before that, two replicas never reconcile one
// Application at the same time (with clocks that agree within the difference).
package shard
