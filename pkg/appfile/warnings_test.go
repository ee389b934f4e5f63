package appfile

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/definition"
)

// TestWarningsNameWhatFerryIgnores: KubeVela fields Ferry accepts without acting on them are
// named in the plan's warnings, where the Application and its definitions set them.
func TestWarningsNameWhatFerryIgnores(t *testing.T) {
	reg, err := definition.Builtin()
	require.NoError(t, err)
	scaler, err := reg.Get(definition.KindTrait, "scaler")
	require.NoError(t, err)
	legacy, err := definition.FromTraitDefinition(&v1beta1.TraitDefinition{
		ObjectMeta: scaler.CR().(*v1beta1.TraitDefinition).ObjectMeta,
		Spec: v1beta1.TraitDefinitionSpec{Schematic: &v1beta1.Schematic{CUE: &v1beta1.CUESchematic{Template: scaler.Template}},
			WorkloadRefPath: "spec.workloadRef", ControlPlaneOnly: true},
	})
	require.NoError(t, err)
	reg.Add(legacy)
	afs, err := Parse("app.yaml", []byte(`apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: {name: old, namespace: default}
spec:
  components:
    - name: web
      type: webservice
      externalRevision: web-v7
      properties: {image: nginx}
      traits: [{type: scaler, properties: {replicas: 2}}]
`))
	require.NoError(t, err)
	plan, err := NewPlanner(Offline(OfflineOptions{Definitions: reg}), Options{}).Plan(context.Background(), afs[0], PlanOptions{})
	require.NoError(t, err)
	require.Equal(t, []string{
		`app.yaml:8:25: component "web": externalRevision is accepted and ignored: Ferry keeps no component revisions`,
		`trait "scaler" sets workloadRefPath, controlPlaneOnly, which Ferry accepts and ignores`,
	}, plan.Warnings)
}
