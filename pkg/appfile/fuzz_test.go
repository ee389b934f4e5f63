package appfile

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseAndPlan feeds arbitrary bytes through parsing and planning: whatever the input,
// Ferry returns a plan or an error and never panics. `make test` runs it for a few seconds.
func FuzzParseAndPlan(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/builtin/*.app.yaml")
	examples, _ := filepath.Glob("../../examples/*/app.yaml")
	for _, file := range append(seeds, examples...) {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("apiVersion: core.oam.dev/v1beta1\nkind: Application\nmetadata: {name: x}\nspec: {components: [{name: a, type: webservice, properties: {image: [1]}}]}"))
	f.Add([]byte("- a\n- &x [*x]\n"))
	f.Add([]byte("{"))
	p := newTestPlanner(f, readClusters(f, "testdata/builtin/clusters.yaml"))
	f.Fuzz(func(t *testing.T, data []byte) {
		afs, err := Parse("fuzz.yaml", data)
		if err != nil {
			return
		}
		for _, af := range afs {
			plan, err := p.Plan(context.Background(), af, PlanOptions{})
			if err == nil && plan == nil {
				t.Fatal("Plan returned neither a plan nor an error")
			}
		}
	})
}
