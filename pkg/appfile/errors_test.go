package appfile

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry/pkg/cue"
	"github.com/ferryhq/ferry/pkg/definition"
)

const appHeader = `apiVersion: core.oam.dev/v1beta1
kind: Application
metadata:
  name: shop
spec:
`

// TestErrors checks that each class of mistake is reported with where it is (file:line:col),
// what it concerns (component, trait, policy, step) and what to change. Every expected line must
// appear, and no other.
func TestErrors(t *testing.T) {
	tests := []struct {
		name     string
		yaml     string
		clusters []Cluster
		want     []string
	}{
		{
			name: "yaml syntax error has line and column",
			yaml: "apiVersion: core.oam.dev/v1beta1\nkind: Application\nmetadata:\n  name: shop\n   bad: indent\n",
			want: []string{"app.yaml:5:7: invalid YAML: mapping values are not allowed in this context"},
		},
		{
			name: "an app name longer than a label value",
			yaml: "apiVersion: core.oam.dev/v1beta1\nkind: Application\nmetadata:\n  name: " + strings.Repeat("a", 64) +
				"\nspec:\n  components:\n    - {name: web, type: webservice, properties: {image: nginx}}\n",
			want: []string{"app.yaml:4:9: metadata.name has 64 characters, at most 63 are allowed: it becomes the app.oam.dev/name label of everything the app deploys"},
		},
		{
			name: "not an application",
			yaml: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n",
			want: []string{`app.yaml:1:1: expected apiVersion core.oam.dev/v1beta1 and kind Application, got apiVersion "v1" and kind "ConfigMap"`},
		},
		{
			name: "replication keys given twice and a selected component that does not exist",
			yaml: appHeader + "  components:\n    - {name: web, type: webservice, properties: {image: nginx}}\n" +
				"  policies:\n    - {name: r, type: replication, properties: {keys: [eu, eu], selector: [wbe]}}\n",
			want: []string{
				`app.yaml:9:60: policy "r" (replication): key "eu" is empty or given twice`,
				`app.yaml:9:76: policy "r" (replication): component "wbe" does not exist`,
			},
		},
		{
			name: "env-binding: an env twice, namespaces by labels, a cluster and a component that do not exist",
			yaml: appHeader + "  components:\n    - {name: web, type: webservice, properties: {image: nginx}}\n" +
				"  policies:\n    - name: e\n      type: env-binding\n      properties:\n        envs:\n" +
				"          - {name: a, placement: {clusterSelector: {name: nowhere}}}\n" +
				"          - {name: a}\n" +
				"          - {name: b, placement: {namespaceSelector: {labels: {team: x}}}}\n" +
				"          - {name: c, selector: {components: [wbe]}, patch: {components: [{name: wbe, properties: {}}]}}\n",
			want: []string{
				`app.yaml:13:34: policy "e" (env-binding), env "a": cluster "nowhere" does not exist (known clusters: local); add it with --clusters, or set allowEmpty: true`,
				`app.yaml:14:20: policy "e" (env-binding): env "a" is given twice`,
				`app.yaml:15:63: policy "e" (env-binding), env "b": selecting namespaces by labels is not supported: Ferry plans without reading the cluster; give the namespace's name`,
				`app.yaml:16:82: policy "e" (env-binding), env "c": component "wbe" does not exist in the Application; give its type to add it`,
				`app.yaml:16:47: policy "e" (env-binding), env "c": selector names unknown component "wbe"`,
			},
		},
		{
			name: "deploy properties the schema cannot check",
			yaml: appHeader + "  components:\n    - {name: web, type: webservice, properties: {image: nginx}}\n" +
				"  workflow:\n    steps:\n" +
				"      - {name: s1, type: deploy, properties: {rolloutStrategy: {type: Progressive, progressive: {maxConcurrency: half}}}}\n" +
				"      - {name: s2, type: deploy, properties: {rolloutStrategy: {type: ProgressivePerGroup, progressivePerGroup: {progressDeadline: soon}}}}\n",
			want: []string{
				`app.yaml:10:46: step "s1" (deploy): rolloutStrategy.progressive.maxConcurrency: "half" is neither a number nor a percentage such as 25%`,
				`app.yaml:11:46: step "s2" (deploy): rolloutStrategy.progressivePerGroup.progressDeadline: "soon" is not a duration such as 90s, 10m or None`,
			},
		},
		{
			name: "deprecated delivery steps naming what does not exist",
			yaml: appHeader + "  components:\n    - {name: web, type: webservice, properties: {image: nginx}}\n" +
				"  policies:\n    - {name: e, type: env-binding, properties: {envs: [{name: qa}]}}\n" +
				"  workflow:\n    steps:\n" +
				"      - {name: s1, type: apply-remaining, properties: {exceptions: [wbe]}}\n" +
				"      - {name: s2, type: deploy2env, properties: {env: prod}}\n" +
				"      - {name: s3, type: deploy2env, properties: {policy: x, env: qa}}\n" +
				"      - {name: s4, type: deploy2runtime}\n" +
				"      - {name: s5, type: deploy2runtime, properties: {clusters: [edge]}}\n",
			want: []string{
				`app.yaml:12:69: step "s1" (apply-remaining): component "wbe" does not exist in the Application`,
				`app.yaml:13:56: step "s2" (deploy2env): policy "e" has no env "prod"`,
				`app.yaml:14:59: step "s3" (deploy2env): policy "x" is not an env-binding policy of the Application`,
				`app.yaml:15:9: step "s4" (deploy2runtime): there is no managed cluster to deploy to; name clusters in properties.clusters, or add managed clusters (--clusters for dry-run)`,
				`app.yaml:16:65: step "s5" (deploy2runtime): cluster "edge" does not exist (known clusters: local); add it with --clusters, or set allowEmpty: true`,
			},
		},
		{
			name: "an override naming a component the app lacks without its type, and a bad pattern",
			yaml: appHeader + "  components:\n    - {name: web, type: webservice, properties: {image: nginx}}\n" +
				"  policies:\n    - {name: o, type: override, properties: {components: [{name: wbe, properties: {image: x}}, {name: \"[\", properties: {}}]}}\n",
			want: []string{
				`app.yaml:9:66: policy "o" (override): component "wbe" does not exist in the Application; give its type to add it`,
				`app.yaml:9:103: policy "o" (override): name "[" is not a valid pattern: syntax error in pattern`,
			},
		},
		{
			name: "unknown field",
			yaml: appHeader + "  components:\n    - name: web\n      type: webservice\n      trait: []\n",
			want: []string{`app.yaml:9:14: unknown field "spec.components[0].trait"`},
		},
		{
			name: "wrong field type",
			yaml: appHeader + "  components:\n    - name: web\n      type: webservice\n      dependsOn: db\n",
			want: []string{`app.yaml:9:18: spec.components[0].dependsOn: expected []string, got string`},
		},
		{
			name: "unknown component and trait types suggest the closest name",
			yaml: appHeader + `  components:
    - name: web
      type: webservise
      traits:
        - type: scalr
`,
			want: []string{
				`app.yaml:8:13: component "web": unknown component type "webservise" (did you mean "webservice"?)`,
				`app.yaml:10:17: component "web" (webservise): unknown trait type "scalr" (did you mean "scaler"?)`,
			},
		},
		{
			name: "an unknown type does not hide parameter errors elsewhere",
			yaml: appHeader + `  components:
    - name: web
      type: webservice
      properties:
        image: 42
      traits:
        - type: scalr
        - type: scaler
          properties: {replicas: many}
`,
			want: []string{
				`app.yaml:12:17: component "web" (webservice): unknown trait type "scalr" (did you mean "scaler"?)`,
				`app.yaml:10:16: component "web" (webservice): parameter image: expected string, got 42 (int)`,
				`app.yaml:14:34: component "web" (webservice): trait "scaler": parameter replicas: expected *1 | uint, got "many" (string)`,
			},
		},
		{
			name: "every parameter error at once, in components and traits",
			yaml: appHeader + `  components:
    - name: web
      type: webservice
      properties:
        image: 42
        ports:
          - port: "http"
        imagePullPolicy: Sometimes
        replica: 3
      traits:
        - type: scaler
          properties:
            replicas: -1
    - name: worker
      type: worker
      properties:
        cmd: ["run"]
`,
			want: []string{
				`app.yaml:10:16: component "web" (webservice): parameter image: expected string, got 42 (int)`,
				`app.yaml:13:26: component "web" (webservice): parameter imagePullPolicy: expected *"IfNotPresent" | "Always" | "Never", got "Sometimes" (string)`,
				`app.yaml:12:19: component "web" (webservice): parameter ports[0].port: expected uint & >0 & <65536, got "http" (string)`,
				`app.yaml:14:18: component "web" (webservice): parameter replica: unknown parameter`,
				`app.yaml:18:23: component "web" (webservice): trait "scaler": parameter replicas: expected *1 | uint, got -1 (int)`,
				`app.yaml:22:9: component "worker" (worker): parameter image: required but not given (expected string)`,
			},
		},
		{
			name: "duplicate names and unknown references",
			yaml: appHeader + `  components:
    - name: web
      type: webservice
      properties: {image: nginx}
      dependsOn: [db]
    - name: web
      type: worker
      properties: {image: nginx}
  workflow:
    steps:
      - name: ship
        type: deploy
        properties:
          policies: [nowhere]
      - name: tell
        type: notifcation
`,
			want: []string{
				`app.yaml:11:13: component "web": duplicate component name`,
				`app.yaml:10:19: component "web": dependsOn names unknown component "db"`,
				`app.yaml:21:15: step "tell": unknown workflow-step type "notifcation" (did you mean "notification"?)`,
				`app.yaml:19:22: step "ship" (deploy): policy "nowhere" does not exist in spec.policies`,
			},
		},
		{
			name: "trait that does not apply to the workload, and conflicting traits",
			yaml: appHeader + `  components:
    - name: job
      type: task
      properties: {image: busybox}
      traits:
        - type: scaler
          properties: {replicas: 2}
        - type: labels
          properties: {a: b}
        - type: only-labels
`,
			want: []string{
				`app.yaml:11:17: component "job" (task): trait "scaler": does not apply to this component (task, jobs.batch); it applies to deployments.apps, statefulsets.apps`,
				`app.yaml:15:17: component "job" (task): trait "only-labels": conflicts with trait "labels" on the same component; use one of them`,
			},
		},
		{
			name: "topology naming a missing cluster",
			yaml: appHeader + `  components:
    - name: web
      type: webservice
      properties: {image: nginx}
  policies:
    - name: prod
      type: topology
      properties:
        clusters: [prod-1, local]
`,
			clusters: []Cluster{{Name: "staging"}},
			want: []string{
				`app.yaml:14:9: policy "prod" (topology): cluster "prod-1" does not exist (known clusters: local, staging); add it with --clusters, or set allowEmpty: true`,
			},
		},
		{
			name: "label selector matching nothing",
			yaml: appHeader + `  components:
    - name: web
      type: webservice
      properties: {image: nginx}
  policies:
    - name: prod
      type: topology
      properties:
        clusterLabelSelector: {env: prod}
`,
			want: []string{
				`app.yaml:14:9: policy "prod" (topology): no cluster matches clusterLabelSelector {env=prod}; set allowEmpty: true to allow that`,
			},
		},
		{
			name: "patch conflict names the trait and field",
			yaml: appHeader + `  components:
    - name: web
      type: webservice
      properties: {image: nginx}
      traits:
        - type: broken-patch
`,
			want: []string{
				`app.yaml:11:11: component "web" (webservice): trait "broken-patch": patch the workload: spec.template.spec.containers[0].image: conflicting values: the object has "nginx", the patch sets "busybox" (mark the field with // +patchStrategy=retainKeys to let the patch win)`,
			},
		},
		{
			name: "template error names the definition and CUE position",
			yaml: appHeader + `  components:
    - name: web
      type: broken-template
`,
			want: []string{
				`app.yaml:7:7: component "web" (broken-template): template error in component "broken-template": compile template: testdata/errors/defs/broken-template.cue:11:12: output.data.x: conflicting values "two" and 1 (mismatched types string and int)`,
				`app.yaml:7:7: component "web" (broken-template): template error in component "broken-template": compile template: testdata/errors/defs/broken-template.cue:11:12: output.data.x: conflicting values "two" and int (mismatched types string and int)`,
			},
		},
	}
	reg, err := definition.Builtin()
	require.NoError(t, err)
	require.NoError(t, reg.LoadDir(filepath.Join("testdata", "errors", "defs")))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := NewPlanner(Offline(OfflineOptions{Definitions: reg, Clusters: tt.clusters}), Options{Engine: cue.NewEngine(cue.Options{})})
			err := planYAML(p, "app.yaml", tt.yaml)
			require.Error(t, err)
			got := strings.Split(strings.TrimSpace(err.Error()), "\n")
			if len(got) > 1 {
				got = got[1:] // "N problems:" header
			}
			for i := range got {
				got[i] = strings.TrimSpace(got[i])
			}
			require.ElementsMatch(t, tt.want, got)
		})
	}
}

