package appfile

import (
	"context"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPlanRecordsDefinitionsAndRevisionHash(t *testing.T) {
	data, err := os.ReadFile("../../examples/multi-env/app.yaml")
	require.NoError(t, err)
	afs, err := Parse("app.yaml", data)
	require.NoError(t, err)
	clusters := readClusters(t, "../../examples/multi-env/clusters.yaml")
	plan, err := newTestPlanner(t, clusters).Plan(context.Background(), afs[0], PlanOptions{})
	require.NoError(t, err)
	var names []string
	for _, d := range plan.Definitions {
		require.Len(t, d.Hash, 64)
		names = append(names, d.Kind+"/"+d.Name)
	}
	require.Equal(t, []string{"component/webservice", "component/worker", "policy/override", "policy/topology",
		"trait/gateway", "trait/scaler", "workflow-step/deploy", "workflow-step/suspend"}, names)

	hash, err := RevisionHash(afs[0].App, plan.Definitions)
	require.NoError(t, err)
	again, err := RevisionHash(afs[0].App, plan.Definitions)
	require.NoError(t, err)
	require.Equal(t, hash, again)

	// A changed definition the app uses changes the revision.
	changed := append([]DefinitionRef(nil), plan.Definitions...)
	changed[0].Hash = "other"
	other, err := RevisionHash(afs[0].App, changed)
	require.NoError(t, err)
	require.NotEqual(t, hash, other)

	// So does the spec, and the publish version; labels do not.
	app := afs[0].App.DeepCopy()
	app.Labels = map[string]string{"team": "a"}
	same, err := RevisionHash(app, plan.Definitions)
	require.NoError(t, err)
	require.Equal(t, hash, same)
	app.Annotations = map[string]string{"app.oam.dev/publishVersion": "v2"}
	published, err := RevisionHash(app, plan.Definitions)
	require.NoError(t, err)
	require.NotEqual(t, hash, published)
	app.Spec.Components[0].Name = "front"
	renamed, err := RevisionHash(app, plan.Definitions)
	require.NoError(t, err)
	require.NotEqual(t, published, renamed)

}
