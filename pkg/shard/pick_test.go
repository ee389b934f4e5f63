package shard

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestPickSpreadsAndMovesOnlyTheLeavingShard checks rendezvous hashing: keys spread evenly
// over shards, and when one shard leaves only its keys move.
func TestPickSpreadsAndMovesOnlyTheLeavingShard(t *testing.T) {
	shards := []string{"shard-0", "shard-1", "shard-2"}
	const keys = 3000
	before := map[string]string{}
	count := map[string]int{}
	for i := range keys {
		key := fmt.Sprintf("default/app-%d", i)
		before[key] = Pick(shards, key)
		count[before[key]]++
	}
	for _, sh := range shards {
		require.InDelta(t, keys/3, count[sh], keys*0.05, "shard %s has %d of %d keys", sh, count[sh], keys)
	}
	left := []string{"shard-0", "shard-2"}
	for key, was := range before {
		now := Pick(left, key)
		if was != "shard-1" {
			require.Equal(t, was, now, "%s stays where it was", key)
		}
	}
	require.Empty(t, Pick(nil, "x"))
}