func planYAML(p *Planner, file, text string) error {
	afs, err := Parse(file, []byte(text))
	if err != nil {
		return err
	}
	for _, af := range afs {
		if _, err := p.Plan(context.Background(), af, PlanOptions{}); err != nil {
			return err
		}
	}
	return nil
}

func TestParseRejectsEmptyInput(t *testing.T) {
	_, err := Parse("empty.yaml", []byte("# nothing\n"))
	require.EqualError(t, err, "empty.yaml: no Application found")
}

func TestPlanWithoutAppfile(t *testing.T) {
	_, err := newTestPlanner(t, nil).Plan(context.Background(), nil, PlanOptions{})
	require.Error(t, err)
}

func TestParseStopsAliasBombs(t *testing.T) {
	bomb := "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
	prev := "a"
	for _, name := range []string{"b", "c", "d", "e", "f", "g", "h"} {
		bomb += fmt.Sprintf("%s: &%s [*%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s]\n", name, name, prev, prev, prev, prev, prev, prev, prev, prev, prev, prev)
		prev = name
	}
	_, err := Parse("bomb.yaml", []byte(bomb))
	require.ErrorContains(t, err, "document too large after expanding aliases")
}

// TestTwoComponentsRenderingOneObjectIsAnError: the same object from two different components is
// still refused (they would overwrite each other); one component and its traits merge instead.
func TestTwoComponentsRenderingOneObjectIsAnError(t *testing.T) {
	p := newTestPlanner(t, nil)
	afs, err := Parse("app.yaml", []byte(appHeader+`  components:
    - {name: a, type: k8s-objects, properties: {objects: [{apiVersion: v1, kind: ConfigMap, metadata: {name: shared}}]}}
    - {name: b, type: k8s-objects, properties: {objects: [{apiVersion: v1, kind: ConfigMap, metadata: {name: shared}}]}}
`))
	require.NoError(t, err)
	_, err = p.Plan(context.Background(), afs[0], PlanOptions{})
	require.ErrorContains(t, err, `ConfigMap default/shared is rendered twice: by component "a" (output) and by component "b" (output)`)

	afs, err = Parse("app.yaml", []byte(appHeader+`  components:
    - name: web
      type: webservice
      properties: {image: nginx, ports: [{port: 80, expose: true}]}
      traits: [{type: expose, properties: {port: [80]}}]
`))
	require.NoError(t, err)
	plan, err := p.Plan(context.Background(), afs[0], PlanOptions{})
	require.NoError(t, err)
	require.Len(t, plan.Warnings, 1)
	require.Contains(t, plan.Warnings[0], `Service default/web is rendered by component "web" (outputs.webserviceExpose) and by component "web" trait "expose" (outputs.service); merged`)
}

