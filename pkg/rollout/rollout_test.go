package rollout

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// sim runs a rollout check by check on a fake clock: a changed cluster turns healthy after
// healthyAfter, except those in sick, which never do.
type sim struct {
	t        *testing.T
	s        Strategy
	targets  []Target
	state    []Cluster
	now      time.Time
	changed  map[string]time.Time
	sick     map[string]bool
	order    []string
	after    time.Duration
	lastDone Result
}

func newSim(t *testing.T, s Strategy, targets ...Target) *sim {
	return &sim{t: t, s: s, targets: targets, now: time.Unix(1_000_000, 0), changed: map[string]time.Time{}, sick: map[string]bool{}, after: time.Second}
}

func (m *sim) check() Result {
	res := Next(m.s, m.targets, m.state, func(c string) Health {
		at, ok := m.changed[c]
		if !ok || m.sick[c] || m.now.Sub(at) < m.after {
			return Health{Message: "Deployment web: 0/1 ready"}
		}
		return Health{Healthy: true}
	}, m.now)
	for _, c := range res.Start {
		m.changed[c] = m.now
		m.order = append(m.order, c)
	}
	m.state = res.Clusters
	m.lastDone = res
	return res
}

// run checks every second until the rollout is done or stopped, at most limit times.
func (m *sim) run(limit int) Result {
	for range limit {
		res := m.check()
		if res.Done || res.Stopped {
			return res
		}
		m.now = m.now.Add(time.Second)
	}
	m.t.Fatalf("the rollout did not end: %s", m.lastDone.Message)
	return Result{}
}

func (m *sim) phases() map[string]Phase {
	out := map[string]Phase{}
	for _, c := range m.state {
		out[c.Cluster] = c.Phase
	}
	return out
}

func four(groups ...string) []Target {
	out := make([]Target, 4)
	for i, name := range []string{"c1", "c2", "c3", "c4"} {
		out[i] = Target{Cluster: name}
		if len(groups) == 4 {
			out[i].Group = groups[i]
			out[i].GroupIndex = map[string]int{"canary": 0, "fleet": 1}[groups[i]]
		}
	}
	return out
}

func mustParse(t *testing.T, raw map[string]any) Strategy {
	t.Helper()
	s, err := Parse(raw)
	require.NoError(t, err)
	return s
}

func TestProgressiveOneAtATime(t *testing.T) {
	s := mustParse(t, map[string]any{"type": "Progressive", "progressive": map[string]any{"maxConcurrency": 1, "minSuccessTime": "5s"}})
	m := newSim(t, s, four()...)
	var starts []time.Time
	for range 60 {
		res := m.check()
		for range res.Start {
			starts = append(starts, m.now)
		}
		require.LessOrEqual(t, countPhase(res.Clusters, Progressing), 1, "one cluster changes at a time")
		if res.Done {
			break
		}
		m.now = m.now.Add(time.Second)
	}
	require.True(t, m.lastDone.Done, m.lastDone.Message)
	require.Equal(t, []string{"c1", "c2", "c3", "c4"}, m.order, "decision order")
	for i := 1; i < len(starts); i++ {
		// Healthy after 1s, then 5s of minSuccessTime: the next starts 6s later.
		require.Equal(t, 6*time.Second, starts[i].Sub(starts[i-1]), "cluster %d", i+1)
	}
	require.Equal(t, "4/4 clusters succeeded", m.lastDone.Message)
	require.Equal(t, []string{"c1", "c2", "c3", "c4"}, m.lastDone.Apply)
}

func TestProgressiveStopsAtMaxFailures(t *testing.T) {
	s := mustParse(t, map[string]any{"type": "Progressive",
		"progressive": map[string]any{"maxConcurrency": 1, "progressDeadline": "10s", "maxFailures": 0}})
	m := newSim(t, s, four()...)
	m.sick["c2"] = true
	res := m.run(60)
	require.True(t, res.Stopped)
	require.False(t, res.Done)
	require.Equal(t, map[string]Phase{"c1": Succeeded, "c2": Failed, "c3": Pending, "c4": Pending}, m.phases())
	require.Equal(t, []string{"c1", "c2"}, m.order, "no cluster after the failed one is touched")
	require.Contains(t, res.Message, "rollout stopped: c2: did not succeed within progressDeadline 10s: Deployment web: 0/1 ready")
	require.Equal(t, []string{"c1", "c2"}, res.Apply)
}

func TestProgressiveToleratesMaxFailures(t *testing.T) {
	s := mustParse(t, map[string]any{"type": "Progressive",
		"progressive": map[string]any{"maxConcurrency": "50%", "progressDeadline": "5s", "maxFailures": "25%"}})
	m := newSim(t, s, four()...)
	m.sick["c1"] = true
	res := m.run(60)
	require.True(t, res.Done, res.Message)
	require.Equal(t, map[string]Phase{"c1": Failed, "c2": Succeeded, "c3": Succeeded, "c4": Succeeded}, m.phases())
	require.Equal(t, "3/4 clusters succeeded, 1 failed within maxFailures", res.Message)
}

