package shard

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/ferryhq/ferry/api/v1beta1"
)

// Label names an Application's shard; KubeVela uses the same label for its shards.
const Label = v1beta1.LabelShardID

// leaseLabel marks the Leases of shard slots.
const leaseLabel = "controller.core.oam.dev/shard-lease"

// Name is the shard-id label value of slot i.
func Name(i int) string { return "shard-" + strconv.Itoa(i) }

// leaseName is the Lease of slot i.
func leaseName(i int) string { return "ferry-shard-" + strconv.Itoa(i) }

// Timing is how shard leases are held, as in leader election: a holder renews every
// RetryPeriod, gives up when it could not renew for RenewDeadline, and others may take the
// slot once LeaseDuration has passed since the last renewal.
type Timing struct {
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
}

// DefaultTiming is controller-runtime's leader-election timing.
var DefaultTiming = Timing{LeaseDuration: 15 * time.Second, RenewDeadline: 10 * time.Second, RetryPeriod: 2 * time.Second}

// WithDefaults fills what is unset, keeping RetryPeriod < RenewDeadline < LeaseDuration.
func (t Timing) WithDefaults() Timing {
	if t.LeaseDuration <= 0 {
		t.LeaseDuration = DefaultTiming.LeaseDuration
	}
	if t.RenewDeadline <= 0 || t.RenewDeadline >= t.LeaseDuration {
		t.RenewDeadline = t.LeaseDuration * 2 / 3
	}
	if t.RetryPeriod <= 0 || t.RetryPeriod >= t.RenewDeadline {
		t.RetryPeriod = t.RenewDeadline / 5
	}
	return t
}

