package shard

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ferryscheme "github.com/ferryhq/ferry/api/scheme"
	"github.com/ferryhq/ferry/pkg/testenv"
)

var fast = Timing{LeaseDuration: 2 * time.Second, RenewDeadline: 1500 * time.Millisecond, RetryPeriod: 200 * time.Millisecond}

func join(t *testing.T, c client.Client, identity string, keep bool) (*Member, context.CancelFunc, chan error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := Join(ctx, MemberOptions{Client: c, Namespace: "ferry-system", Shards: 3, ID: -1, Identity: identity, Timing: fast, KeepOnStop: keep})
	require.NoError(t, err)
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Start(runCtx) }()
	t.Cleanup(stop)
	return m, stop, done
}

// TestMembersHoldDistinctSlotsAndHandThemOver runs members against a real API server.
func TestMembersHoldDistinctSlotsAndHandThemOver(t *testing.T) {
	cfg := testenv.StartEnvtest(t)
	c, err := ferryscheme.NewClient(cfg)
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ferry-system"}}))

	var members []*Member
	var stops []context.CancelFunc
	var dones []chan error
	for i := range 3 {
		m, stop, done := join(t, c, fmt.Sprintf("r%d", i), i == 1)
		members, stops, dones = append(members, m), append(stops, stop), append(dones, done)
	}
	require.ElementsMatch(t, []string{"shard-0", "shard-1", "shard-2"}, []string{members[0].Shard(), members[1].Shard(), members[2].Shard()})
	live, err := Live(ctx, c, "ferry-system", 3, time.Now())
	require.NoError(t, err)
	require.Equal(t, []string{"shard-0", "shard-1", "shard-2"}, live)

	full, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	_, err = Join(full, MemberOptions{Client: c, Namespace: "ferry-system", Shards: 3, ID: -1, Identity: "r3", Timing: fast})
	require.ErrorContains(t, err, "no shard slot free among 3")

	// Stopping normally gives the slot back at once.
	stops[0]()
	require.NoError(t, <-dones[0])
	live, err = Live(ctx, c, "ferry-system", 3, time.Now())
	require.NoError(t, err)
	require.NotContains(t, live, members[0].Shard())

	// A member that dies (KeepOnStop) keeps its slot until the lease expires; then a new
	// member takes it.
	stops[1]()
	require.NoError(t, <-dones[1])
	died := time.Now()
	live, err = Live(ctx, c, "ferry-system", 3, time.Now())
	require.NoError(t, err)
	require.Contains(t, live, members[1].Shard(), "the slot stays taken for the lease duration")
	taken, stopTaken, _ := join(t, c, "r4", false)
	defer stopTaken()
	if taken.Shard() == members[1].Shard() {
		require.GreaterOrEqual(t, time.Since(died), fast.LeaseDuration-fast.RetryPeriod, "taken over only once expired")
	} else {
		require.Equal(t, members[0].Shard(), taken.Shard(), "the slot given back is free at once")
	}
}

// TestHeldEndsAtTheRenewDeadline checks the fence: with the clock past the renew deadline
// since the last renewal, a member no longer holds its shard, and Start says it lost it.
func TestHeldEndsAtTheRenewDeadline(t *testing.T) {
	cfg := testenv.StartEnvtest(t)
	c, err := ferryscheme.NewClient(cfg)
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ferry-system"}}))
	var offset atomic.Int64
	now := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	m, err := Join(ctx, MemberOptions{Client: c, Namespace: "ferry-system", Shards: 1, ID: 0, Identity: "r0", Timing: fast, Now: now})
	require.NoError(t, err)
	require.True(t, m.Held())
	offset.Store(int64(fast.RenewDeadline))
	require.False(t, m.Held(), "not renewed within the renew deadline")

	// A renewal that the API server refuses (another holder took the lease) loses the shard.
	offset.Store(0)
	require.True(t, m.Held())
	other, err := Join(ctx, MemberOptions{Client: c, Namespace: "ferry-system", Shards: 1, ID: 0, Identity: "intruder", Timing: fast,
		Now: func() time.Time { return time.Now().Add(fast.LeaseDuration + time.Second) }})
	require.NoError(t, err)
	require.Equal(t, "shard-0", other.Shard())
	runCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	err = m.Start(runCtx)
	require.ErrorContains(t, err, "lost shard shard-0")
	require.False(t, m.Held())
}
