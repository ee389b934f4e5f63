package appfile

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry/pkg/cue"
	"github.com/ferryhq/ferry/pkg/definition"
)

// fixedDecisions is a PlacementSource with set answers (the placement controller's part is
// tested for real in e2e).
type fixedDecisions map[string][]Decision

func (f fixedDecisions) Decisions(_ context.Context, namespace, placement string) ([]Decision, bool, error) {
	d, ok := f[namespace+"/"+placement]
	return d, ok, nil
}

const placementApp = `apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: {name: shop, namespace: team}
spec:
  components:
    - {name: web, type: worker, properties: {image: "web:1"}}
  policies:
    - name: fleet
      type: topology
      properties:
        placement:
          name: prod
          spec: {numberOfClusters: 3, clusterSets: [default]}
  workflow:
    steps:
      - {name: prod, type: deploy, properties: {policies: [fleet]}}
`

func planWith(t *testing.T, doc string, placements PlacementSource) (*Plan, error) {
	t.Helper()
	afs, err := Parse("app.yaml", []byte(doc))
	require.NoError(t, err)
	reg, err := definition.Builtin()
	require.NoError(t, err)
	src := Offline(OfflineOptions{Definitions: reg, Clusters: []Cluster{{Name: "eu-1"}, {Name: "eu-2"}, {Name: "us-1"}}})
	src.Placements = placements
	return NewPlanner(src, Options{Engine: cue.NewEngine(cue.Options{})}).Plan(context.Background(), afs[0], PlanOptions{})
}

// TestPlacementTopology: a topology policy's Placement decides the step's targets, in decision
// group order with the groups named; the inline spec becomes a Placement object the app owns;
// before any decision the step waits; offline the policy says it needs the hub.
func TestPlacementTopology(t *testing.T) {
	plan, err := planWith(t, placementApp, fixedDecisions{"team/prod": {
		{Cluster: "us-1", Group: "canary", GroupIndex: 0}, {Cluster: "eu-2", Group: "rest", GroupIndex: 1},
		{Cluster: "eu-1", Group: "rest", GroupIndex: 1}, {Cluster: "gone", Group: "rest", GroupIndex: 1}}})
	require.NoError(t, err)
	sp := plan.Steps[0]
	require.Empty(t, sp.Waiting)
	var got [][3]any
	for _, tp := range sp.Targets {
		got = append(got, [3]any{tp.Cluster, tp.Group, tp.GroupIndex})
	}
	require.Equal(t, [][3]any{{"us-1", "canary", 0}, {"eu-2", "rest", 1}, {"eu-1", "rest", 1}}, got,
		"decision order; a decided cluster that is not a ManagedCluster is left out")
	require.Len(t, plan.PolicyObjects, 1)
	placement := plan.PolicyObjects[0].Object
	require.Equal(t, "Placement", placement["kind"])
	meta := placement["metadata"].(map[string]any)
	require.Equal(t, "prod", meta["name"])
	require.Equal(t, "team", meta["namespace"])
	require.Equal(t, map[string]any{"numberOfClusters": int64(3), "clusterSets": []any{"default"}}, placement["spec"])

	plan, err = planWith(t, placementApp, fixedDecisions{})
	require.NoError(t, err)
	require.Empty(t, plan.Steps[0].Targets)
	require.Equal(t, "waiting for OCM to decide placement team/prod", plan.Steps[0].Waiting)

	_, err = planWith(t, placementApp, nil)
	require.ErrorContains(t, err, `placement "prod": its decisions are read from the hub; offline, preview with clusters or clusterLabelSelector instead`)

	both := placementApp[:len(placementApp)-len("  workflow:\n    steps:\n      - {name: prod, type: deploy, properties: {policies: [fleet]}}\n")]
	both += "        clusters: [eu-1]\n"
	_, err = planWith(t, both, fixedDecisions{})
	require.ErrorContains(t, err, "placement chooses the clusters: leave out clusters and clusterLabelSelector")
}
