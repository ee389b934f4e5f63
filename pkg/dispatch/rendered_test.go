package dispatch

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/appfile"
	"github.com/ferryhq/ferry/pkg/cue"
	"github.com/ferryhq/ferry/pkg/definition"
)

// TestRenderedSize keeps what a revision stores of the 50-component benchmark app (five traits
// each) delivered to four clusters: it must stay far under the API server's 1.5 MiB object
// limit, and read back as it was written.
func TestRenderedSize(t *testing.T) {
	data, err := os.ReadFile("../appfile/testdata/bench/components-50.yaml")
	require.NoError(t, err)
	doc := string(data) + `  policies:
    - {name: fleet, type: topology, properties: {clusterLabelSelector: {env: prod}}}
  workflow:
    steps:
      - {name: prod, type: deploy, properties: {policies: [fleet]}}
`
	doc = strings.Replace(doc, "  name: many\n", "  name: many\n  namespace: shop\n", 1)
	afs, err := appfile.Parse("many.yaml", []byte(doc))
	require.NoError(t, err)
	reg, err := definition.Builtin()
	require.NoError(t, err)
	var clusters []appfile.Cluster
	for _, name := range []string{"eu-1", "eu-2", "us-1", "us-2"} {
		clusters = append(clusters, appfile.Cluster{Name: name, Labels: map[string]string{"env": "prod"}})
	}
	p := appfile.NewPlanner(appfile.Offline(appfile.OfflineOptions{Definitions: reg, Clusters: clusters}), appfile.Options{Engine: cue.NewEngine(cue.Options{})})
	plan, err := p.Plan(context.Background(), afs[0], appfile.PlanOptions{AppRevision: "many-v1", AppRevisionNum: 1})
	require.NoError(t, err)

	var objects []RenderedObject
	for _, sp := range plan.Steps {
		desired, _, err := DesiredObjects(DesiredOptions{App: AppRef{Name: "many", Namespace: "shop"}, Plan: plan, Step: sp, Revision: "many-v1",
			Normalize: func(m map[string]any) (*unstructured.Unstructured, error) {
				return &unstructured.Unstructured{Object: m}, nil
			}})
		require.NoError(t, err)
		for _, d := range desired {
			require.Equal(t, "many-v1", d.Object.GetAnnotations()[v1beta1.AnnotationAppRevision])
			objects = append(objects, RenderedObject{Step: sp.Name, Cluster: d.Object.GetNamespace(), Object: d.Object.Object})
		}
	}
	require.Len(t, objects, 4, "one ManifestWork per cluster")
	enc, err := EncodeRendered(objects)
	require.NoError(t, err)
	raw, err := json.Marshal(objects)
	require.NoError(t, err)
	t.Logf("50 components × 4 clusters: %d ManifestWorks, %d KiB of JSON, %d KiB compressed", enc.Objects, len(raw)>>10, len(enc.Data)>>10)
	require.Less(t, len(enc.Data), 256<<10, "well under the object size limit")

	back, err := DecodeRendered(enc)
	require.NoError(t, err)
	require.Len(t, back, len(objects))
	require.Equal(t, "eu-1", back[0].Cluster)
	require.Equal(t, "ManifestWork", back[0].Object["kind"])
	manifests := back[0].Object["spec"].(map[string]any)["workload"].(map[string]any)["manifests"].([]any)
	require.Len(t, manifests, 1+50*3, "the namespace, and per component a Deployment and its gateway's Service and Ingress")

	_, err = DecodeRendered(&v1beta1.RenderedObjects{Encoding: "zip", Data: enc.Data})
	require.ErrorContains(t, err, `unknown encoding "zip"`)
}
