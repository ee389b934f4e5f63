package appfile

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestStepParameterFromInput: a required step parameter that an input supplies when the step
// runs (inputs[].parameterKey: the parameter, a part of it or a parent) is not reported
// missing; the other required parameters still are.
func TestStepParameterFromInput(t *testing.T) {
	const app = `apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: {name: inputs}
spec:
  components:
    - {name: web, type: webservice, properties: {image: nginx}}
  workflow:
    steps:
      - name: read
        type: read-object
        properties: {name: cfg, kind: ConfigMap}
        outputs: [{name: url, valueFrom: read.value.data.url}, {name: name, valueFrom: read.value.data.name}]
      - name: notify
        type: webhook
        inputs: [{from: url, parameterKey: %s}]
        properties: {data: {hello: world}}
      - name: read-more
        type: read-object
        inputs: [{from: name, parameterKey: name}]
        properties: {kind: ConfigMap}
`
	p := newTestPlanner(t, nil)
	plan := func(key string) error {
		afs, err := Parse("app.yaml", []byte(fmt.Sprintf(app, key)))
		require.NoError(t, err)
		_, err = p.Plan(context.Background(), afs[0], PlanOptions{})
		return err
	}
	require.NoError(t, plan("url.value"), "a part of the parameter")
	require.NoError(t, plan("url"), "the parameter itself")
	err := plan("data.url")
	require.Error(t, err, "an input elsewhere does not supply url")
	require.Contains(t, err.Error(), `app.yaml:16:21: step "notify" (webhook): parameter url: required but not given`)
	require.NotContains(t, err.Error(), "read-more", "name comes from an input")
}
