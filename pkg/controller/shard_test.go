package controller_test

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/controller"
	"github.com/ferryhq/ferry/pkg/shard"
)

// reconcileLog records every reconcile of every replica.
type reconcileLog struct {
	mu  sync.Mutex
	obs map[types.NamespacedName][]replicaObservation
}

type replicaObservation struct {
	replica string
	controller.Observation
}

func (l *reconcileLog) observer(replica string) func(controller.Observation) {
	return func(o controller.Observation) {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.obs[o.App] = append(l.obs[o.App], replicaObservation{replica: replica, Observation: o})
	}
}

// overlaps lists reconciles of one app by two replicas that ran at the same time, and
// reconciles by a replica of an app labelled for another shard.
func (l *reconcileLog) problems(shardOf map[string]string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for app, obs := range l.obs {
		sort.Slice(obs, func(i, j int) bool { return obs[i].Start.Before(obs[j].Start) })
		for i, a := range obs {
			if want := shardOf[a.replica]; a.Shard != want {
				out = append(out, fmt.Sprintf("%s: replica %s (%s) reconciled it labelled %q", app, a.replica, want, a.Shard))
			}
			for _, b := range obs[i+1:] {
				if b.replica != a.replica && b.Start.Before(a.End) {
					out = append(out, fmt.Sprintf("%s: replicas %s and %s reconciled it at the same time", app, a.replica, b.replica))
				}
			}
		}
	}
	return out
}

func (l *reconcileLog) replicasOf(app types.NamespacedName, since time.Time) map[string]bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string]bool{}
	for _, o := range l.obs[app] {
		if !o.Start.Before(since) {
			out[o.replica] = true
		}
	}
	return out
}

// TestShardsSplitAppsAndTakeOverFromADeadReplica runs three sharded replicas on one hub: every
// Application gets a shard, each replica reconciles only its own, never at the same time as
// another; when one replica dies without giving its lease back, its Applications move to the
// two others once the lease expired, and a change to them is delivered.
func TestShardsSplitAppsAndTakeOverFromADeadReplica(t *testing.T) {
	h := startHub(t)
	timing := shard.Timing{LeaseDuration: 3 * time.Second, RenewDeadline: 2 * time.Second, RetryPeriod: 500 * time.Millisecond}
	log := &reconcileLog{obs: map[types.NamespacedName][]replicaObservation{}}
	shardOf := map[string]string{}
	stops := map[string]func(){}
	for i := range 3 {
		replica := fmt.Sprintf("replica-%d", i)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		member, err := shard.Join(ctx, shard.MemberOptions{Client: h.c, Namespace: "ferry-system", Shards: 3, ID: -1,
			Identity: replica, Timing: timing, KeepOnStop: true})
		cancel()
		require.NoError(t, err)
		shardOf[replica] = member.Shard()
		stops[replica] = h.startManager(controller.ManagerOptions{Shards: 3, ShardTiming: timing,
			Reconciler: controller.Options{Shard: member, Observe: log.observer(replica)}})
	}
	require.ElementsMatch(t, []string{"shard-0", "shard-1", "shard-2"}, []string{shardOf["replica-0"], shardOf["replica-1"], shardOf["replica-2"]},
		"three replicas hold three different shards")

	const apps = 30
	for i := range apps {
		h.apply(fmt.Sprintf(`
apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: {name: app-%d}
spec:
  components:
    - name: cfg
      type: k8s-objects
      properties:
        objects: [{apiVersion: v1, kind: ConfigMap, metadata: {name: cfg-%d}, data: {v: "1"}}]
`, i, i))
	}
	perShard := map[string]int{}
	for i := range apps {
		app := h.waitApp(fmt.Sprintf("app-%d", i), "running", phaseIs(v1beta1.ApplicationRunning))
		perShard[app.Labels[shard.Label]]++
	}
	require.Len(t, perShard, 3, "apps spread over the three shards: %v", perShard)
	require.Empty(t, log.problems(shardOf))

	// replica-1 dies: it stops without giving its lease back.
	dead := "replica-1"
	stops[dead]()
	died := time.Now()
	var moved []string
	for i := range apps {
		if h.app(fmt.Sprintf("app-%d", i)).Labels[shard.Label] == shardOf[dead] {
			moved = append(moved, fmt.Sprintf("app-%d", i))
		}
	}
	require.NotEmpty(t, moved)
	for _, name := range moved {
		require.Eventually(t, func() bool {
			s := h.app(name).Labels[shard.Label]
			return s != shardOf[dead] && s != ""
		}, 20*time.Second, 100*time.Millisecond, "%s moves off the dead shard", name)
	}
	require.GreaterOrEqual(t, time.Since(died), timing.LeaseDuration-timing.RetryPeriod,
		"nothing moves before the dead replica's lease expired")

	// A change to a moved app is delivered by its new replica.
	name := moved[0]
	h.apply(fmt.Sprintf(`
apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: {name: %s}
spec:
  components:
    - name: cfg
      type: k8s-objects
      properties:
        objects: [{apiVersion: v1, kind: ConfigMap, metadata: {name: cfg-%s}, data: {v: "2"}}]
`, name, name[len("app-"):]))
	h.waitApp(name, "running the change", phaseIs(v1beta1.ApplicationRunning))
	cm := &corev1.ConfigMap{}
	require.NoError(t, h.c.Get(context.Background(), client.ObjectKey{Namespace: "default", Name: "cfg-" + name[len("app-"):]}, cm))
	require.Equal(t, "2", cm.Data["v"])
	replicas := log.replicasOf(types.NamespacedName{Namespace: "default", Name: name}, died)
	require.NotContains(t, replicas, dead)
	require.Len(t, replicas, 1, "one live replica took it over: %v", replicas)
	// The log checks ownership by the shard each reconcile saw; the dead replica's own shard
	// is its apps' shard until they moved.
	require.Empty(t, log.problems(shardOf))
}

// TestRunJoinsAShard runs the controller as ferry-controller --shards 2 does (controller.Run):
// it takes a free slot, labels a new app for itself (the only live shard) and delivers it, and
// gives the slot back when it stops.
func TestRunJoinsAShard(t *testing.T) {
	h := startHub(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- controller.Run(ctx, h.cfg, controller.ManagerOptions{Shards: 2, ShardID: -1, ShardIdentity: "run-test",
			ShardTiming: shard.Timing{LeaseDuration: 3 * time.Second, RenewDeadline: 2 * time.Second, RetryPeriod: 500 * time.Millisecond}})
	}()
	h.apply(`
apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: {name: sharded}
spec:
  components:
    - name: cfg
      type: k8s-objects
      properties:
        objects: [{apiVersion: v1, kind: ConfigMap, metadata: {name: sharded-cfg}, data: {v: "1"}}]
`)
	app := h.waitApp("sharded", "running", phaseIs(v1beta1.ApplicationRunning))
	require.Equal(t, "shard-0", app.Labels[shard.Label], "the first free slot, the only live shard")
	live, err := shard.Live(context.Background(), h.c, "ferry-system", 2, time.Now())
	require.NoError(t, err)
	require.Equal(t, []string{"shard-0"}, live)

	cancel()
	require.NoError(t, <-done)
	live, err = shard.Live(context.Background(), h.c, "ferry-system", 2, time.Now())
	require.NoError(t, err)
	require.Empty(t, live, "a replica that stops gives its slot back")
}
