package appfile

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry/pkg/cue"
	"github.com/ferryhq/ferry/pkg/cue/sandbox"
	"github.com/ferryhq/ferry/pkg/definition"
	"github.com/ferryhq/ferry/pkg/memlimit"
)

// typicalApp is a webservice with four traits and a worker, deployed by label to three clusters
// with an override for one of them.
const typicalApp = `apiVersion: core.oam.dev/v1beta1
kind: Application
metadata:
  name: typical
  namespace: team
spec:
  components:
    - name: web
      type: webservice
      properties:
        image: nginx:1.27
        ports: [{port: 80, expose: true}]
        env: [{name: MODE, value: prod}]
        cpu: 250m
      traits:
        - type: scaler
          properties: {replicas: 2}
        - type: labels
          properties: {tier: web}
        - type: env
          properties: {env: {LOG: info}}
        - type: sidecar
          properties: {name: proxy, image: envoy:1.30}
    - name: jobs
      type: worker
      properties: {image: busybox}
  policies:
    - name: prod
      type: topology
      properties: {clusterLabelSelector: {env: prod}}
    - name: eu
      type: override
      properties:
        clusterLabelSelector: {region: eu}
        components:
          - name: web
            traits:
              - type: scaler
                properties: {replicas: 5}
`

var benchClusters = []Cluster{
	{Name: "eu-1", Labels: map[string]string{"env": "prod", "region": "eu"}},
	{Name: "us-1", Labels: map[string]string{"env": "prod", "region": "us"}},
	{Name: "ap-1", Labels: map[string]string{"env": "prod", "region": "ap"}},
}

