package rollout

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/intstr"
)

// Phase is where one cluster is in a rollout.
type Phase string

// The phases of a cluster. Only Pending clusters keep what they had; the others have been
// changed (or, RolledBack, changed and returned).
const (
	Pending     Phase = "Pending"
	Progressing Phase = "Progressing"
	Succeeded   Phase = "Succeeded"
	Failed      Phase = "Failed"
	RolledBack  Phase = "RolledBack"
)

// Target is one cluster of a step, in decision order, with its decision group.
type Target struct {
	Cluster string
	// Group names the cluster's decision group (Ferry: the topology policy that chose it);
	// GroupIndex is its place among the step's groups.
	Group      string
	GroupIndex int
}

// Cluster is the rollout state of one cluster, kept in the step's status between checks.
type Cluster struct {
	Cluster string `json:"cluster"`
	Group   string `json:"group,omitempty"`
	Phase   Phase  `json:"phase"`
	// Started is when the cluster was changed.
	Started *time.Time `json:"started,omitempty"`
	// HealthySince is when its components last became healthy; minSuccessTime counts from it.
	HealthySince *time.Time `json:"healthySince,omitempty"`
	// Finished is when it succeeded, failed or was rolled back.
	Finished *time.Time `json:"finished,omitempty"`
	Message  string     `json:"message,omitempty"`
	// From is the revision the cluster ran before it was changed; "" when it had none.
	From string `json:"from,omitempty"`
}

// changed reports whether the cluster has been given the new revision and still has it.
func (c Cluster) changed() bool {
	return c.Phase == Progressing || c.Phase == Succeeded || c.Phase == Failed
}

// Health is what a cluster's components say now.
type Health struct {
	Healthy bool
	Message string
}

// Result is one check of a rollout.
type Result struct {
	// Clusters is the new state, in decision order.
	Clusters []Cluster
	// Start names the clusters changed from this check on: the caller records what they ran
	// (From) and applies.
	Start []string
	// Apply names every cluster that has (or now gets) the new revision: the caller applies
	// it there, which costs nothing where it is in place already.
	Apply []string
	// Done: every cluster succeeded, or failed within maxFailures.
	Done bool
	// Stopped: more clusters failed than maxFailures allows; no further cluster is changed.
	Stopped bool
	Message string
	// Recheck is when a check is due for a timer (minSuccessTime, progressDeadline); zero
	// when none is running.
	Recheck time.Duration
}

// Next does one check of a rollout: it reads the health of the changed clusters, moves them on
// (Succeeded once healthy for minSuccessTime; Failed when not within progressDeadline), stops when
// failures exceed maxFailures, and otherwise picks the clusters to change next.
func Next(s Strategy, targets []Target, prev []Cluster, health func(cluster string) Health, now time.Time) Result {
	r := &check{s: s, now: now, mandatory: map[string]bool{}}
	byName := map[string]Cluster{}
	for _, c := range prev {
		byName[c.Cluster] = c
	}
	for _, t := range targets {
		c, ok := byName[t.Cluster]
		if !ok {
			c = Cluster{Cluster: t.Cluster, Phase: Pending}
		}
		c.Group = t.Group
		r.clusters = append(r.clusters, c)
		r.targets = append(r.targets, t)
		for _, m := range s.Mandatory {
			if (m.GroupName != "" && m.GroupName == t.Group) || (m.GroupName == "" && int(m.GroupIndex) == t.GroupIndex) {
				r.mandatory[t.Cluster] = true
			}
		}
	}
	for i := range r.clusters {
		if r.clusters[i].Phase == Progressing {
			r.observe(&r.clusters[i], health(r.clusters[i].Cluster))
		}
	}
	if failed := r.breached(); len(failed) > 0 {
		r.res.Stopped = true
		r.res.Message = fmt.Sprintf("rollout stopped: %s", strings.Join(failed, "; "))
	} else {
		r.startNext()
		r.res.Done = !slices.ContainsFunc(r.clusters, func(c Cluster) bool { return c.Phase != Succeeded && c.Phase != Failed })
		r.res.Message = r.summary()
	}
	for _, c := range r.clusters {
		if c.changed() {
			r.res.Apply = append(r.res.Apply, c.Cluster)
		}
	}
	r.res.Clusters = r.clusters
	return r.res
}

// check is the state of one Next.
type check struct {
	s         Strategy
	now       time.Time
	targets   []Target
	clusters  []Cluster
	mandatory map[string]bool
	res       Result
}

// observe moves a progressing cluster on by its health.
func (r *check) observe(c *Cluster, h Health) {
	now := r.now
	if h.Healthy {
		if c.HealthySince == nil {
			c.HealthySince = &now
		}
		held := now.Sub(*c.HealthySince)
		if held >= r.s.MinSuccessTime {
			c.Phase, c.Finished = Succeeded, &now
			c.Message = "healthy"
			if r.s.MinSuccessTime > 0 {
				c.Message = fmt.Sprintf("healthy for %s", r.s.MinSuccessTime)
			}
			return
		}
		c.Message = fmt.Sprintf("healthy for %s of %s", held.Round(time.Second), r.s.MinSuccessTime)
		r.recheckAt(c.HealthySince.Add(r.s.MinSuccessTime))
	} else {
		c.HealthySince = nil
		c.Message = h.Message
		if c.Message == "" {
			c.Message = "not healthy yet"
		}
	}
	if r.s.ProgressDeadline > 0 && c.Started != nil {
		deadline := c.Started.Add(r.s.ProgressDeadline)
		if !now.Before(deadline) {
			c.Phase, c.Finished = Failed, &now
			c.Message = fmt.Sprintf("did not succeed within progressDeadline %s: %s", r.s.ProgressDeadline, c.Message)
			return
		}
		r.recheckAt(deadline)
	}
}