// TestUnknownFieldsAsKubectlValidates: a field the Application's schema does not have is an
// error by default, a warning with ParseOptions{Validation: warn} (dropped, as the API server
// prunes it) and nothing with ignore; so is a missing apiVersion.
func TestUnknownFieldsAsKubectlValidates(t *testing.T) {
	doc := appHeader + "  components:\n    - name: web\n      type: webservice\n      properties: {image: nginx}\n      trait: []\n"
	_, err := Parse("app.yaml", []byte(doc))
	require.EqualError(t, err, `app.yaml:10:14: unknown field "spec.components[0].trait"`)

	afs, err := ParseWith("app.yaml", []byte(doc), ParseOptions{Validation: cue.ValidateWarn})
	require.NoError(t, err)
	require.Equal(t, []string{`app.yaml:10:14: unknown field "spec.components[0].trait", ignored`}, afs[0].Warnings)
	plan, err := newTestPlanner(t, nil).Plan(context.Background(), afs[0], PlanOptions{})
	require.NoError(t, err)
	require.Contains(t, plan.Warnings, `app.yaml:10:14: unknown field "spec.components[0].trait", ignored`)

	afs, err = ParseWith("app.yaml", []byte(doc), ParseOptions{Validation: cue.ValidateIgnore})
	require.NoError(t, err)
	require.Empty(t, afs[0].Warnings)

	// An Application without its apiVersion, as some of KubeVela's examples are written.
	noVersion := strings.TrimPrefix(appHeader, "apiVersion: core.oam.dev/v1beta1\n") + "  components: []\n"
	_, err = Parse("app.yaml", []byte(noVersion))
	require.ErrorContains(t, err, `expected apiVersion core.oam.dev/v1beta1 and kind Application, got apiVersion "" and kind "Application"`)
	afs, err = ParseWith("app.yaml", []byte(noVersion), ParseOptions{Validation: cue.ValidateWarn})
	require.NoError(t, err)
	require.Equal(t, []string{"app.yaml:1:1: apiVersion is missing; read as core.oam.dev/v1beta1"}, afs[0].Warnings)
}