// manyComponents is an Application of n webservices, each with scaler, labels, gateway,
// sidecar and env traits.
func manyComponents(n int) string {
	var b strings.Builder
	b.WriteString("apiVersion: core.oam.dev/v1beta1\nkind: Application\nmetadata:\n  name: many\nspec:\n  components:\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, `    - name: svc-%d
      type: webservice
      properties:
        image: ghcr.io/example/svc-%d:1.0.0
        ports: [{port: 8080}]
      traits:
        - type: scaler
          properties: {replicas: 2}
        - type: labels
          properties: {team: t%d}
        - type: gateway
          properties: {domain: svc-%d.example.com, http: {"/": 8080}}
        - type: sidecar
          properties: {name: proxy, image: envoy:1.30}
        - type: env
          properties: {env: {INDEX: "%d"}}
`, i, i, i, i, i)
	}
	return b.String()
}

func parseOne(b testing.TB, text string) *Appfile {
	afs, err := Parse("bench.yaml", []byte(text))
	require.NoError(b, err)
	return afs[0]
}

// BenchmarkRenderTypical measures the typical app: cold (templates compiled on the way),
// warm (templates compiled, every render evaluated: the cost of a changed app) and repeat
// (an unchanged app again: the render memo answers).
func BenchmarkRenderTypical(b *testing.B) {
	reg, err := definition.Builtin()
	require.NoError(b, err)
	af := parseOne(b, typicalApp)
	// 2 components on 3 clusters.
	const renders = 6
	b.Run("cold", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			p := NewPlanner(Offline(OfflineOptions{Definitions: reg, Clusters: benchClusters}), Options{Engine: cue.NewEngine(cue.Options{})})
			if _, err := p.Plan(context.Background(), af, PlanOptions{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, mode := range []struct {
		name    string
		results int
	}{{"warm", -1}, {"repeat", 0}} {
		b.Run(mode.name, func(b *testing.B) {
			p := NewPlanner(Offline(OfflineOptions{Definitions: reg, Clusters: benchClusters}), Options{Engine: cue.NewEngine(cue.Options{MaxResults: mode.results})})
			_, err := p.Plan(context.Background(), af, PlanOptions{})
			require.NoError(b, err)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := p.Plan(context.Background(), af, PlanOptions{}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/renders, "ns/component")
		})
	}
}

// BenchmarkRenderComponents shows the cost is linear in components: n webservices with five
// traits each, every render evaluated (no memo).
func BenchmarkRenderComponents(b *testing.B) {
	reg, err := definition.Builtin()
	require.NoError(b, err)
	for _, n := range []int{1, 10, 50} {
		af := parseOne(b, manyComponents(n))
		b.Run(fmt.Sprintf("components=%d", n), func(b *testing.B) {
			p := NewPlanner(Offline(OfflineOptions{Definitions: reg}), Options{Engine: cue.NewEngine(cue.Options{MaxResults: -1})})
			_, err := p.Plan(context.Background(), af, PlanOptions{})
			require.NoError(b, err)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := p.Plan(context.Background(), af, PlanOptions{}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/component")
		})
	}
}

// TestBenchmarkFixture keeps testdata/bench/components-50.yaml, which the `ferry dry-run`
// process benchmark reads, equal to the generated 50-component Application.
func TestBenchmarkFixture(t *testing.T) {
	checkGolden(t, "testdata/bench/components-50.yaml", []byte(manyComponents(50)))
}

// BenchmarkBuiltinDefinitions renders the golden Application of every built-in definition,
// warm (templates compiled, no render memo), one sub-benchmark per definition.
func BenchmarkBuiltinDefinitions(b *testing.B) {
	reg, err := definition.Builtin()
	require.NoError(b, err)
	clusters := readClusters(b, "testdata/builtin/clusters.yaml")
	for _, kind := range definition.Kinds {
		for _, def := range reg.List(kind) {
			data, err := os.ReadFile(filepath.Join("testdata", "builtin", def.Name+".app.yaml"))
			require.NoError(b, err)
			afs, err := Parse(def.Name+".app.yaml", data)
			require.NoError(b, err)
			var objects []map[string]any
			if data, err := os.ReadFile(filepath.Join("testdata", "builtin", def.Name+".objects.yaml")); err == nil {
				objects, err = ParseObjects(def.Name+".objects.yaml", data)
				require.NoError(b, err)
			}
			b.Run(string(kind)+"/"+def.Name, func(b *testing.B) {
				p := NewPlanner(Offline(OfflineOptions{Definitions: reg, Clusters: clusters, Objects: objects}), Options{Engine: cue.NewEngine(cue.Options{MaxResults: -1})})
				_, err := p.Plan(context.Background(), afs[0], PlanOptions{})
				require.NoError(b, err)
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					if _, err := p.Plan(context.Background(), afs[0], PlanOptions{}); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkConcurrentPlans plans the typical app from 8 goroutines at once, as a controller
// with --concurrency 8 does, on an engine with one CUE runtime (every render waits for the
// one before: the old engine-wide lock) and on one with a runtime per core. Compare ns/op:
// it is the time per plan with all goroutines working.
//
// It runs with the controller's GC target (memlimit.GCPercent, which ferry-controller sets
// under its memory limit). That is still harder on the collector than the controller: here
// the live heap is a few MiB, so a collection comes every few plans; a controller's informer
// caches make its live heap tens to hundreds of MiB, and collections that much rarer.
func BenchmarkConcurrentPlans(b *testing.B) {
	defer debug.SetGCPercent(debug.SetGCPercent(memlimit.GCPercent))
	reg, err := definition.Builtin()
	require.NoError(b, err)
	af := parseOne(b, typicalApp)
	for _, runtimes := range []int{1, runtime.GOMAXPROCS(0)} {
		b.Run(fmt.Sprintf("runtimes=%d", runtimes), func(b *testing.B) {
			planInParallel(b, NewPlanner(Offline(OfflineOptions{Definitions: reg, Clusters: benchClusters}),
				Options{Engine: cue.NewEngine(cue.Options{MaxResults: -1, Runtimes: runtimes})}), af)
		})
	}
}

// BenchmarkEvaluationBudget is the cost of bounding evaluations, warm (templates compiled, no
// memo): without a budget; with the budget in this process (the CLI: each render on its own
// goroutine with a timer); and in evaluator processes (the controller: each render sent over a
// pipe and its result decoded), one plan at a time and from 8 goroutines as a controller with
// --concurrency 8.
func BenchmarkEvaluationBudget(b *testing.B) {
	reg, err := definition.Builtin()
	require.NoError(b, err)
	pool := sandbox.New(sandbox.Options{})
	b.Cleanup(pool.Close)
	modes := []struct {
		name string
		opts cue.Options
	}{
		{"unbounded", cue.Options{MaxResults: -1, Budget: cue.Budget{Timeout: -1}}},
		{"in-process", cue.Options{MaxResults: -1}},
		{"sandbox", cue.Options{MaxResults: -1, Sandbox: pool, Prerender: true}},
	}
	for _, app := range []struct {
		name       string
		text       string
		components int
	}{{"typical", typicalApp, 6}, {"components=50", manyComponents(50), 50}} {
		af := parseOne(b, app.text)
		for _, mode := range modes {
			b.Run(app.name+"/"+mode.name, func(b *testing.B) {
				p := NewPlanner(Offline(OfflineOptions{Definitions: reg, Clusters: benchClusters}), Options{Engine: cue.NewEngine(mode.opts)})
				_, err := p.Plan(context.Background(), af, PlanOptions{})
				require.NoError(b, err)
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					if _, err := p.Plan(context.Background(), af, PlanOptions{}); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(app.components), "ns/component")
			})
		}
	}
	af := parseOne(b, typicalApp)
	for _, mode := range modes {
		b.Run("concurrent/"+mode.name, func(b *testing.B) {
			planInParallel(b, NewPlanner(Offline(OfflineOptions{Definitions: reg, Clusters: benchClusters}), Options{Engine: cue.NewEngine(mode.opts)}), af)
		})
	}
}

// planInParallel plans an app from 8 goroutines at once, as a controller with --concurrency 8
// does, after one plan outside the timing (templates compiled).
func planInParallel(b *testing.B, p *Planner, af *Appfile) {
	_, err := p.Plan(context.Background(), af, PlanOptions{})
	require.NoError(b, err)
	b.ReportAllocs()
	b.SetParallelism(8 / runtime.GOMAXPROCS(0))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := p.Plan(context.Background(), af, PlanOptions{}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