func (r *check) recheckAt(t time.Time) {
	d := max(t.Sub(r.now), time.Millisecond)
	if r.res.Recheck == 0 || d < r.res.Recheck {
		r.res.Recheck = d
	}
}

// breached lists the failures when more clusters failed than tolerated: any in a mandatory
// group; over maxFailures of all clusters (Progressive) or of one group (ProgressivePerGroup).
func (r *check) breached() []string {
	var mandatory []string
	failedIn := map[string][]string{} // tolerance scope → failures
	size := map[string]int{}
	for i, c := range r.clusters {
		scope := ""
		if r.s.Type == ProgressivePerGroup {
			scope = r.targets[i].Group
		}
		if !r.mandatory[c.Cluster] {
			size[scope]++
		}
		if c.Phase != Failed {
			continue
		}
		what := c.Cluster + ": " + c.Message
		if r.mandatory[c.Cluster] {
			mandatory = append(mandatory, what+" (mandatory group "+c.Group+")")
			continue
		}
		failedIn[scope] = append(failedIn[scope], what)
	}
	if len(mandatory) > 0 {
		return mandatory
	}
	scopes := make([]string, 0, len(failedIn))
	for scope := range failedIn {
		scopes = append(scopes, scope)
	}
	slices.Sort(scopes)
	for _, scope := range scopes {
		failed := failedIn[scope]
		limit, _ := resolve(r.s.MaxFailures, size[scope])
		if len(failed) > limit {
			return append(failed, fmt.Sprintf("%d failed, maxFailures allows %d", len(failed), limit))
		}
	}
	return nil
}

// startNext changes the next clusters: the mandatory groups first, all at once, and only once
// they all succeeded the others — all at once (All), up to maxConcurrency at a time
// (Progressive), or group by group (ProgressivePerGroup).
func (r *check) startNext() {
	var rest []int
	mandatoryDone := true
	for i, c := range r.clusters {
		if !r.mandatory[c.Cluster] {
			rest = append(rest, i)
			continue
		}
		if c.Phase == Pending {
			r.start(i)
		}
		if r.clusters[i].Phase != Succeeded {
			mandatoryDone = false
		}
	}
	if !mandatoryDone {
		return
	}
	switch r.s.Type {
	case Progressive:
		limit, _ := resolve(r.s.MaxConcurrency, len(r.clusters))
		mc := r.s.MaxConcurrency
		switch {
		case limit > 0:
		case mc.Type == intstr.String && mc.StrVal != "" && mc.StrVal != "0%":
			limit = 1 // a percentage too small for one cluster still moves on
		default:
			limit = len(r.clusters) // unset: no limit
		}
		active := 0
		for _, i := range rest {
			if r.clusters[i].Phase == Progressing {
				active++
			}
		}
		for _, i := range rest {
			if active >= limit {
				break
			}
			if r.clusters[i].Phase == Pending {
				r.start(i)
				active++
			}
		}
	case ProgressivePerGroup:
		current := -1
		for _, i := range rest {
			if p := r.clusters[i].Phase; p != Succeeded && p != Failed {
				current = r.targets[i].GroupIndex
				break
			}
		}
		for _, i := range rest {
			if r.targets[i].GroupIndex == current && r.clusters[i].Phase == Pending {
				r.start(i)
			}
		}
	default:
		for _, i := range rest {
			if r.clusters[i].Phase == Pending {
				r.start(i)
			}
		}
	}
}

func (r *check) start(i int) {
	now := r.now
	c := &r.clusters[i]
	c.Phase, c.Started, c.HealthySince, c.Finished, c.Message = Progressing, &now, nil, nil, "changed, waiting for health"
	r.res.Start = append(r.res.Start, c.Cluster)
}

// summary says how far the rollout is.
func (r *check) summary() string {
	count := map[Phase]int{}
	var progressing []string
	for _, c := range r.clusters {
		count[c.Phase]++
		if c.Phase == Progressing {
			progressing = append(progressing, fmt.Sprintf("%s (%s)", c.Cluster, c.Message))
		}
	}
	msg := fmt.Sprintf("%d/%d clusters succeeded", count[Succeeded], len(r.clusters))
	if count[Failed] > 0 {
		msg += fmt.Sprintf(", %d failed within maxFailures", count[Failed])
	}
	if len(progressing) > 0 {
		msg += "; changing " + strings.Join(progressing, ", ")
	}
	if count[Pending] > 0 {
		msg += fmt.Sprintf("; %d waiting", count[Pending])
	}
	return msg
}