// MemberOptions configure Join.
type MemberOptions struct {
	// Client reads and writes Leases; it must not be a cached client.
	Client client.Client
	// Namespace holds the Leases (the system namespace).
	Namespace string
	// Shards is the number of slots, at least 1.
	Shards int
	// ID is the slot to hold; a negative ID takes the first free one.
	ID int
	// Identity names this replica in the Lease (e.g. the pod name).
	Identity string
	Timing   Timing
	// KeepOnStop leaves the lease to expire when the member stops, as a crash would; by
	// default a stopping member releases it so its Applications move at once.
	KeepOnStop bool
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Member is this replica's hold on one shard slot. Start renews it; it runs in every replica
// (not only the leader).
type Member struct {
	opts MemberOptions
	id   int
	// renewed is the UnixNano of the last successful renewal.
	renewed atomic.Int64
}

// Join takes a shard slot: opts.ID, or the first free one. It waits, retrying every
// RetryPeriod, until it holds one or ctx ends.
func Join(ctx context.Context, opts MemberOptions) (*Member, error) {
	if opts.Shards < 1 {
		return nil, fmt.Errorf("shards must be at least 1, got %d", opts.Shards)
	}
	if opts.ID >= opts.Shards {
		return nil, fmt.Errorf("shard id %d is not below the number of shards %d", opts.ID, opts.Shards)
	}
	if opts.Identity == "" {
		return nil, errors.New("a shard member needs an identity")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	opts.Timing = opts.Timing.WithDefaults()
	m := &Member{opts: opts, id: -1}
	logger := log.FromContext(ctx).WithName("shard")
	waited := 0
	for {
		slots := []int{opts.ID}
		if opts.ID < 0 {
			slots = slots[:0]
			for i := range opts.Shards {
				slots = append(slots, i)
			}
		}
		for _, i := range slots {
			ok, err := m.tryAcquire(ctx, i)
			if err != nil {
				logger.Error(err, "take shard slot", "slot", i)
				continue
			}
			if ok {
				m.id = i
				logger.Info("holding shard", "shard", Name(i))
				return m, nil
			}
		}
		if waited%30 == 0 {
			logger.Info("waiting for a free shard slot: all are held by live replicas", "shards", opts.Shards, "slot", opts.ID)
		}
		waited++
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("no shard slot free among %d: %w", opts.Shards, ctx.Err())
		case <-time.After(opts.Timing.RetryPeriod):
		}
	}
}

// Shard is the label value of the slot held.
func (m *Member) Shard() string { return Name(m.id) }

// Held reports whether the slot was renewed within the renew deadline: a replica that cannot
// say so must not reconcile, since its Applications may be moving to another.
func (m *Member) Held() bool {
	last := m.renewed.Load()
	return last != 0 && m.opts.Now().Sub(time.Unix(0, last)) < m.opts.Timing.RenewDeadline
}

// NeedLeaderElection is false: every replica holds its own slot.
func (m *Member) NeedLeaderElection() bool { return false }

// Start renews the slot until ctx ends (then releases it, unless KeepOnStop) and returns an
// error when it could not renew within the renew deadline: the caller must stop working.
func (m *Member) Start(ctx context.Context) error {
	t := time.NewTicker(m.opts.Timing.RetryPeriod)
	defer t.Stop()
	logger := log.FromContext(ctx).WithName("shard")
	for {
		select {
		case <-ctx.Done():
			if !m.opts.KeepOnStop {
				m.release(ctx)
			}
			return nil
		case <-t.C:
		}
		rctx, cancel := context.WithTimeout(ctx, m.opts.Timing.RetryPeriod)
		ok, err := m.tryAcquire(rctx, m.id)
		cancel()
		if ctx.Err() != nil {
			continue
		}
		if err != nil || !ok {
			logger.Info("could not renew shard lease", "shard", m.Shard(), "error", err)
		}
		if !m.Held() {
			return fmt.Errorf("lost shard %s: not renewed for %s", m.Shard(), m.opts.Timing.RenewDeadline)
		}
	}
}

// tryAcquire creates, takes over (expired) or renews (held) the Lease of slot i.
func (m *Member) tryAcquire(ctx context.Context, i int) (bool, error) {
	now := m.opts.Now()
	seconds := int32(m.opts.Timing.LeaseDuration / time.Second)
	if seconds < 1 {
		seconds = 1
	}
	lease := &coordinationv1.Lease{}
	err := m.opts.Client.Get(ctx, client.ObjectKey{Namespace: m.opts.Namespace, Name: leaseName(i)}, lease)
	if apierrors.IsNotFound(err) {
		lease = &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Namespace: m.opts.Namespace, Name: leaseName(i), Labels: map[string]string{leaseLabel: "true"}},
			Spec: coordinationv1.LeaseSpec{HolderIdentity: &m.opts.Identity, LeaseDurationSeconds: &seconds,
				AcquireTime: &metav1.MicroTime{Time: now}, RenewTime: &metav1.MicroTime{Time: now}},
		}
		if err := m.opts.Client.Create(ctx, lease); err != nil {
			if apierrors.IsAlreadyExists(err) {
				return false, nil
			}
			return false, err
		}
		m.renewed.Store(now.UnixNano())
		return true, nil
	}
	if err != nil {
		return false, err
	}
	mine := lease.Spec.HolderIdentity != nil && *lease.Spec.HolderIdentity == m.opts.Identity
	if !mine && live(lease, now) {
		return false, nil
	}
	if !mine {
		lease.Spec.AcquireTime = &metav1.MicroTime{Time: now}
		if lease.Spec.LeaseTransitions == nil {
			lease.Spec.LeaseTransitions = new(int32)
		}
		*lease.Spec.LeaseTransitions++
	}
	lease.Spec.HolderIdentity = &m.opts.Identity
	lease.Spec.LeaseDurationSeconds = &seconds
	lease.Spec.RenewTime = &metav1.MicroTime{Time: now}
	if lease.Labels == nil {
		lease.Labels = map[string]string{}
	}
	lease.Labels[leaseLabel] = "true"
	// The update carries the resourceVersion read: of two replicas taking one expired slot,
	// one wins.
	if err := m.opts.Client.Update(ctx, lease); err != nil {
		if apierrors.IsConflict(err) {
			return false, nil
		}
		return false, err
	}
	m.renewed.Store(now.UnixNano())
	return true, nil
}

// release gives the slot up so the scheduler moves its Applications at once.
func (m *Member) release(stopped context.Context) {
	// The member's context has ended; the release still needs a little time of its own.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(stopped), m.opts.Timing.RetryPeriod)
	defer cancel()
	lease := &coordinationv1.Lease{}
	if err := m.opts.Client.Get(ctx, client.ObjectKey{Namespace: m.opts.Namespace, Name: leaseName(m.id)}, lease); err != nil {
		return
	}
	if lease.Spec.HolderIdentity == nil || *lease.Spec.HolderIdentity != m.opts.Identity {
		return
	}
	lease.Spec.HolderIdentity = nil
	m.renewed.Store(0)
	_ = m.opts.Client.Update(ctx, lease)
}

// live reports whether a lease is held and was renewed within its duration.
func live(l *coordinationv1.Lease, now time.Time) bool {
	if l.Spec.HolderIdentity == nil || *l.Spec.HolderIdentity == "" || l.Spec.RenewTime == nil || l.Spec.LeaseDurationSeconds == nil {
		return false
	}
	return now.Before(l.Spec.RenewTime.Add(time.Duration(*l.Spec.LeaseDurationSeconds) * time.Second))
}

// slotOf returns the slot of a shard Lease name, or -1.
func slotOf(name string) int {
	rest, ok := strings.CutPrefix(name, "ferry-shard-")
	if !ok {
		return -1
	}
	i, err := strconv.Atoi(rest)
	if err != nil {
		return -1
	}
	return i
}
