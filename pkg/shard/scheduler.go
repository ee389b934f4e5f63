package shard

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"sort"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/metadata/metadatainformer"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
)

// patchWorkers bound the label patches in flight.
const patchWorkers = 16

// applications is the resource the scheduler labels.
var applications = schema.GroupVersionResource{Group: "core.oam.dev", Version: "v1beta1", Resource: "applications"}

// SchedulerOptions configure a Scheduler.
type SchedulerOptions struct {
	// Client lists shard Leases; it must not be a cached client.
	Client client.Client
	// Metadata watches and labels Applications; only their metadata is held.
	Metadata metadata.Interface
	// Namespace holds the Leases.
	Namespace string
	// Shards is the number of slots.
	Shards int
	// Interval is how often shard liveness is checked (the lease retry period is a good
	// value); new Applications are labelled as they appear.
	Interval time.Duration
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Scheduler gives every Application a live shard. It runs on the elected leader only.
type Scheduler struct {
	opts SchedulerOptions
}

// NewScheduler returns a scheduler; add it to a manager with leader election.
func NewScheduler(opts SchedulerOptions) *Scheduler {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Interval <= 0 {
		opts.Interval = DefaultTiming.RetryPeriod
	}
	return &Scheduler{opts: opts}
}

// NeedLeaderElection is true: one scheduler at a time.
func (s *Scheduler) NeedLeaderElection() bool { return true }

// Start watches Applications' metadata and labels them until ctx ends.
func (s *Scheduler) Start(ctx context.Context) error {
	logger := log.FromContext(ctx).WithName("shard-scheduler")
	factory := metadatainformer.NewSharedInformerFactory(s.opts.Metadata, 0)
	informer := factory.ForResource(applications).Informer()
	wake := make(chan struct{}, 1)
	// Only an app without a shard needs labelling at once: every status write is an update
	// event, and looking at every app for each would be most of the scheduler's work while a
	// fleet converges. Apps of a shard that died are found at the next tick.
	poke := func(obj any) {
		if app, ok := obj.(metav1.Object); !ok || app.GetLabels()[Label] != "" {
			return
		}
		select {
		case wake <- struct{}{}:
		default:
		}
	}
	if _, err := informer.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc: poke, UpdateFunc: func(_, obj any) { poke(obj) },
	}); err != nil {
		return err
	}
	factory.Start(ctx.Done())
	if !toolscache.WaitForCacheSync(ctx.Done(), informer.HasSynced) {
		return nil // ctx ended
	}
	logger.Info("scheduling applications to shards", "shards", s.opts.Shards)
	tick := time.NewTicker(s.opts.Interval)
	defer tick.Stop()
	for {
		if err := s.assign(ctx, informer.GetStore()); err != nil && ctx.Err() == nil {
			logger.Error(err, "assign applications to shards")
		}
		select {
		case <-ctx.Done():
			factory.Shutdown()
			return nil
		case <-tick.C:
		case <-wake:
		}
	}
}

// Live returns the shards whose leases are held and current.
func Live(ctx context.Context, c client.Reader, namespace string, shards int, now time.Time) ([]string, error) {
	var leases coordinationv1.LeaseList
	if err := c.List(ctx, &leases, client.InNamespace(namespace), client.MatchingLabels{leaseLabel: "true"}); err != nil {
		return nil, fmt.Errorf("list shard leases: %w", err)
	}
	var out []string
	for i := range leases.Items {
		l := &leases.Items[i]
		if slot := slotOf(l.Name); slot >= 0 && slot < shards && live(l, now) {
			out = append(out, Name(slot))
		}
	}
	sort.Strings(out)
	return out, nil
}

// assign labels the Applications without a live shard.
func (s *Scheduler) assign(ctx context.Context, store toolscache.Store) error {
	liveShards, err := Live(ctx, s.opts.Client, s.opts.Namespace, s.opts.Shards, s.opts.Now())
	if err != nil {
		return err
	}
	if len(liveShards) == 0 {
		return nil // nobody to give them to; the next tick looks again
	}
	isLive := make(map[string]bool, len(liveShards))
	for _, sh := range liveShards {
		isLive[sh] = true
	}
	var moving []*metav1.PartialObjectMetadata
	for _, obj := range store.List() {
		if app, ok := obj.(*metav1.PartialObjectMetadata); ok && !isLive[app.Labels[Label]] {
			moving = append(moving, app)
		}
	}
	// A dead shard's thousand apps are a thousand patches: send them side by side.
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
		next = make(chan *metav1.PartialObjectMetadata)
	)
	for range min(patchWorkers, len(moving)) {
		wg.Go(func() {
			for app := range next {
				target := Pick(liveShards, app.Namespace+"/"+app.Name)
				if err := s.label(ctx, app, target); err != nil && !apierrors.IsConflict(err) && !apierrors.IsNotFound(err) {
					mu.Lock()
					errs = append(errs, fmt.Errorf("application %s/%s: %w", app.Namespace, app.Name, err))
					mu.Unlock()
				}
			}
		})
	}
	for _, app := range moving {
		next <- app
	}
	close(next)
	wg.Wait()
	if len(errs) > 0 {
		return fmt.Errorf("%d applications not labelled, first: %w", len(errs), errs[0])
	}
	return nil
}

// label sets an Application's shard, provided it did not change since it was read: a
// conflict is retried at the next tick with what is current.
func (s *Scheduler) label(ctx context.Context, app *metav1.PartialObjectMetadata, target string) error {
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{
		"resourceVersion": app.ResourceVersion,
		"labels":          map[string]string{Label: target},
	}})
	if err != nil {
		return err
	}
	_, err = s.opts.Metadata.Resource(applications).Namespace(app.Namespace).Patch(ctx, app.Name, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: "ferry-shard-scheduler"})
	if err == nil {
		log.FromContext(ctx).V(1).Info("application assigned", "app", app.Namespace+"/"+app.Name, "shard", target, "was", app.Labels[Label])
	}
	return err
}

// Pick chooses a shard for a key by rendezvous hashing: each key goes to the shard with the
// highest hash of (shard, key), so keys spread evenly and only those of a shard that leaves
// move.
func Pick(shards []string, key string) string {
	var best string
	var bestScore uint64
	k := hash64(key)
	for _, sh := range shards {
		if score := mix(k ^ hash64(sh)); best == "" || score > bestScore {
			best, bestScore = sh, score
		}
	}
	return best
}

func hash64(s string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(s))
	return h.Sum64()
}

// mix is SplitMix64's finalizer: FNV alone leaves similar strings with similar hashes, and
// rendezvous hashing needs every bit of the score to depend on both inputs.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