// TestDefinitionRevisionNames: KubeVela's type@vN (a revision of a definition) renders with the
// definition as installed, with a warning: Ferry keeps no definition revisions.
func TestDefinitionRevisionNames(t *testing.T) {
	p := newTestPlanner(t, nil)
	plan := func(typ string) *Plan {
		t.Helper()
		afs, err := Parse("app.yaml", []byte(appHeader+"  components:\n    - {name: web, type: "+typ+", properties: {image: nginx}, traits: [{type: scaler@v1, properties: {replicas: 2}}]}\n"))
		require.NoError(t, err)
		plan, err := p.Plan(context.Background(), afs[0], PlanOptions{})
		require.NoError(t, err)
		return plan
	}
	versioned, current := plan("webservice@v3"), plan("webservice")
	require.Equal(t, current.Items(), versioned.Items())
	require.Contains(t, versioned.Warnings, `component type "webservice@v3": Ferry keeps no definition revisions; it renders with component "webservice" as installed`)
	require.Contains(t, versioned.Warnings, `trait type "scaler@v1": Ferry keeps no definition revisions; it renders with trait "scaler" as installed`)

	afs, err := Parse("app.yaml", []byte(appHeader+"  components:\n    - {name: web, type: webservice@latest, properties: {image: nginx}}\n"))
	require.NoError(t, err)
	_, err = p.Plan(context.Background(), afs[0], PlanOptions{})
	require.ErrorContains(t, err, `unknown component type "webservice@latest"`)
}