func TestMandatoryGroupsFirst(t *testing.T) {
	s := mustParse(t, map[string]any{"type": "Progressive", "progressive": map[string]any{
		"maxConcurrency": 2, "maxFailures": 4, "progressDeadline": "5s",
		"mandatoryDecisionGroups": []any{map[string]any{"groupName": "canary"}}}})
	m := newSim(t, s, four("fleet", "fleet", "canary", "fleet")...)
	res := m.check()
	require.Equal(t, []string{"c3"}, res.Start, "the canary group goes first")
	m.sick["c3"] = true
	res = m.run(60)
	require.True(t, res.Stopped, "a mandatory group tolerates no failure, whatever maxFailures says")
	require.Contains(t, res.Message, "(mandatory group canary)")
	require.Equal(t, []string{"c3"}, m.order)
}

func TestProgressivePerGroup(t *testing.T) {
	s := mustParse(t, map[string]any{"type": "ProgressivePerGroup", "progressivePerGroup": map[string]any{"minSuccessTime": "2s"}})
	m := newSim(t, s, four("canary", "fleet", "fleet", "fleet")...)
	res := m.check()
	require.Equal(t, []string{"c1"}, res.Start)
	for !res.Done {
		m.now = m.now.Add(time.Second)
		res = m.check()
		if len(res.Start) > 0 {
			require.Equal(t, []string{"c2", "c3", "c4"}, res.Start, "the next group changes all at once")
			require.Equal(t, Succeeded, res.Clusters[0].Phase, "once the first group succeeded")
		}
	}
	require.Equal(t, []string{"c1", "c2", "c3", "c4"}, m.order)
}

func TestFlapRestartsMinSuccessTime(t *testing.T) {
	s := mustParse(t, map[string]any{"type": "Progressive", "progressive": map[string]any{"minSuccessTime": "5s"}})
	m := newSim(t, s, Target{Cluster: "c1"})
	m.check()
	m.now = m.now.Add(3 * time.Second)
	res := m.check()
	require.Equal(t, "healthy for 0s of 5s", res.Clusters[0].Message)
	require.Equal(t, 5*time.Second, res.Recheck)
	m.now = m.now.Add(4 * time.Second)
	m.sick["c1"] = true
	res = m.check()
	require.Equal(t, Progressing, res.Clusters[0].Phase)
	require.Nil(t, res.Clusters[0].HealthySince, "a flap restarts the clock")
	m.sick["c1"] = false
	m.now = m.now.Add(time.Second)
	m.check()
	m.now = m.now.Add(4 * time.Second)
	require.Equal(t, Progressing, m.check().Clusters[0].Phase)
	m.now = m.now.Add(time.Second)
	require.True(t, m.check().Done)
}

func TestAllChangesEverythingAtOnce(t *testing.T) {
	m := newSim(t, mustParse(t, map[string]any{}), four()...)
	res := m.check()
	require.Equal(t, []string{"c1", "c2", "c3", "c4"}, res.Start)
	require.Equal(t, All, m.s.Type)
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		raw  map[string]any
		want string
	}{
		{map[string]any{"type": "Canary"}, `rolloutStrategy.type: "Canary" is not All, Progressive or ProgressivePerGroup`},
		{map[string]any{"type": "Progressive", "progressive": map[string]any{"progressDeadline": "soon"}}, `rolloutStrategy.progressive.progressDeadline: "soon" is not a duration`},
		{map[string]any{"type": "Progressive", "progressive": map[string]any{"maxConcurrency": "half"}}, `rolloutStrategy.progressive.maxConcurrency: "half" is neither a number nor a percentage`},
		{map[string]any{"type": "Progressive", "progressive": map[string]any{"minSuccessTime": "5 seconds"}}, `rolloutStrategy: `},
		{map[string]any{"type": "Progressive", "stages": map[string]any{}}, `unknown field "stages"`},
	} {
		_, err := Parse(tc.raw)
		require.ErrorContains(t, err, tc.want, "%v", tc.raw)
	}
	s, err := Parse(map[string]any{"type": "Progressive", "progressive": map[string]any{"progressDeadline": "None", "minSuccessTime": "8s"}})
	require.NoError(t, err)
	require.Zero(t, s.ProgressDeadline)
	require.Equal(t, 8*time.Second, s.MinSuccessTime)
	require.True(t, s.Progressing())
}

func countPhase(cs []Cluster, p Phase) int {
	n := 0
	for _, c := range cs {
		if c.Phase == p {
			n++
		}
	}
	return n
}