// TestRefObjectsByLabels: ref-objects takes every object of a kind with the labels, sorted by
// name; labels that match nothing are an error saying so; urls are an error saying why.
func TestRefObjectsByLabels(t *testing.T) {
	reg, err := definition.Builtin()
	require.NoError(t, err)
	objects, err := ParseObjects("objects.yaml", []byte(`apiVersion: v1
kind: ConfigMap
metadata: {name: b, namespace: default, labels: {shared: "yes"}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: a, namespace: default, labels: {shared: "yes", extra: "x"}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: c, namespace: other, labels: {shared: "yes"}}
`))
	require.NoError(t, err)
	p := NewPlanner(Offline(OfflineOptions{Definitions: reg, Objects: objects}), Options{Engine: cue.NewEngine(cue.Options{})})
	plan := func(selector string) (*Plan, error) {
		afs, err := Parse("app.yaml", []byte(appHeader+"  components:\n    - {name: refs, type: ref-objects, properties: {objects: [{resource: cm, labelSelector: "+selector+"}]}}\n"))
		require.NoError(t, err)
		return p.Plan(context.Background(), afs[0], PlanOptions{})
	}
	got, err := plan(`{shared: "yes"}`)
	require.NoError(t, err)
	var names []string
	for _, it := range got.Items() {
		names = append(names, it.Object["metadata"].(map[string]any)["name"].(string))
	}
	require.Equal(t, []string{"a", "b"}, names, "the default namespace's, by name")
	_, err = plan(`{shared: "no"}`)
	require.ErrorContains(t, err, `no ConfigMap in default has the labels {shared=no}`)

	// KubeVela's urls are declared, and refused with the reason rather than fetched.
	afs, err := Parse("app.yaml", []byte(appHeader+"  components:\n    - {name: refs, type: ref-objects, properties: {urls: [\"https://example.com/objects.yaml\"]}}\n"))
	require.NoError(t, err)
	_, err = p.Plan(context.Background(), afs[0], PlanOptions{})
	require.ErrorContains(t, err, `component "refs" (ref-objects): urls: Ferry does not fetch objects from URLs (https://example.com/objects.yaml)`)
}
